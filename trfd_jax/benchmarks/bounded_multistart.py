"""Bounded multi-start at scale: time and memory per start, with and without bounds.

S starts of the chained Rosenbrock function (n = 2, budget 300) in one ``jax.vmap``-ed
call, unconstrained and with the unrelaxable box [−1.5, 0.8]ⁿ (the minimizer (1, 1) lies
outside, so the bounds are active at the solution).  For each S: the wall time of the
first call (trace + compile + run) and the median of ``--repeats`` warm calls, per start;
the memory XLA plans for the compiled program (arguments + outputs + temporaries,
``Compiled.memory_analysis``), per start; the ratio bounded / unconstrained.  Then
``--check`` starts are also solved one by one in a Python loop and compared with the
vmapped run (same nfev and status, and the largest difference in the final f).

    python -m trfd_jax.benchmarks.bounded_multistart [--starts 256 1024 4096] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax.benchmarks.machine import machine_info, save_json

N = 2
BUDGET = 300
LOWER, UPPER = -1.5, 0.8


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _solver(bounded: bool, options):
    import trfd_jax

    kwargs = dict(max_evals=BUDGET, options=options)
    if bounded:
        kwargs["bounds"] = (jnp.full(N, LOWER), jnp.full(N, UPPER))
    return lambda x0: trfd_jax.minimize(rosenbrock, x0, **kwargs)


def measure(starts: np.ndarray, bounded: bool, repeats: int, options, check: int) -> dict:
    solve = _solver(bounded, options)
    x0 = jnp.asarray(starts)
    if bounded:
        x0 = jnp.clip(x0, LOWER, UPPER)
    jax.clear_caches()
    batched = jax.vmap(solve)
    t = time.perf_counter()
    result = jax.block_until_ready(batched(x0))
    cold = time.perf_counter() - t
    warm = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = jax.block_until_ready(batched(x0))
        warm.append(time.perf_counter() - t)
    memory = jax.jit(batched).lower(x0).compile().memory_analysis()
    planned = None
    if memory is not None:
        planned = (
            memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
        )
    s = starts.shape[0]
    out = {
        "starts": s,
        "cold_s": cold,
        "warm_s": statistics.median(warm),
        "warm_ms_per_start": 1e3 * statistics.median(warm) / s,
        "memory_bytes": planned,
        "memory_bytes_per_start": None if planned is None else planned / s,
        "median_f": float(np.median(np.asarray(result.f))),
        "mean_nfev": float(np.mean(np.asarray(result.nfev))),
    }
    if check:
        loop = [solve(x0[k]) for k in range(check)]
        same = [
            int(result.nfev[k]) == int(r.nfev) and int(result.status[k]) == int(r.status)
            for k, r in enumerate(loop)
        ]
        out["loop_same_decisions"] = int(np.sum(same))
        out["loop_checked"] = check
        out["loop_max_f_difference"] = float(
            max(abs(float(result.f[k]) - float(r.f)) for k, r in enumerate(loop))
        )
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check", type=int, default=64, help="starts also run in a loop")
    parser.add_argument(
        "--fista-max-iter", type=int, default=None, help="Options.fista_max_iter (speed knob)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    import trfd_jax

    options = trfd_jax.Options()
    if args.fista_max_iter is not None:
        options = trfd_jax.Options(fista_max_iter=args.fista_max_iter)
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, jax {info['jax']} ({info['backend']})")
    print(
        f"chained Rosenbrock n={N}, budget {BUDGET}, box [{LOWER}, {UPPER}]^n, "
        f"fista_max_iter={options.fista_max_iter}, warm: median of {args.repeats}"
    )
    rng = np.random.default_rng(args.seed)
    rows = []
    header = (
        f"{'starts':>7} {'bounds':>7} {'cold [s]':>9} {'warm [s]':>9} {'ms/start':>9} "
        f"{'KB/start':>9} {'mean nfev':>10} {'loop = vmap':>12} {'max |Δf|':>9}"
    )
    print(header)
    for s in args.starts:
        starts = rng.uniform(-2.0, 2.0, (s, N))
        pair = {}
        for bounded in (False, True):
            r = measure(starts, bounded, args.repeats, options, min(args.check, s))
            pair[bounded] = r
            kb = r["memory_bytes_per_start"]
            print(
                f"{s:>7} {('yes' if bounded else 'no'):>7} {r['cold_s']:>9.2f} "
                f"{r['warm_s']:>9.3f} {r['warm_ms_per_start']:>9.3f} "
                f"{(kb or float('nan')) / 1024:>9.1f} {r['mean_nfev']:>10.1f} "
                f"{str(r.get('loop_same_decisions')) + '/' + str(r.get('loop_checked')):>12} "
                f"{r.get('loop_max_f_difference', float('nan')):>9.1e}"
            )
        time_ratio = pair[True]["warm_s"] / pair[False]["warm_s"]
        memory_ratio = None
        if pair[True]["memory_bytes"] and pair[False]["memory_bytes"]:
            memory_ratio = pair[True]["memory_bytes"] / pair[False]["memory_bytes"]
        print(
            f"{'':>7} bounded / unconstrained: time {time_ratio:.1f}x, memory "
            f"{'n/a' if memory_ratio is None else f'{memory_ratio:.2f}x'}"
        )
        rows.append(
            {
                "unconstrained": pair[False],
                "bounded": pair[True],
                "time_ratio": time_ratio,
                "memory_ratio": memory_ratio,
            }
        )
    results = {"machine": info, "config": vars(args) | {"out": str(args.out)}, "rows": rows}
    save_json(args.out, results)
    return results


if __name__ == "__main__":
    main()
