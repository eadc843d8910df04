"""The parts of a first ``jax.jit(jax.vmap(minimize))`` multi-start call: trace + lower,
XLA's compile, and the first run (no NEWUOA loop).

    python benchmarks/experiments/vmapped_cold.py [--starts 4096] [--subproblem exact]
        [--noise-level auto|none] [--repeats 3]

The multi-start benchmark's problem (extended Rosenbrock, n = 10, uniform starts in
[−2, 2]ⁿ, budget 1100).  Each repeat is a fresh process; prints the medians.  For A/B
checks of a change to the solver (run it with ``PYTHONPATH`` set to each worktree, the
repeats interleaved); the benchmark with its peer is
``python -m trfd_jax.benchmarks.multistart``.
"""

import argparse
import statistics
import subprocess
import sys

PROGRAM = r"""
import sys, time
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
import trfd_jax
from trfd_jax.benchmarks.multistart import extended_rosenbrock
starts, subproblem, noise_level = int(sys.argv[1]), sys.argv[2], sys.argv[3]
options = trfd_jax.Options(
    subproblem=subproblem, noise_level=None if noise_level == "none" else noise_level
)
x0 = jnp.asarray(np.random.default_rng(0).uniform(-2.0, 2.0, (starts, 10)))
solve = jax.jit(
    jax.vmap(lambda s: trfd_jax.minimize(extended_rosenbrock, s, max_evals=1100, options=options))
)
t0 = time.perf_counter(); lowered = solve.lower(x0)
t1 = time.perf_counter(); compiled = lowered.compile()
t2 = time.perf_counter(); jax.block_until_ready(compiled(x0))
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=4096)
    parser.add_argument("--subproblem", default="exact")
    parser.add_argument("--noise-level", default="auto", help='"auto" or "none"')
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    command = [sys.executable, "-c", PROGRAM, str(args.starts), args.subproblem, args.noise_level]
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        runs.append([float(v) for v in out.stdout.split()[-3:]])
    lower, compile_, run = (statistics.median(r[i] for r in runs) for i in range(3))
    print(
        f"S={args.starts} subproblem={args.subproblem} noise_level={args.noise_level}: "
        f"trace+lower {lower:.3f} s, XLA compile {compile_:.3f} s, first run {run:.3f} s, "
        f"total {lower + compile_ + run:.3f} s (medians of {args.repeats} fresh processes)"
    )


if __name__ == "__main__":
    main()
