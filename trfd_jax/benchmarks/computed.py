"""Computed against counted evaluations under ``vmap``: does a batch do only the work it
counts?

A host counter inside the objective (``jax.debug.callback``, one call per computed batch of
points, summed under a lock) counts the points at which the objective is actually
computed; the solver counts the evaluations it uses (the sum of ``Result.nfev``).  Their
ratio is 1 for a batch that computes nothing in vain.  Cases, default options, each in one
``jax.jit(jax.vmap(minimize))`` call:

* ``rosenbrock``: extended Rosenbrock, n = 10, budget 1,100, S uniform starts in [−2, 2]ⁿ
  (``--starts``, default 64 and 1,024);
* ``tuning``: two optax hyper-parameters per seed (``examples/tune_hyperparameters.py``,
  16 seeds, 300 training steps an evaluation, budget 60);
* ``calibration``: the ODE calibration (:mod:`trfd_jax.benchmarks.predator_prey`), 171
  starts, bounds, budget 700.

    python -m trfd_jax.benchmarks.computed [--cases rosenbrock tuning calibration]

The counter's callback slows the runs: the wall times it prints are not the solver's.
"""

from __future__ import annotations

import argparse
import importlib.util
import threading
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax.benchmarks.machine import machine_info, save_json


class Counter:
    """Counts the points an objective is computed at, from inside the compiled program."""

    def __init__(self, n: int):
        self.n = n
        self.points = 0
        self._lock = threading.Lock()  # XLA may run unordered callbacks concurrently

    def _add(self, x: np.ndarray) -> None:
        with self._lock:
            self.points += np.asarray(x).size // self.n

    def wrap(self, f):
        def counted(x, *args):
            jax.debug.callback(self._add, x)
            return f(x, *args)

        return counted


def _ratio(name: str, counter: Counter, solve, *inputs) -> dict:
    start = time.perf_counter()
    result = jax.block_until_ready(solve(*inputs))
    seconds = time.perf_counter() - start
    counted = int(jnp.sum(result.nfev))
    row = {
        "case": name,
        "computed": counter.points,
        "counted": counted,
        "ratio": counter.points / counted,
        "seconds_with_counter": seconds,
    }
    print(
        f"{name:<28}{counter.points:>12,}{counted:>12,}{row['ratio']:>8.3f}{seconds:>10.1f}",
        flush=True,
    )
    return row


def rosenbrock(starts: int) -> dict:
    import trfd_jax

    n = 10
    counter = Counter(n)

    def f(x):
        return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    x0 = jax.random.uniform(jax.random.key(0), (starts, n), minval=-2, maxval=2)
    solve = jax.jit(jax.vmap(lambda x: trfd_jax.minimize(counter.wrap(f), x, max_evals=1100)))
    return _ratio(f"rosenbrock n=10, S={starts}", counter, solve, x0)


def tuning() -> dict:
    import trfd_jax

    path = Path(__file__).resolve().parents[2] / "examples" / "tune_hyperparameters.py"
    spec = importlib.util.spec_from_file_location("tune_hyperparameters", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    counter = Counter(2)
    keys = jax.random.split(jax.random.key(0), example.SEEDS)
    data = jax.vmap(example.make_data)(keys)

    def tune(d):  # as the example's tune, with the counter inside the objective
        return trfd_jax.minimize(
            counter.wrap(lambda hyper: example.validation_loss(hyper, d)),
            jnp.array([-2.0, -2.0]),
            bounds=(jnp.array([-4.0, -4.0]), jnp.array([0.0, 1.0])),
            max_evals=60,
        )

    return _ratio(f"optax tuning, {example.SEEDS} seeds", counter, jax.jit(jax.vmap(tune)), data)


def calibration() -> dict:
    import trfd_jax
    from trfd_jax.benchmarks import predator_prey as pp

    problem = pp.calibration_problem()
    counter = Counter(problem.n)
    x0 = jnp.asarray(pp.starting_points(171))
    objective = counter.wrap(problem.objective)
    solve = jax.jit(
        jax.vmap(lambda u: trfd_jax.minimize(objective, u, bounds=problem.bounds, max_evals=700))
    )
    return _ratio("ODE calibration, S=171", counter, solve, x0)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["rosenbrock", "tuning", "calibration"],
        choices=["rosenbrock", "tuning", "calibration"],
    )
    parser.add_argument("--starts", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON here")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, jax {info['jax']} ({info['backend']})")
    print(f"{'case':<28}{'computed':>12}{'counted':>12}{'ratio':>8}{'s':>10}")
    rows = []
    if "rosenbrock" in args.cases:
        rows += [rosenbrock(s) for s in args.starts]
    if "tuning" in args.cases:
        rows.append(tuning())
    if "calibration" in args.cases:
        rows.append(calibration())
    save_json(args.out, {"machine": info, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
