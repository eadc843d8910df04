"""The cost of a first call: trfd_jax against optimistix's BFGS, each in fresh processes.

Each repeat starts a new Python process, imports the library, and times the first call
(trace + compile + run) and then a second call of the same solve (run only) on the
extended Rosenbrock function, n = 10, from the standard start.  trfd_jax runs with its
default options (noise handling on) and, as ``trfd_jax_smooth``, with
``Options(noise_level=None)`` (the paper's algorithm, a smaller program).  Medians over the repeats,
and the ratio trfd_jax / optimistix measured in the same run, of the first call and of
import + first call (what a new process waits for).  A top-level ``minimize`` compiles
with the solver's own CPU compiler options (XLA's legacy emitters).

    python -m trfd_jax.benchmarks.cold_start --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Sequence

_PROGRAM = r"""
import json, sys, time
t0 = time.perf_counter()
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
solver = sys.argv[1]
if solver.startswith("trfd_jax"):
    import trfd_jax
else:
    import optimistix as optx
imported = time.perf_counter() - t0

def f(x, args=None):
    return jnp.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2)

x0 = jnp.tile(jnp.array([-1.2, 1.0]), 5)

def solve(x0):
    if solver.startswith("trfd_jax"):
        # trfd_jax: the default options (noise handling on); trfd_jax_smooth: without it.
        options = trfd_jax.Options(noise_level=None) if solver == "trfd_jax_smooth" else None
        r = trfd_jax.minimize(f, x0, max_evals=1100, options=options)
        return r.f
    sol = optx.minimise(f, optx.BFGS(rtol=1e-8, atol=1e-8), x0, max_steps=1000, throw=False)
    return f(sol.value)

times = []
for _ in range(2):
    t = time.perf_counter()
    value = float(jax.block_until_ready(solve(x0)))
    times.append(time.perf_counter() - t)
print(json.dumps({"import": imported, "first": times[0], "second": times[1], "f": value}))
"""

SOLVERS = ("trfd_jax", "trfd_jax_smooth", "optimistix")


def measure(solver: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PROGRAM, solver], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict]] = {s: [] for s in SOLVERS}
    for _ in range(args.repeats):
        for solver in SOLVERS:  # interleaved, so that machine noise hits both alike
            runs[solver].append(measure(solver))
    summary = {}
    for solver, rows in runs.items():
        summary[solver] = {
            key: statistics.median(r[key] for r in rows) for key in ("import", "first", "second")
        }
        summary[solver]["f"] = rows[-1]["f"]
        s = summary[solver]
        print(
            f"{solver:>10}: import {s['import']:.2f} s, first call {s['first']:.2f} s, "
            f"second call {s['second'] * 1e3:.1f} ms, f = {s['f']:.3e} "
            f"(medians of {args.repeats} fresh processes)"
        )
    for name in ("trfd_jax", "trfd_jax_smooth"):
        ratio = summary[name]["first"] / summary["optimistix"]["first"]
        print(f"first call, {name} / optimistix: {ratio:.2f}")
        summary[f"ratio_first_{name}"] = ratio
        # What a user waits for in a new process: the import and the first call.
        total = statistics.median(r["import"] + r["first"] for r in runs[name])
        peer = statistics.median(r["import"] + r["first"] for r in runs["optimistix"])
        print(
            f"import + first call, {name} / optimistix: {total:.2f} s / {peer:.2f} s = "
            f"{total / peer:.2f}"
        )
        summary[f"ratio_import_and_first_{name}"] = total / peer
    summary["ratio_first"] = summary["ratio_first_trfd_jax"]
    return summary


if __name__ == "__main__":
    main()
