"""Loops a user writes, and what they compile: new data, new host functions.

* ``minimize(lambda x: loss(x, data_k), x0)`` over 20 new data sets ``data_k`` (a
  least-squares fit of 5 parameters to 50 noisy points of a sum of exponentials);
* ``minimize(black_box(fn_k), x0)`` over 20 new NumPy objectives (the same fit on the host);
* against both, the loop of NEWUOA (nlopt) over the same 20 problems, on the NumPy
  objective.

Printed: the solver programs compiled during the loop (:func:`compiled_programs`), the
first call's time (compilation included), the median of the later calls, and the whole
loop.

    python -m trfd_jax.benchmarks.recompile --out benchmarks/results/recompile.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

T = np.linspace(0.0, 4.0, 50)


def _data(rng: np.random.Generator) -> np.ndarray:
    theta = np.array([1.0, 0.5, 2.0, 1.5, 0.3]) * rng.uniform(0.8, 1.2, 5)
    y = theta[0] * np.exp(-theta[1] * T) + theta[2] * np.exp(-theta[3] * T) + theta[4]
    return y + 1e-3 * rng.standard_normal(T.shape)


def loss(x: jax.Array, y: jax.Array) -> jax.Array:
    t = jnp.asarray(T)
    model = x[0] * jnp.exp(-x[1] * t) + x[2] * jnp.exp(-x[3] * t) + x[4]
    return jnp.sum((model - y) ** 2)


def loss_np(x: np.ndarray, y: np.ndarray) -> float:
    model = x[0] * np.exp(-x[1] * T) + x[2] * np.exp(-x[3] * T) + x[4]
    return float(np.sum((model - y) ** 2))


X0 = np.array([0.5, 1.0, 1.0, 2.0, 0.0])


def _timed(calls: list) -> dict[str, Any]:
    from trfd_jax._src.iterate import compiled_programs

    before = compiled_programs()
    times, values = [], []
    for call in calls:
        start = time.perf_counter()
        values.append(float(call()))
        times.append(time.perf_counter() - start)
    return {
        "compiled": compiled_programs() - before,
        "first_s": times[0],
        "later_median_s": statistics.median(times[1:]),
        "loop_s": sum(times),
        "median_f": statistics.median(values),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="JSON file")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    import trfd_jax

    rng = np.random.default_rng(0)
    data = [_data(rng) for _ in range(args.calls)]
    rows = {
        "closure over new data": _timed(
            [lambda y=y: trfd_jax.minimize(lambda x: loss(x, jnp.asarray(y)), X0).f for y in data]
        ),
        "new black_box": _timed(
            [
                lambda y=y: trfd_jax.minimize(trfd_jax.black_box(lambda x: loss_np(x, y)), X0).f
                for y in data
            ]
        ),
    }
    try:
        import nlopt

        def newuoa(y: np.ndarray) -> float:
            opt = nlopt.opt(nlopt.LN_NEWUOA, X0.size)
            opt.set_min_objective(lambda x, grad: loss_np(x, y))
            opt.set_maxeval(100 * (X0.size + 1))
            opt.optimize(X0.copy())
            return opt.last_optimum_value()

        rows["NEWUOA (nlopt)"] = _timed([lambda y=y: newuoa(y) for y in data])
        rows["NEWUOA (nlopt)"]["compiled"] = 0
    except ImportError:
        pass
    print(f"{args.calls} calls, each a new problem (n = {X0.size}):")
    print("| loop | programs compiled | first call (s) | later calls, median (s) | loop (s) |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['compiled']} | {row['first_s']:.2f} | "
            f"{row['later_median_s']:.4f} | {row['loop_s']:.2f} |"
        )
    if args.out is not None:
        from trfd_jax.benchmarks.machine import machine_info, save_json

        save_json(args.out, {"machine": machine_info(), "calls": args.calls, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
