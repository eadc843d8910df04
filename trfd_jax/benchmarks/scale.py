"""Scale in n: time per iteration and peak memory of TRFD-S on a JAX-native objective.

Extended Rosenbrock in dimension n ∈ {10, 100, 1000} (by default), a fixed number of
iterations (``--iterations``, every one with a new gradient early on), budget 100 (n + 1).
Each n runs in a fresh subprocess so that its peak resident memory (``ru_maxrss``) is its
own.  Per iteration, TRFD-S costs n (+1) evaluations, a BFGS update (O(n²)) and, for the
exact subproblem, an eigendecomposition (O(n³)); the table shows how each n scales, for
each subproblem solver, and which one ``subproblem="auto"`` (the default) picks.

    python -m trfd_jax.benchmarks.scale [--dims 10 100 1000] [--repeats 5]
        [--subproblems exact truncated_cg]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from trfd_jax._src.options import EXACT_MAX_N
from trfd_jax.benchmarks.machine import machine_info


def _measure(n: int, iterations: int, repeats: int, subproblem: str) -> dict:
    import resource

    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    import trfd_jax

    def f(x):
        return jnp.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2)

    x0 = jnp.tile(jnp.array([-1.2, 1.0]), n // 2)
    options = trfd_jax.Options(max_iter=iterations, subproblem=subproblem)
    solve = jax.jit(lambda x: trfd_jax.minimize(f, x, options=options))
    t = time.perf_counter()
    result = jax.block_until_ready(solve(x0))
    compile_s = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = jax.block_until_ready(solve(x0))
        times.append(time.perf_counter() - t)
    wall = statistics.median(times)
    return {
        "n": n,
        "iterations": int(result.nit),
        "nfev": int(result.nfev),
        "wall_s": wall,
        "ms_per_iteration": 1e3 * wall / int(result.nit),
        "us_per_evaluation": 1e6 * wall / int(result.nfev),
        "compile_s": compile_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="*", default=[10, 100, 1000])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--subproblems",
        nargs="*",
        choices=["exact", "truncated_cg", "auto"],
        default=["exact", "truncated_cg"],
    )
    parser.add_argument("--subproblem", default="exact", help=argparse.SUPPRESS)  # child
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_measure(args.child, args.iterations, args.repeats, args.subproblem)))
        return []
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, jax {info['jax']} ({info['backend']})")
    print(f"extended Rosenbrock, {args.iterations} iterations, medians of {args.repeats}")
    print(
        f"{'n':>6} {'subproblem':<13}{'ms/iter':>11}{'µs/eval':>10}{'nfev':>8}"
        f"{'compile s':>11}{'peak MB':>10}  auto picks"
    )
    rows = []
    for n in args.dims:
        auto = "exact" if n <= EXACT_MAX_N else "truncated_cg"
        for subproblem in args.subproblems:
            out = subprocess.run(
                [sys.executable, "-m", "trfd_jax.benchmarks.scale", "--child", str(n),
                 "--iterations", str(args.iterations), "--repeats", str(args.repeats),
                 "--subproblem", subproblem],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row.update(subproblem=subproblem, auto=auto)
            rows.append(row)
            print(
                f"{n:>6} {subproblem:<13}{row['ms_per_iteration']:>11.3f}"
                f"{row['us_per_evaluation']:>10.2f}{row['nfev']:>8}{row['compile_s']:>11.2f}"
                f"{row['peak_rss_mb']:>10.0f}  {auto}",
                flush=True,
            )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "rows": rows}
        args.out.write_text(json.dumps(payload, indent=2))
    return rows


if __name__ == "__main__":
    main()
