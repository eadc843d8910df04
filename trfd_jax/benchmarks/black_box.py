"""Black-box bridge benchmarks: per-evaluation overhead, and a slow simulator in parallel.

(a) Overhead: a cheap NumPy objective (extended Rosenbrock, n = 10) through
    ``trfd_jax.black_box`` against nlopt NEWUOA on the same objective and budget 100 (n + 1):
    wall time per evaluation, and the share of it spent outside the objective.
(b) A simulator that sleeps 50 ms per call, n = 8: wall time serial, with 4 threads,
    4 processes and a local Dask cluster of 4 workers (the n points of a gradient reach the
    host in one batch, so an executor waits once per gradient instead of n times).

Medians over ``--repeats`` runs, compilation excluded (each configuration runs once first).

    python -m trfd_jax.benchmarks.black_box [--repeats 5]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import statistics
import time
from pathlib import Path

import jax
import numpy as np

from trfd_jax.benchmarks.machine import machine_info, save_json

SLEEP = 0.05


class Timed:
    """A NumPy objective that accumulates the time spent inside it."""

    def __init__(self, fn):
        self.fn = fn
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, x, grad=None):
        t = time.perf_counter()
        value = self.fn(np.asarray(x))
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return value


def rosenbrock_np(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2))


def simulator(x: np.ndarray) -> float:
    time.sleep(SLEEP)
    return rosenbrock_np(x)


def overhead(repeats: int, n: int = 10) -> dict:
    import nlopt

    import trfd_jax

    budget = 100 * (n + 1)
    x0 = np.tile([-1.2, 1.0], n // 2)
    rows = {}
    for name in ("trfd_jax", "newuoa"):
        per_eval, outside = [], []
        timed = Timed(rosenbrock_np)
        objective = trfd_jax.black_box(timed)  # one object: compiled once, then cached
        for k in range(repeats + 1):
            timed.seconds, timed.calls = 0.0, 0
            t = time.perf_counter()
            if name == "trfd_jax":
                trfd_jax.minimize(objective, x0, max_evals=budget)
            else:
                opt = nlopt.opt(nlopt.LN_NEWUOA, n)
                opt.set_min_objective(timed)
                opt.set_maxeval(budget)
                try:
                    opt.optimize(x0)
                except (nlopt.RoundoffLimited, RuntimeError):
                    pass
            wall = time.perf_counter() - t
            if k == 0:
                continue  # warm-up: compilation
            per_eval.append(wall / timed.calls)
            outside.append(1.0 - timed.seconds / wall)
        rows[name] = {
            "seconds_per_eval": statistics.median(per_eval),
            "share_outside_objective": statistics.median(outside),
            "evaluations": timed.calls,
        }
    rows["ratio"] = rows["trfd_jax"]["seconds_per_eval"] / rows["newuoa"]["seconds_per_eval"]
    return rows


def parallel(repeats: int, n: int = 8, budget: int = 46) -> dict:
    import trfd_jax

    x0 = np.full(n, 0.5)

    def run(executor) -> tuple[float, int]:
        objective = trfd_jax.black_box(simulator, executor=executor)
        trfd_jax.minimize(objective, x0, max_evals=budget)  # compile, warm the workers
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            result = trfd_jax.minimize(objective, x0, max_evals=budget)
            times.append(time.perf_counter() - t)
        return statistics.median(times), int(result.nfev)

    spawn = multiprocessing.get_context("spawn")
    rows = {}
    rows["serial"] = run(None)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        rows["4 threads"] = run(pool)
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=spawn) as pool:
        rows["4 processes"] = run(pool)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        pass
    else:
        with (
            LocalCluster(
                n_workers=4, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            rows["Dask, 4 workers"] = run(client.get_executor())
    return {k: {"wall_s": v[0], "nfev": v[1]} for k, v in rows.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, jax {info['jax']} ({info['backend']})")
    a = overhead(args.repeats)
    print("(a) overhead per evaluation, extended Rosenbrock n=10 in NumPy, budget 1100")
    for name in ("trfd_jax", "newuoa"):
        r = a[name]
        print(
            f"  {name:<10} {1e6 * r['seconds_per_eval']:8.1f} µs/eval   "
            f"{100 * r['share_outside_objective']:5.1f}% outside the objective"
        )
    print(f"  ratio trfd_jax / NEWUOA = {a['ratio']:.2f} (goal ≤ 2)")
    b = parallel(min(args.repeats, 3))
    serial = b["serial"]["wall_s"]
    print(f"(b) {int(SLEEP * 1000)} ms simulator, n = 8, medians of {min(args.repeats, 3)}")
    for name, r in b.items():
        print(
            f"  {name:<16} {r['wall_s']:6.2f} s  ({r['nfev']} evaluations, "
            f"{serial / r['wall_s']:.1f}x vs serial)"
        )
    results = {"machine": info, "overhead": a, "parallel": b}
    save_json(args.out, results)
    return results


if __name__ == "__main__":
    main()
