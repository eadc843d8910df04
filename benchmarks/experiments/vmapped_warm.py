"""Warm wall time of one ``jax.jit(jax.vmap(minimize))`` multi-start call (no NEWUOA loop).

    python benchmarks/experiments/vmapped_warm.py [--starts 4096] [--subproblem exact]

The multi-start benchmark's problem (extended Rosenbrock, n = 10, uniform starts in
[−2, 2]ⁿ, budget 1100); prints the median of ``--repeats`` warm calls and the total nfev
(equal nfev: the same runs).  For A/B checks of a change to the solver; the benchmark with
its peer is ``python -m trfd_jax.benchmarks.multistart``.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import trfd_jax
from trfd_jax.benchmarks.multistart import extended_rosenbrock

jax.config.update("jax_enable_x64", True)
parser = argparse.ArgumentParser()
parser.add_argument("--starts", type=int, default=4096)
parser.add_argument("--subproblem", default="exact")
parser.add_argument("--noise-level", default="auto", help='"auto" or "none"')
parser.add_argument("--repeats", type=int, default=5)
args = parser.parse_args()
x0 = jnp.asarray(np.random.default_rng(0).uniform(-2.0, 2.0, (args.starts, 10)))
noise_level = None if args.noise_level == "none" else args.noise_level
options = trfd_jax.Options(subproblem=args.subproblem, noise_level=noise_level)
solve = jax.jit(
    jax.vmap(lambda s: trfd_jax.minimize(extended_rosenbrock, s, max_evals=1100, options=options))
)
jax.block_until_ready(solve(x0))
times = []
for _ in range(args.repeats):
    start = time.perf_counter()
    result = jax.block_until_ready(solve(x0))
    times.append(time.perf_counter() - start)
print(
    f"S={args.starts} subproblem={args.subproblem} noise_level={noise_level}: "
    f"warm median {statistics.median(times):.3f} s "
    f"(min {min(times):.3f}), nfev total {int(np.sum(result.nfev))}"
)
