"""Benchmark problems for derivative-free optimization (the Moré–Wild 2009 test set)."""

from trfd_jax.benchmarks.more_wild import LeastSquaresProblem, more_wild_53

__all__ = ["LeastSquaresProblem", "more_wild_53"]
