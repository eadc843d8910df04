"""A slow simulator evaluated in parallel: serial, a process pool, and a local Dask cluster.

Each call sleeps 50 ms to mimic a simulator.  The n = 8 points of a finite-difference
gradient reach the host in one batch, so an executor runs them side by side.

    python examples/parallel_simulator.py
"""

import concurrent.futures
import multiprocessing
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import trfd_jax  # noqa: E402

N = 8
BUDGET = 60


def simulator(x: np.ndarray) -> float:
    time.sleep(0.05)
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def solve(executor=None):
    objective = trfd_jax.black_box(simulator, executor=executor)
    x0 = np.full(N, 0.5)
    trfd_jax.minimize(objective, x0, max_evals=BUDGET)  # compile (and warm the workers)
    t = time.perf_counter()
    result = trfd_jax.minimize(objective, x0, max_evals=BUDGET)
    return result, time.perf_counter() - t


def main():
    rows = []
    result, seconds = solve()
    rows.append(("serial", seconds, float(result.f)))
    context = multiprocessing.get_context("spawn")  # do not fork a process running JAX
    with concurrent.futures.ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        result, seconds = solve(pool)
    rows.append(("4 processes", seconds, float(result.f)))
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("(distributed is not installed: skipping the Dask run)")
    else:
        with (
            LocalCluster(
                n_workers=4, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            result, seconds = solve(client.get_executor())
        rows.append(("Dask, 4 workers", seconds, float(result.f)))
    print(f"{BUDGET} evaluations of a 50 ms simulator, n = {N}")
    for name, seconds, value in rows:
        print(f"  {name:<16} {seconds:6.2f} s   f = {value:.6g}")


if __name__ == "__main__":
    main()
