"""Bound-constrained runs against nlopt BOBYQA: final values on Moré–Wild problems.

Each problem gets the first paper's unrelaxable bounds l = 0.1, u = 20 on every variable
(x₀ clipped into the box) and the budget 100 (n + 1).  Both solvers see the objective
through a wrapper that records every evaluation (the table reports the best value the
wrapper saw, never a solver's own claim) and checks that no point left the box.
``--upper inf`` (or ``1e300``) gives the one-sided bound x ≥ 0.1, the form users write most.

    python -m trfd_jax.benchmarks.bounded [--problems 7 9 11 ...] [--upper inf]

Needs the ``bench`` extra (nlopt).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax.benchmarks.machine import machine_info, save_json
from trfd_jax.benchmarks.more_wild import more_wild_53

LOWER, UPPER = 0.1, 20.0
DEFAULT_PROBLEMS = (7, 9, 11, 13, 15, 25, 27, 36, 43, 46)


class Recorder:
    """Wraps a NumPy objective: best value seen, evaluation count, box violations."""

    def __init__(self, fun, lower: float = LOWER, upper: float = UPPER):
        self.fun = fun
        self.lower, self.upper = lower, upper
        self.best = np.inf
        self.count = 0
        self.outside = 0

    def __call__(self, x: np.ndarray) -> float:
        x = np.asarray(x, np.float64)
        self.count += 1
        self.outside += int(np.any(x < self.lower) or np.any(x > self.upper))
        value = float(self.fun(x))
        if np.isfinite(value):
            self.best = min(self.best, value)
        return value


def run_trfd(
    problem, x0: np.ndarray, budget: int, lower: float = LOWER, upper: float = UPPER
) -> Recorder:
    import trfd_jax

    recorder = Recorder(lambda x: np.asarray(jax.jit(problem.objective)(x)), lower, upper)

    def host(points, active):
        out = np.full(points.shape[0], np.nan)
        for i in np.flatnonzero(active):
            out[i] = recorder(points[i])
        return out

    class Recorded:
        """A masked-batch objective: only the points the solver counts reach the host."""

        def __call__(self, x):  # pragma: no cover - only evaluate_batch is used
            raise NotImplementedError

        def evaluate_batch(self, points, active, args):
            shape = jax.ShapeDtypeStruct(points.shape[:1], points.dtype)
            return jax.pure_callback(host, shape, points, active, vmap_method="sequential")

    result = trfd_jax.minimize(Recorded(), jnp.asarray(x0), bounds=(lower, upper), max_evals=budget)
    assert int(result.nfev) == recorder.count <= budget
    return recorder


def run_bobyqa(
    problem, x0: np.ndarray, budget: int, lower: float = LOWER, upper: float = UPPER
) -> Recorder:
    import nlopt

    f = jax.jit(problem.objective)
    recorder = Recorder(lambda x: np.asarray(f(jnp.asarray(x))), lower, upper)
    opt = nlopt.opt(nlopt.LN_BOBYQA, problem.n)
    opt.set_min_objective(lambda x, grad: recorder(x))
    opt.set_lower_bounds(np.full(problem.n, lower))
    opt.set_upper_bounds(np.full(problem.n, upper))
    opt.set_maxeval(budget)
    try:
        opt.optimize(x0)
    except (nlopt.RoundoffLimited, RuntimeError, ValueError):
        pass  # the recorder keeps the best value seen
    return recorder


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, nargs="*", default=list(DEFAULT_PROBLEMS))
    parser.add_argument(
        "--upper", type=float, default=UPPER, help="upper bound (inf: the one-sided x ≥ 0.1)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON here")
    args = parser.parse_args(argv)
    upper = args.upper
    jax.config.update("jax_enable_x64", True)
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, jax {info['jax']} ({info['backend']})")
    print(f"bounds [{LOWER}, {upper}]^n (unrelaxable), budget 100(n+1)")
    header = f"{'p':>3} {'problem':<22}{'n':>3}{'f(x0)':>12}{'trfd_jax':>13}{'BOBYQA':>13}  better"
    print(header)
    problems = {p.index: p for p in more_wild_53()}
    rows = []
    for index in args.problems:
        problem = problems[index]
        budget = 100 * (problem.n + 1)
        x0 = np.clip(problem.x0, LOWER, upper)
        trfd = run_trfd(problem, x0, budget, LOWER, upper)
        bobyqa = run_bobyqa(problem, x0, budget, LOWER, upper)
        assert trfd.outside == 0, "trfd_jax evaluated outside the box"
        scale = max(abs(trfd.best), abs(bobyqa.best), 1e-300)
        close = abs(trfd.best - bobyqa.best) <= 1e-8 * scale + 1e-14
        better = "tie" if close else ("trfd_jax" if trfd.best < bobyqa.best else "BOBYQA")
        f_x0 = float(problem.objective(jnp.asarray(x0)))
        print(
            f"{index:>3} {problem.name:<22}{problem.n:>3}{f_x0:>12.4g}"
            f"{trfd.best:>13.6g}{bobyqa.best:>13.6g}  {better}"
        )
        rows.append(
            {
                "p": index,
                "name": problem.name,
                "n": problem.n,
                "budget": budget,
                "f_x0": f_x0,
                "bounds": [LOWER, upper],
                "trfd_jax": trfd.best,
                "trfd_jax_nfev": trfd.count,
                "bobyqa": bobyqa.best,
                "bobyqa_nfev": bobyqa.count,
                "bobyqa_outside_box": bobyqa.outside,
                "better": better,
            }
        )
    wins = sum(r["better"] == "trfd_jax" for r in rows)
    losses = sum(r["better"] == "BOBYQA" for r in rows)
    print(f"trfd_jax better on {wins}, BOBYQA better on {losses}, ties {len(rows) - wins - losses}")
    save_json(args.out, {"machine": info, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
