"""Where the first call's compile time goes: the solver's program with parts stubbed out.

    python benchmarks/experiments/compile_ablation.py [--repeats 3]

Each variant runs in a fresh process: trace + lower, then XLA's compile, of ``minimize`` on
extended Rosenbrock (n = 10, budget 1100; the cold-start benchmark's problem), with a part
of the noise handling replaced by a constant (the program is then wrong for noisy f, and
smaller).  Prints medians.  A measurement of the program's size, not a benchmark of the
solver; the cold-start benchmark is ``python -m trfd_jax.benchmarks.cold_start``.
"""

import argparse
import statistics
import subprocess
import sys

PROGRAM = r"""
import sys, time, jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import trfd_jax
from trfd_jax._src import checks, iterate, noise, finite_differences as fd
v = sys.argv[1]
if "estimate" in v: noise.estimate_due = lambda p, s, r: jnp.zeros((), bool)
if "apply" in v: noise.apply_estimate = lambda problem, state, values, lengths: state
one = jnp.asarray(1, jnp.int32)
if "ecnoise" in v: noise.ecnoise = lambda values, max_spread=None: (jnp.std(values), one)
if "curvature" in v: noise.curvature_scale = lambda f, values, lengths, level: jnp.abs(f) + 1.0
if "switch" in v: fd.switchable = lambda o: False
if "erratic" in v: noise.erratic = lambda a, b, t: jnp.zeros((), a.dtype)
if "reliable" in v: noise.reliable_pair = lambda r, s, y: jnp.asarray(True)
def f(x):
    return jnp.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2)
x0 = jnp.tile(jnp.array([-1.2, 1.0]), 5)
options = trfd_jax.Options(noise_level=None) if v == "noise_level=None" else None
problem, x = checks.make_problem(f, x0, max_evals=1100, options=options)
t = time.perf_counter(); lowered = iterate._run_jit_default.lower(problem, x)
t1 = time.perf_counter(); lowered.compile(); t2 = time.perf_counter()
print(t1 - t, t2 - t1)
"""

VARIANTS = (
    "default",
    "noise_level=None",
    "apply (no noise estimate's update)",
    "estimate (never due)",
    "ecnoise (a std in its place)",
    "curvature (max(1, |f|) in its place)",
    "switch (no central differences)",
    "estimate+switch+erratic+reliable",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'variant':40s}{'trace+lower [s]':>16}{'XLA compile [s]':>16}")
    for variant in VARIANTS:
        runs = []
        for _ in range(args.repeats):
            out = subprocess.run(
                [sys.executable, "-c", PROGRAM, variant.split(" ")[0]],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append([float(v) for v in out.stdout.split()[-2:]])
        trace = statistics.median(r[0] for r in runs)
        compile_ = statistics.median(r[1] for r in runs)
        print(f"{variant:40s}{trace:>16.3f}{compile_:>16.3f}")


if __name__ == "__main__":
    main()
