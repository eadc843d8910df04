"""The first paper's §4.3 comparison: ODE calibration from 171 starts against BOBYQA.

The problem is :mod:`trfd_jax.benchmarks.predator_prey` (Rosenzweig–MacArthur in diffrax,
six parameters scaled by their order of magnitude, unrelaxable bounds 1 ≤ θ / ω ≤ 10, 171
Halton starts).  Every solver gets the paper's budget of 100 simplex gradients, 100 (n + 1)
= 700 evaluations, per start.

* **Data profiles** (Moré & Wild 2009) at τ = 1e-1, 1e-2, …, 1e-7 over the 171 starts:
  trfd_jax ``minimize`` (default options, and the paper's settings ``Options.paper()``),
  trfd_jax ``least_squares`` with the Gauss–Newton search (with the default BFGS model,
  and with the model Hessian 2JᵀJ, with and without the search), nlopt BOBYQA, Py-BOBYQA
  and DFO-LS (on the residuals).  trfd_jax solves each variant's 171 starts in one
  ``jax.jit(jax.vmap(...))`` call on the JAX-native objective and reports its own history
  (the best value after each evaluation); the peers see the same diffrax solve, jitted,
  through NumPy, and their histories come from a recorder of every call
  (:class:`trfd_jax.benchmarks.peers.Recorder`).  f_L is the lowest value any solver
  found from that start.
* **Bounds**, counted: every point at which any solver evaluated f is checked against the
  box — for trfd_jax by a host callback inside the objective of the profile runs (every
  point of the batch, finished starts included), for the peers by their recorder.
* **Wall clock**: the 171 starts in one ``jax.jit(jax.vmap(minimize))`` call, with
  compilation (after ``jax.clear_caches()``) and without, against a Python loop of nlopt
  BOBYQA over the same starts on the same objective; medians over ``--repeats`` runs, in
  one process, on one machine.  Then how the vmapped time grows with the number of starts
  (``--scaling``, default 16, 171 and 1024 Halton starts).

    python -m trfd_jax.benchmarks.calibration --out benchmarks/results/calibration

(about 25 minutes on 2 cores).  Needs the ``bench`` extra (nlopt, Py-BOBYQA, DFO-LS,
matplotlib) and diffrax.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax.benchmarks import predator_prey as pp
from trfd_jax.benchmarks.machine import machine_info, save_json
from trfd_jax.benchmarks.profiles import (
    TOLERANCES,
    data_profile_area,
    lowest_values,
    plot_profiles,
    solve_evaluations,
)

ALL_TOLERANCES: tuple[float, ...] = tuple(10.0**-k for k in range(1, 8))
"""τ = 1e-1 … 1e-7: the table; the figure shows :data:`TOLERANCES`."""
PEER_NAMES: tuple[str, ...] = ("bobyqa", "pybobyqa", "dfols")


@dataclasses.dataclass
class BoxCounter:
    """Counts the points f is evaluated at, and those outside the box, on the host."""

    lower: np.ndarray
    upper: np.ndarray
    points: int = 0
    outside: int = 0

    def _host(self, theta: np.ndarray) -> np.ndarray:
        flat = np.asarray(theta).reshape(-1, theta.shape[-1])
        self.points += flat.shape[0]
        self.outside += int(np.sum(np.any((flat < self.lower) | (flat > self.upper), axis=1)))
        return np.zeros(theta.shape[:-1], theta.dtype)

    def __call__(self, theta: jax.Array) -> jax.Array:
        """A zero that is computed on the host from θ (add it to f or F)."""
        shape = jax.ShapeDtypeStruct(theta.shape[:-1], theta.dtype)
        return jax.pure_callback(self._host, shape, theta, vmap_method="broadcast_all")


def trfd_variants(problem: pp.CalibrationProblem) -> dict[str, Callable]:
    """The trfd_jax runs of the profiles: name → ``solve(x0, counter) -> Result``."""
    import trfd_jax

    budget = pp.BUDGET_GRADIENTS * (problem.n + 1)

    def minimize(options):
        def solve(x0, counter):
            f = problem.objective
            fun = f if counter is None else (lambda t: f(t) + counter(t))
            return trfd_jax.minimize(
                fun, x0, bounds=problem.bounds, max_evals=budget, options=options
            )

        return solve

    def least_squares(options, search):
        def solve(x0, counter):
            F = problem.residuals
            fun = F if counter is None else (lambda t: F(t) + counter(t))
            result = trfd_jax.least_squares(
                fun, x0, bounds=problem.bounds, max_evals=budget, options=options, search=search
            )
            # least_squares reports the cost ½‖F‖²; the profiles compare f = ‖F‖².
            return result._replace(f=2.0 * result.f, history=2.0 * result.history)

        return solve

    gauss_newton_model = trfd_jax.Options(hessian="gauss_newton")
    return {
        "trfd_jax": minimize(trfd_jax.Options()),
        "trfd_jax (paper settings)": minimize(trfd_jax.Options.paper()),
        "trfd_jax least_squares (Gauss–Newton)": least_squares(None, "gauss_newton"),
        "trfd_jax least_squares, H = 2JᵀJ": least_squares(gauss_newton_model, "gauss_newton"),
        "trfd_jax least_squares, H = 2JᵀJ, no search": least_squares(gauss_newton_model, None),
    }


def run_trfd(problem: pp.CalibrationProblem, starts: np.ndarray, solve: Callable) -> dict:
    """One variant on every start, in one ``jit(vmap)`` call, with the box counted."""
    counter = BoxCounter(problem.lower, problem.upper)
    budget = pp.BUDGET_GRADIENTS * (problem.n + 1)
    t = time.perf_counter()
    result = jax.jit(jax.vmap(lambda x0: solve(x0, counter)))(jnp.asarray(starts))
    result = jax.tree.map(np.asarray, jax.block_until_ready(result))
    wall = time.perf_counter() - t
    assert int(result.nfev.max()) <= budget
    return {
        "history": result.history[:, :budget],
        "f": result.f,
        "x": result.x,
        "nfev": result.nfev,
        "status": result.status,
        "points_checked": counter.points,
        "outside": counter.outside,
        "wall_with_compile_s": wall,
    }


def run_peer(problem: pp.CalibrationProblem, starts: np.ndarray, name: str) -> dict:
    """A peer on every start, one start after the other, every call recorded."""
    from trfd_jax.benchmarks.peers import PEERS

    budget = pp.BUDGET_GRADIENTS * (problem.n + 1)
    peer = PEERS[name]
    reason = peer.unavailable(problem.bounds)
    if reason is not None:
        raise RuntimeError(reason)
    runs = [peer.run(problem, x0, budget, bounds=problem.bounds) for x0 in starts]
    return {
        "history": np.stack([r.history for r in runs]),
        "nfev": np.array([r.nfev for r in runs]),
        "overshoot": int(sum(r.overshoot for r in runs)),
        "points_checked": int(sum(r.nfev for r in runs)),
        "outside": int(sum(r.outside for r in runs)),
        "max_violation": float(max(r.max_violation for r in runs)),
        "wall_s": float(sum(r.wall_s for r in runs)),
        "version": peer.version(),
    }


def profiles(histories: dict[str, np.ndarray], f0: np.ndarray) -> dict[str, list[float]]:
    """Data-profile areas per solver at each τ of :data:`ALL_TOLERANCES`.

    Args:
        histories: per solver, shape (starts, budget): best f after each evaluation.
        f0: f(x₀) per start.
    """
    names = list(histories)
    per_start = [np.stack([histories[s][p] for s in names]) for p in range(len(f0))]
    n = np.full(len(f0), 6)
    f_low = lowest_values(per_start, f0)
    areas = {s: [] for s in names}
    for tau in ALL_TOLERANCES:
        t = solve_evaluations(per_start, f0, tau, f_low)
        for s, a in zip(names, data_profile_area(t, n), strict=True):
            areas[s].append(float(a))
    return areas


def time_trfd(
    problem: pp.CalibrationProblem,
    starts: np.ndarray,
    repeats: int,
    cold_repeats: int,
    shard: bool = False,
) -> dict:
    """Medians of the vmapped default run's wall time: ``cold_repeats`` first calls (after
    ``jax.clear_caches()``: trace and compile included) and ``repeats`` later calls.  With
    ``shard``, the starts are sharded over all of JAX's devices (a ``NamedSharding`` over
    a ``"starts"`` mesh axis; the count of starts must divide evenly)."""
    import trfd_jax

    budget = pp.BUDGET_GRADIENTS * (problem.n + 1)
    x0 = jnp.asarray(starts)
    if shard:
        mesh = jax.make_mesh((jax.device_count(),), ("starts",))
        x0 = jax.device_put(
            x0, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("starts"))
        )

    def make():
        return jax.jit(
            jax.vmap(
                lambda s: trfd_jax.minimize(
                    problem.objective, s, bounds=problem.bounds, max_evals=budget
                )
            )
        )

    cold, warm = [], []
    for _ in range(cold_repeats):
        jax.clear_caches()
        solve = make()
        t = time.perf_counter()
        jax.block_until_ready(solve(x0))
        cold.append(time.perf_counter() - t)
    for _ in range(repeats):
        t = time.perf_counter()
        result = jax.block_until_ready(solve(x0))
        warm.append(time.perf_counter() - t)
    return {
        "starts": len(starts),
        "devices": jax.device_count() if shard else 1,
        "wall_with_compile_s": statistics.median(cold),
        "wall_s": statistics.median(warm),
        "cold_repeats": cold_repeats,
        "repeats": repeats,
        "median_f": float(np.median(np.asarray(result.f))),
        "evaluations": int(np.sum(np.asarray(result.nfev))),
    }


def time_bobyqa(problem: pp.CalibrationProblem, starts: np.ndarray, repeats: int) -> dict:
    """Median wall time of a Python loop of nlopt BOBYQA over the starts (the objective is
    the same diffrax solve, jitted once, called with NumPy vectors)."""
    import nlopt

    budget = pp.BUDGET_GRADIENTS * (problem.n + 1)
    f = jax.jit(problem.objective)
    f(jnp.asarray(starts[0])).block_until_ready()  # compile outside the timing
    times, best = [], []
    for _ in range(repeats):
        best = []
        t = time.perf_counter()
        for x0 in starts:
            seen = [np.inf]

            def objective(x, grad, seen=seen):
                value = float(f(x))
                if value < seen[0]:  # NaN compares False: never best
                    seen[0] = value
                return value

            opt = nlopt.opt(nlopt.LN_BOBYQA, problem.n)
            opt.set_min_objective(objective)
            opt.set_lower_bounds(problem.lower)
            opt.set_upper_bounds(problem.upper)
            opt.set_maxeval(budget)
            try:
                opt.optimize(x0)
            except (nlopt.RoundoffLimited, RuntimeError, ValueError):
                pass  # the best value seen stands
            best.append(seen[0])
        times.append(time.perf_counter() - t)
    return {
        "starts": len(starts),
        "wall_s": statistics.median(times),
        "median_f": float(np.median(best)),
    }


def _table(areas: dict[str, list[float]]) -> str:
    width = max(len(s) for s in areas) + 2
    head = "solver".ljust(width) + "".join(f"{f'τ=1e-{k}':>9}" for k in range(1, 8))
    lines = [head]
    for s, row in areas.items():
        lines.append(s.ljust(width) + "".join(f"{a:>9.3f}" for a in row))
    return "\n".join(lines)


PARTS = ("profiles", "wallclock", "scaling")


def status_counts(status: np.ndarray) -> dict[int, int]:
    """How many starts ended with each status code (plain ints: JSON keys)."""
    codes, counts = np.unique(np.asarray(status), return_counts=True)
    return {int(c): int(k) for c, k in zip(codes, counts, strict=True)}


def run_profiles(
    problem: pp.CalibrationProblem, starts: np.ndarray, peers: list[str], out: Path | None
) -> dict[str, Any]:
    """The data profiles and the bounds count (every trfd_jax variant and peer)."""
    f = jax.jit(problem.objective)
    f0 = np.array([float(f(s)) for s in starts])
    runs: dict[str, dict] = {}
    for name, solve in trfd_variants(problem).items():
        runs[name] = run_trfd(problem, starts, solve)
        print(f"  {name}: {runs[name]['wall_with_compile_s']:.1f} s (compile included)", flush=True)
    for name in peers:
        runs[name] = run_peer(problem, starts, name)
        print(f"  {name}: {runs[name]['wall_s']:.1f} s", flush=True)
    histories = {name: run["history"] for name, run in runs.items()}
    areas = profiles(histories, f0)
    print(f"\nData-profile areas (κ ≤ 100 simplex gradients, {len(starts)} starts):")
    print(_table(areas))
    per_start = [np.stack([h[p] for h in histories.values()]) for p in range(len(f0))]
    f_low = lowest_values(per_start, f0)
    print(f"\nf_L: median {np.median(f_low):.6g}, min {f_low.min():.6g}")
    print("evaluations outside the bounds (points checked):")
    for name, run in runs.items():
        worst = run.get("max_violation", 0.0)
        print(f"  {name}: {run['outside']} of {run['points_checked']} (farthest {worst:.1e})")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            out / "histories.npz",
            solvers=np.array(list(histories)),
            histories=np.stack(list(histories.values())),
            f0=f0,
            starts=starts,
        )
        plot_profiles(
            per_start,
            f0,
            np.full(len(f0), problem.n),
            list(histories),
            out / "data_profiles.png",
            tolerances=TOLERANCES,
            title=f"Rosenzweig–MacArthur calibration, {len(starts)} starts, unrelaxable bounds",
        )
    return {
        "tolerances": ALL_TOLERANCES,
        "areas": areas,
        "outside": {
            name: [run["outside"], run["points_checked"], run.get("max_violation", 0.0)]
            for name, run in runs.items()
        },
        "final_f_median": {n: float(np.median(np.min(h, axis=1))) for n, h in histories.items()},
        "status_counts": {
            name: status_counts(run["status"]) for name, run in runs.items() if "status" in run
        },
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=171)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scaling", type=int, nargs="*", default=[16, 171, 1024])
    parser.add_argument(
        "--scaling-repeats", type=int, default=3, help="warm calls per size (one cold call)"
    )
    parser.add_argument("--peers", nargs="*", default=list(PEER_NAMES))
    parser.add_argument("--out", type=Path, default=None, help="folder for JSON and PNG")
    parser.add_argument(
        "--shard", action="store_true", help="wall clock: shard the starts over all devices"
    )
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, jax {info['jax']} ({info['backend']})")
    print(f"devices: {info['devices']}")
    problem = pp.calibration_problem()
    starts = pp.starting_points(args.starts)
    budget = pp.BUDGET_GRADIENTS * (problem.n + 1)
    truth = float(
        jax.jit(problem.objective)(jnp.asarray(pp.THETA_TRUE) / jnp.asarray(pp.MAGNITUDE))
    )
    print(f"{len(starts)} starts, budget {budget}, f at the ground truth {truth:.6g}")
    results: dict[str, Any] = {
        "machine": info,
        "problem": {
            "theta_true": pp.THETA_TRUE,
            "magnitude": pp.MAGNITUDE,
            "starts": len(starts),
            "budget": budget,
            "tolerance": pp.TOLERANCE,
            "max_steps": pp.MAX_STEPS,
        },
        "repeats": args.repeats,
    }
    if "profiles" in args.parts:
        results.update(run_profiles(problem, starts, args.peers, args.out))
    if "wallclock" in args.parts:
        tr = time_trfd(problem, starts, args.repeats, args.repeats, shard=args.shard)
        results["timing"] = {"trfd_jax": tr}
        line = (
            f"\nwall clock, {len(starts)} starts, medians of {args.repeats}: "
            f"trfd_jax jit(vmap) {tr['wall_with_compile_s']:.2f} s cold, {tr['wall_s']:.2f} s warm"
        )
        if "bobyqa" in args.peers:
            results["timing"]["bobyqa_loop"] = time_bobyqa(problem, starts, args.repeats)
            bob = results["timing"]["bobyqa_loop"]["wall_s"]
            line += (
                f"; BOBYQA loop {bob:.2f} s: ratio {bob / tr['wall_with_compile_s']:.2f}x cold, "
                f"{bob / tr['wall_s']:.2f}x warm"
            )
        print(line, flush=True)
    if "scaling" in args.parts:
        print(
            f"vmapped time against the number of starts (1 cold call, {args.scaling_repeats} warm):"
        )
        results["scaling"] = []
        for count in args.scaling:
            row = time_trfd(problem, pp.starting_points(count), args.scaling_repeats, 1)
            results["scaling"].append(row)
            print(
                f"  {count:>5} starts: {row['wall_with_compile_s']:.2f} s cold, "
                f"{row['wall_s']:.2f} s warm ({1e3 * row['wall_s'] / count:.1f} ms per start)",
                flush=True,
            )
    if args.out is not None:
        # A run of some parts updates the others' results already in the folder.
        path = args.out / "calibration.json"
        if path.exists() and set(args.parts) != set(PARTS):
            results = {**json.loads(path.read_text()), **results}
        save_json(path, results)
        print(f"wrote {args.out}")
    return json.loads(json.dumps(results, default=float))


if __name__ == "__main__":
    main()
