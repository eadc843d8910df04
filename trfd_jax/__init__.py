"""trfd_jax: derivative-free optimization with finite-difference trust regions (TRFD-S).

The public API; the work lives in ``trfd_jax._src``.
"""

from trfd_jax._src.algorithm import gradient_step, init, step, terminate, trust_region_step
from trfd_jax._src.black_box import BlackBox, black_box
from trfd_jax._src.observe import IterationSummary
from trfd_jax._src.options import Options
from trfd_jax._src.problem import Problem
from trfd_jax._src.search import GaussNewtonSearch, ModelSearch, SearchStep
from trfd_jax._src.sets import (
    Box,
    ConvexSet,
    HalfSpace,
    Intersection,
    L1Ball,
    L2Ball,
    NonNegative,
    Projection,
    Simplex,
)
from trfd_jax._src.solver import Result, least_squares, make_problem, minimize, result, run
from trfd_jax._src.state import State, StepKind
from trfd_jax._src.status import Status, status_message
from trfd_jax._src.trust_region_subproblem import solve_trust_region_subproblem

__all__ = [
    "BlackBox",
    "Box",
    "ConvexSet",
    "GaussNewtonSearch",
    "HalfSpace",
    "Intersection",
    "IterationSummary",
    "L1Ball",
    "L2Ball",
    "ModelSearch",
    "NonNegative",
    "Options",
    "Problem",
    "Projection",
    "Result",
    "SearchStep",
    "Simplex",
    "State",
    "Status",
    "StepKind",
    "black_box",
    "gradient_step",
    "init",
    "least_squares",
    "make_problem",
    "minimize",
    "result",
    "run",
    "solve_trust_region_subproblem",
    "status_message",
    "step",
    "terminate",
    "trust_region_step",
]

__version__ = "0.1.0"
