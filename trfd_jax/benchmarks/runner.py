"""Moré–Wild data-profile benchmark: trfd_jax against its peers, same problems and budget.

    python -m trfd_jax.benchmarks run --set unconstrained|bounded \\
        [--noise 1e-3 --noise-kind relative|absolute] \\
        [--solvers trfd_jax newuoa bobyqa cobyqa pybobyqa dfols nomad lbfgsb] \\
        [--problems 1 2 3] [--out benchmarks/results/morewild] [--trfd-option fd_step_init=1e-2]
    python -m trfd_jax.benchmarks profile --out benchmarks/results/morewild/unconstrained

``run`` solves the chosen problems of the Moré–Wild set (Moré & Wild 2009) with every chosen
solver, budget 100 (n_p + 1) evaluations, from x₀ (``--set bounded``: bounds l = 0.1,
u = 20 on every variable, as in the first paper, with x₀ clipped into the box), and writes
into ``OUT/<set>[-noise-<kind>-<level>]/``:

* ``histories.npz``: one array per solver, ``history_<solver>`` of shape (P, max B_p), the
  best value after each evaluation (NaN past a problem's budget), and ``problems``, ``n``,
  ``budget``, ``f0`` (noiseless f(x₀));
* ``metadata.json``: machine, package versions, options, the budget rule, the noise model,
  per-run evaluation counts, overshoots, wall times and messages, solvers skipped and why;
* ``table.md`` (areas under the data profiles per solver and τ), ``per_problem.csv``,
  ``data_profiles.png`` and ``performance_profiles.png`` (see :mod:`profiles`).

``profile`` re-draws the figures and tables from saved histories.

**trfd_jax** solves all problems of one dimension n in ONE ``jax.jit(jax.vmap(minimize))``
call: the objective ``f(x, args)`` picks the problem with ``jax.lax.switch`` on an index
passed (batched) through ``args``; problems of equal n share the budget 100 (n + 1).  Its
history is ``Result.history``.  Peers: :mod:`peers`.

**Noise** (``--noise ξ``): f̃(x) = f(x) + e, e uniform on [−√3 σ, √3 σ], σ = ξ max(1,
|f(x₀)|) (relative) or ξ (absolute).  The profiles use the *noiseless* f at the point each
solver holds as best (lowest noisy value so far) after each evaluation; f_L is the lowest
such value.  The peers draw e from a seeded NumPy generator at every call (:mod:`peers`).
For trfd_jax the noisy objective is JAX-native: e is drawn from a key made by folding the
seed, the problem number and the 32-bit words of the bit pattern of x into
``jax.random.fold_in`` — deterministic, and independent between distinct points (the same
point always gets the same e).  Its noiseless history is built inside the same jitted call
by a loop over the public ``init``/``step``/``terminate`` API that evaluates the noiseless
f at the best point after ``init`` and after every iteration: when the best point changes
more than once within one iteration (e.g. two points of one finite-difference gradient
each lower the noisy best), the evaluations before the last change are credited with the
previous best point's value, so the history is exact at the end of every iteration and
otherwise late by less than one iteration; such iterations are counted in the metadata
(``inexact_iterations``).  ``init`` counts as an iteration whose previous best is x₀, its
first evaluation, so the history starts at f(x₀) as every peer's does.

Reference:
    J. J. Moré and S. M. Wild, "Benchmarking derivative-free optimization algorithms",
    SIAM J. Optim. 20(1):172–191, 2009.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from trfd_jax.benchmarks import profiles
from trfd_jax.benchmarks.machine import machine_info
from trfd_jax.benchmarks.more_wild import LeastSquaresProblem, more_wild_53
from trfd_jax.benchmarks.peers import PEERS, Noise, numpy_objective

__all__ = [
    "BOX",
    "SETS",
    "SOLVERS",
    "BenchmarkRun",
    "budget",
    "load",
    "main",
    "noisy_jax",
    "report",
    "run_benchmark",
    "run_trfd_jax",
    "start_point",
]

SETS = ("unconstrained", "bounded")
BOX = (0.1, 20.0)
"""The bounds of ``--set bounded`` on every variable (first paper)."""


@dataclasses.dataclass(frozen=True)
class TrfdVariant:
    """A configuration of trfd_jax run by the benchmark.

    Attributes:
        least_squares: solve with ``trfd_jax.least_squares`` on the residuals F (the
            finite differences then give the Jacobian), else ``minimize`` on f = ‖F‖².
        search: ``"gauss_newton"``, ``"model"`` (``ModelSearch``) or None.
        hessian: ``Options.hessian`` for this variant (None: the run's options).
        options: other ``Options`` fields set for this variant, as (name, value) pairs.
    """

    least_squares: bool = False
    search: str | None = None
    hessian: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    def make_search(self) -> Any:
        import trfd_jax

        return {
            None: None,
            "gauss_newton": trfd_jax.GaussNewtonSearch(),
            "model": trfd_jax.ModelSearch(),
        }[self.search]


#: trfd_jax variants: plain TRFD-S (the paper), the second paper's Gauss–Newton search on
#: the least-squares form, the same with the Gauss–Newton model Hessian 2JᵀJ, and the
#: general-purpose model search on f.
TRFD_VARIANTS = {
    "trfd_jax": TrfdVariant(),
    "trfd_jax_gn": TrfdVariant(least_squares=True, search="gauss_newton"),
    "trfd_jax_gn_hessian": TrfdVariant(
        least_squares=True, search="gauss_newton", hessian="gauss_newton"
    ),
    "trfd_jax_model": TrfdVariant(search="model"),
    # The solver as it was before repeated points were reused (issue 10), for comparisons.
    "trfd_jax_noreuse": TrfdVariant(options=(("reuse_evaluations", False),)),
}

SOLVERS = (*TRFD_VARIANTS, *PEERS)
DEFAULT_SOLVERS = ("trfd_jax", *PEERS)
BUDGET_RULE = "100 (n + 1) evaluations (100 simplex gradients)"


def budget(n: int) -> int:
    """The evaluation budget of a problem in dimension n: 100 (n + 1)."""
    return 100 * (n + 1)


def start_point(problem: LeastSquaresProblem, bounds: tuple[float, float] | None) -> np.ndarray:
    """x₀ of the problem, clipped into the box when there is one."""
    x0 = np.asarray(problem.x0, np.float64)
    return x0 if bounds is None else np.clip(x0, *bounds)


# ---------------------------------------------------------------------------------------
# trfd_jax: one jitted, vmapped call per dimension n
# ---------------------------------------------------------------------------------------


def noisy_jax(x: jax.Array, key: jax.Array, sigma: jax.Array) -> jax.Array:
    """e(x), uniform on [−√3 σ, √3 σ], from ``key`` and the bit pattern of x (JAX-native).

    Every 32-bit word of x (``lax.bitcast_convert_type``) is folded into ``key`` with
    ``jax.random.fold_in``, so e is a deterministic function of x: equal points get equal
    noise, distinct points independent draws.
    """
    words = lax.bitcast_convert_type(x, jnp.uint32).reshape(-1)
    key = lax.fori_loop(0, words.shape[0], lambda i, k: jax.random.fold_in(k, words[i]), key)
    half_width = math.sqrt(3.0) * sigma
    return jax.random.uniform(key, (), x.dtype, -1.0, 1.0) * half_width


def _group_objectives(
    group: Sequence[LeastSquaresProblem], noise: Noise | None
) -> tuple[Callable, Callable]:
    """The noiseless and the (possibly) noisy objective ``f(x, args)`` of one group.

    ``args = {"branch": position in the group, "index": problem number, "sigma": σ}``.
    """
    branches = tuple(problem.objective for problem in group)

    def clean(x, args):
        return lax.switch(args["branch"], branches, x)

    if noise is None:
        return clean, clean
    base = jax.random.key(noise.seed)

    def noisy(x, args):
        key = jax.random.fold_in(base, args["index"])
        return clean(x, args) + noisy_jax(x, key, args["sigma"])

    return clean, noisy


def _noisy_run(noisy, clean, x0, args, max_evals, options, bounds):
    """One noisy trfd_jax run with its noiseless history (see the module docstring)."""
    import trfd_jax

    problem, x0 = trfd_jax.make_problem(
        noisy, x0, max_evals=max_evals, options=options, args=args, bounds=bounds
    )
    state = trfd_jax.init(problem, x0)
    t = jnp.arange(max_evals, dtype=state.record.nfev.dtype)
    inf = jnp.asarray(jnp.inf, x0.dtype)

    def clean_best(s):
        return jnp.where(jnp.isfinite(s.record.best_f), clean(s.record.best_x, args), inf)

    def credit(history, best, start, best_f_before, new):
        """Credit evaluations ``start`` … nfev − 1 of ``new``'s record (one iteration's):
        from the last change of the noisy best on with the new best point's noiseless
        value, before it with the previous one (``best``).  Returns the history, the
        best point's value and whether the best point changed more than once."""
        record = new.record
        recorded = record.history[:max_evals]  # the history is longer than the budget
        in_step = (t >= start) & (t < record.nfev)
        previous = jnp.concatenate([inf[None], recorded[:-1]])
        drops = jnp.sum(in_step & (recorded < previous))
        changed = record.best_f < best_f_before
        last_change = jnp.argmax(in_step & (recorded == record.best_f)).astype(t.dtype)
        value = jnp.where(changed, clean_best(new), best)
        history = jnp.where(in_step, jnp.where(changed & (t >= last_change), value, best), history)
        return history, value, (drops > 1).astype(t.dtype)

    # Init evaluates x₀ first, then (by default) the noise probe next to it: the first
    # evaluation is credited with f(x₀) itself, the others as within an iteration.
    f_x0 = jnp.where(jnp.isfinite(state.record.history[0]), clean(x0, args), inf)
    history = jnp.where(t == 0, f_x0, inf)
    history, first, inexact = credit(history, f_x0, 1, state.record.history[0], state)

    def body(carry):
        state, history, best, inexact = carry
        new = trfd_jax.step(problem, state)
        history, value, twice = credit(history, best, state.record.nfev, state.record.best_f, new)
        return new, history, value, inexact + twice

    state, history, best, inexact = lax.while_loop(
        lambda c: ~trfd_jax.terminate(problem, c[0]),
        body,
        (state, history, first, inexact),
    )
    history = jnp.where(t < state.record.nfev, history, best)
    result = trfd_jax.result(problem, state)
    return result._replace(history=result.history[:max_evals]), history, inexact


@dataclasses.dataclass
class _Progress:
    """tqdm if it is installed, else a printed counter."""

    total: int
    enabled: bool = True

    def __post_init__(self) -> None:
        self.done, self._bar = 0, None
        if self.enabled:
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=self.total, unit="run", dynamic_ncols=True)
            except ImportError:
                pass

    def update(self, k: int, label: str) -> None:
        self.done += k
        if self._bar is not None:
            self._bar.set_postfix_str(label, refresh=False)
            self._bar.update(k)
        elif self.enabled:
            print(f"[{self.done}/{self.total}] {label}", flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _group_residuals(group: Sequence[LeastSquaresProblem]) -> Callable:
    """F(x, args) of one group, padded with zeros to the group's largest m (``lax.switch``
    needs one output shape; zero residuals change neither ‖F‖² nor the Gauss–Newton step)."""
    m = max(problem.m for problem in group)

    def padded(problem):
        return lambda x: jnp.pad(problem.residuals(x), (0, m - problem.m))

    branches = tuple(padded(problem) for problem in group)
    return lambda x, args: lax.switch(args["branch"], branches, x)


def _stationarity(clean: Callable, x: jax.Array, args: dict, bounds) -> jax.Array:
    """π at each returned point (first paper's measure), with the true gradient of the
    noiseless objective by ``jax.grad``: 0 at a stationary point of the (bounded) problem."""
    import trfd_jax

    n = x.shape[-1]
    box = None if bounds is None else trfd_jax.Box(*bounds).validate(n, x.dtype)

    def one(x, args):
        return trfd_jax.stationarity(jax.grad(clean)(x, args), x, box)

    return jax.jit(jax.vmap(one))(jnp.asarray(x), args)


def run_trfd_jax(
    problems: Sequence[LeastSquaresProblem],
    bounds: tuple[float, float] | None = None,
    noise: Noise | None = None,
    options: Any = None,
    progress: _Progress | None = None,
    variant: str = "trfd_jax",
) -> tuple[dict[int, np.ndarray], dict[int, dict]]:
    """trfd_jax on every problem: one ``jax.jit(jax.vmap(...))`` call per dimension n.

    Args:
        problems: Moré–Wild problems.
        bounds: ``(lower, upper)`` for every variable, or None.
        noise: additive noise, or None (least-squares variants: noiseless only).
        options: ``trfd_jax.Options`` (default ``Options.paper()``, the reference settings).
        progress: progress reporter.
        variant: a key of :data:`TRFD_VARIANTS`.

    Returns:
        ``(histories, runs)``: per problem number, the (budget,) history and a dict of
        nfev, status, final f, and the wall time of its group's call (with and without
        compilation), shared by the group.
    """
    import trfd_jax

    options = trfd_jax.Options.paper() if options is None else options
    config = TRFD_VARIANTS[variant]
    if config.hessian is not None:
        options = dataclasses.replace(options, hessian=config.hessian)
    options = dataclasses.replace(options, **dict(config.options))
    if config.least_squares and noise is not None:
        raise ValueError(f"{variant} runs noiseless problems only.")
    search = config.make_search()
    groups: dict[int, list[LeastSquaresProblem]] = {}
    for problem in problems:
        groups.setdefault(problem.n, []).append(problem)
    histories, runs = {}, {}
    for n, group in sorted(groups.items()):
        max_evals = budget(n)
        clean, noisy = _group_objectives(group, noise)
        x0 = jnp.asarray(np.stack([start_point(p, bounds) for p in group]))
        f0 = [numpy_objective(p)(start_point(p, bounds)) for p in group]
        args = {
            "branch": jnp.arange(len(group), dtype=jnp.int32),
            "index": jnp.asarray([p.index for p in group], jnp.int32),
            "sigma": jnp.asarray([0.0 if noise is None else noise.sigma(f) for f in f0]),
        }
        if noise is None:
            # least_squares on the residuals F, or minimize on f = ‖F‖².
            solver, fun = (
                (trfd_jax.least_squares, _group_residuals(group))
                if config.least_squares
                else (trfd_jax.minimize, clean)
            )

            def solve_one(x0, args, solver=solver, fun=fun, max_evals=max_evals):
                result = solver(
                    fun,
                    x0,
                    args=args,
                    max_evals=max_evals,
                    options=options,
                    bounds=bounds,
                    search=search,
                )
                # least_squares reports the cost ½‖F‖²; the profiles compare f = ‖F‖².
                scale = 2.0 if config.least_squares else 1.0
                result = result._replace(f=scale * result.f, history=scale * result.history)
                return result, result.history, jnp.zeros((), result.nfev.dtype)

        else:

            def solve_one(x0, args, clean=clean, noisy=noisy, max_evals=max_evals):
                return _noisy_run(noisy, clean, x0, args, max_evals, options, bounds)

        solve = jax.jit(jax.vmap(solve_one))
        start = time.perf_counter()
        out = jax.block_until_ready(solve(x0, args))
        with_compile = time.perf_counter() - start
        start = time.perf_counter()
        out = jax.block_until_ready(solve(x0, args))
        without_compile = time.perf_counter() - start
        result, history, inexact = (jax.tree.map(np.asarray, part) for part in out)
        pi = np.asarray(_stationarity(clean, result.x, args, bounds))
        for k, problem in enumerate(group):
            histories[problem.index] = history[k][:max_evals]
            runs[problem.index] = {
                "nfev": int(result.nfev[k]),
                "status": int(result.status[k]),
                "f": float(result.f[k]),
                "pi": float(pi[k]),
                "n_reused": int(result.n_reused[k]),
                "inexact_iterations": int(inexact[k]),
                "group_n": n,
                "group_size": len(group),
                "group_wall_with_compile_s": with_compile,
                "group_wall_s": without_compile,
            }
        if progress is not None:
            progress.update(len(group), f"{variant} n={n} ({len(group)} problems)")
    return histories, runs


# ---------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class BenchmarkRun:
    """Histories of several solvers on a set of problems, and how they were made.

    Attributes:
        solvers: solver names (S).
        problems: Moré–Wild problem numbers (P).
        n: dimensions, shape (P,).
        budget: budgets 100 (n + 1), shape (P,).
        f0: noiseless f(x₀), shape (P,).
        histories: per solver, shape (P, max budget), NaN past each problem's budget.
        metadata: everything else (JSON-serialisable).
    """

    solvers: list[str]
    problems: list[int]
    n: np.ndarray
    budget: np.ndarray
    f0: np.ndarray
    histories: dict[str, np.ndarray]
    metadata: dict

    def per_problem(self) -> list[np.ndarray]:
        """The histories as :mod:`profiles` takes them: per problem, shape (S, B_p)."""
        return [
            np.stack([self.histories[s][p, : self.budget[p]] for s in self.solvers])
            for p in range(len(self.problems))
        ]

    def save(self, folder: Path) -> None:
        """Write ``histories.npz`` and ``metadata.json`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {f"history_{s}": self.histories[s] for s in self.solvers}
        np.savez_compressed(
            folder / "histories.npz",
            problems=np.asarray(self.problems),
            n=self.n,
            budget=self.budget,
            f0=self.f0,
            **arrays,
        )
        meta = self.metadata | {"solvers": self.solvers, "problems": self.problems}
        (folder / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))


def load(folder: Path) -> BenchmarkRun:
    """Read a :class:`BenchmarkRun` written by :meth:`BenchmarkRun.save`."""
    metadata = json.loads((Path(folder) / "metadata.json").read_text())
    with np.load(Path(folder) / "histories.npz") as data:
        solvers = [s for s in metadata["solvers"] if f"history_{s}" in data]
        return BenchmarkRun(
            solvers=solvers,
            problems=[int(p) for p in data["problems"]],
            n=data["n"],
            budget=data["budget"],
            f0=data["f0"],
            histories={s: data[f"history_{s}"] for s in solvers},
            metadata=metadata,
        )


def _versions(solvers: Iterable[str]) -> dict[str, str]:
    names = {"jax", "jaxlib", "numpy", "trfd_jax"}
    names |= {PEERS[s].distribution for s in solvers if s in PEERS}
    versions = {}
    for name in sorted(names):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def _git_state() -> dict[str, Any]:
    """The commit of the source tree and whether ``trfd_jax/`` differs from it."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "trfd_jax"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "trfd_jax_modified": None}
    return {"commit": commit, "trfd_jax_modified": bool(dirty)}


def folder_name(set_name: str, noise: Noise | None) -> str:
    """``<set>`` or ``<set>-noise-<kind>-<level>``."""
    return set_name if noise is None else f"{set_name}-noise-{noise.kind}-{noise.level:.0e}"


def run_benchmark(
    set_name: str = "unconstrained",
    solvers: Sequence[str] = SOLVERS,
    problems: Sequence[int] | None = None,
    noise: Noise | None = None,
    out: Path | None = None,
    seed: int = 0,
    options: Any = None,
    progress: bool = True,
    plots: bool = True,
) -> BenchmarkRun:
    """Run the solvers on the problems, save the histories, print and write the report.

    Args:
        set_name: ``"unconstrained"`` or ``"bounded"`` (l = 0.1, u = 20, x₀ clipped).
        solvers: names from :data:`SOLVERS`; peers that cannot run are skipped with a
            printed reason (recorded in the metadata).
        problems: Moré–Wild problem numbers (default all 53).
        noise: additive noise, or None.
        out: folder for the results (``out/<set>[-noise-…]``); None: nothing written.
        seed: seed of the peers' random numbers.
        options: ``trfd_jax.Options`` for trfd_jax.
        progress: show a progress bar (tqdm) or counter.
        plots: draw the PNG figures (needs matplotlib).

    Returns:
        The :class:`BenchmarkRun`.
    """
    import trfd_jax

    jax.config.update("jax_enable_x64", True)
    if set_name not in SETS:
        raise ValueError(f"set must be one of {SETS}, got {set_name!r}")
    unknown = [s for s in solvers if s not in SOLVERS]
    if unknown:
        raise ValueError(f"unknown solvers {unknown}; choose from {list(SOLVERS)}")
    bounds = BOX if set_name == "bounded" else None
    catalogue = {p.index: p for p in more_wild_53()}
    chosen = [catalogue[i] for i in (sorted(catalogue) if problems is None else problems)]
    skipped = {}
    for name in solvers:
        reason = PEERS[name].unavailable(bounds) if name in PEERS else None
        if reason is not None:
            skipped[name] = reason
            print(f"skipping {name}: {reason}")
    active = [s for s in solvers if s not in skipped]
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, jax {info['jax']} ({info['backend']})")
    noise_text = "none" if noise is None else f"{noise.kind} ξ = {noise.level:g}"
    print(
        f"Moré–Wild {set_name}: {len(chosen)} problems, budget {BUDGET_RULE}, "
        f"noise {noise_text}, solvers {', '.join(active)}"
    )

    n = np.array([p.n for p in chosen])
    budgets = np.array([budget(p.n) for p in chosen])
    x0s = [start_point(p, bounds) for p in chosen]
    f0 = np.array([numpy_objective(p)(x0) for p, x0 in zip(chosen, x0s, strict=True)])
    histories = {s: np.full((len(chosen), budgets.max()), np.nan) for s in active}
    runs: dict[str, dict] = {s: {} for s in active}
    wall: dict[str, float] = {}
    bar = _Progress(len(active) * len(chosen), enabled=progress)
    try:
        for name in active:
            start = time.perf_counter()
            if name in TRFD_VARIANTS:
                result, info_runs = run_trfd_jax(chosen, bounds, noise, options, bar, name)
                for k, p in enumerate(chosen):
                    histories[name][k, : budgets[k]] = result[p.index]
                    runs[name][p.index] = info_runs[p.index]
            else:
                peer = PEERS[name]
                for k, p in enumerate(chosen):
                    run = peer.run(p, x0s[k], int(budgets[k]), bounds, seed, noise, f0[k])
                    histories[name][k, : budgets[k]] = run.history
                    runs[name][p.index] = {
                        key: value
                        for key, value in dataclasses.asdict(run).items()
                        if key != "history"
                    }
                    bar.update(1, f"{name} p={p.index}")
            wall[name] = time.perf_counter() - start
    finally:
        bar.close()
    overshoots = {
        s: {p: r["overshoot"] for p, r in runs[s].items() if r.get("overshoot")} for s in active
    }
    for s, over in overshoots.items():
        if over:
            print(f"note: {s} called f past the budget on problems {over} (truncated)")
    options = trfd_jax.Options.paper() if options is None else options
    metadata = {
        "set": set_name,
        "bounds": bounds,
        "noise": None if noise is None else dataclasses.asdict(noise),
        "noise_convention": (
            None
            if noise is None
            else "noiseless f at the lowest-noisy point so far (see runner docstring)"
        ),
        "budget_rule": BUDGET_RULE,
        "seed": seed,
        "machine": info,
        "versions": _versions(active),
        "git": _git_state(),
        "trfd_jax_options": repr(options),
        "peer_settings": "package defaults except the evaluation limit and bounds; "
        "Py-BOBYQA/DFO-LS objfun_has_noise on noisy runs",
        "skipped": skipped,
        "wall_s": wall,
        "overshoots": overshoots,
        "names": {p.index: p.name for p in chosen},
        "runs": runs,
    }
    bench = BenchmarkRun(active, [p.index for p in chosen], n, budgets, f0, histories, metadata)
    if out is not None:
        folder = Path(out) / folder_name(set_name, noise)
        bench.save(folder)
        report(bench, folder, plots=plots)
        print(f"results in {folder}")
    else:
        report(bench, None, plots=False)
    return bench


def report(bench: BenchmarkRun, folder: Path | None, plots: bool = True) -> np.ndarray:
    """Print the table of data-profile areas; write it, per-problem data and the figures.

    Returns:
        The areas, shape (len(TOLERANCES), S).
    """
    per_problem = bench.per_problem()
    areas = profiles.area_table(per_problem, bench.f0, bench.n)
    meta = bench.metadata
    noise = meta.get("noise")
    title = f"Moré–Wild {meta.get('set', '')}" + (
        f", noise {noise['kind']} {noise['level']:g}" if noise else ""
    )
    table = profiles.format_area_table(areas, bench.solvers)
    wall = meta.get("wall_s", {})
    walls = ", ".join(f"{s} {wall[s]:.1f} s" for s in bench.solvers if s in wall)
    text = (
        f"# {title}: areas under the data profiles\n\n"
        f"{len(bench.problems)} problems, budget {BUDGET_RULE}; area = ∫₀¹⁰⁰ d_s(κ) dκ / 100 "
        "(1: every problem solved at κ = 0).  Solved at τ: f(x₀) − f ≥ (1 − τ)(f(x₀) − f_L) "
        "(Moré & Wild 2009).\n\n"
        f"{table}\n"
        f"Machine: {meta.get('machine', {}).get('cpu', '?')}, "
        f"{meta.get('machine', {}).get('cores', '?')} cores.  Wall time: {walls}.\n"
    )
    trfd = meta.get("runs", {}).get("trfd_jax")
    if trfd:
        groups = {r["group_n"]: r for r in trfd.values()}.values()
        text += (
            f"trfd_jax: {len(groups)} jit(vmap) calls (one per n), "
            f"{sum(r['group_wall_with_compile_s'] for r in groups):.1f} s with compilation, "
            f"{sum(r['group_wall_s'] for r in groups):.3f} s without (its total above "
            "includes both timed calls).\n"
        )
    if meta.get("skipped"):
        text += "\nSkipped: " + "; ".join(f"{s} ({r})" for s, r in meta["skipped"].items()) + "\n"
    print(table)
    if folder is None:
        return areas
    (folder / "table.md").write_text(text)
    _write_per_problem(bench, per_problem, folder / "per_problem.csv")
    if plots:
        try:
            for kind in ("data", "performance"):
                profiles.plot_profiles(
                    per_problem,
                    bench.f0,
                    bench.n,
                    bench.solvers,
                    folder / f"{kind}_profiles.png",
                    kind=kind,
                    title=title,
                )
        except ImportError as error:
            print(f"no figures: {error}")
    return areas


def _run_info(runs: dict, p: int) -> dict:
    """The run info of problem p (JSON turns the integer keys into strings)."""
    return runs.get(p, runs.get(str(p), {}))


def _write_per_problem(bench: BenchmarkRun, per_problem: list[np.ndarray], path: Path) -> None:
    """One row per problem: f(x₀), f_L, final values and t_{p,s} at every τ per solver."""
    f_low = profiles.lowest_values(per_problem, bench.f0)
    evals = {
        tau: profiles.solve_evaluations(per_problem, bench.f0, tau, f_low)
        for tau in profiles.TOLERANCES
    }
    names = bench.metadata.get("names", {})
    header = ["p", "name", "n", "budget", "f0", "f_L"]
    header += [f"f_{s}" for s in bench.solvers]
    header += [f"t_{s}_{tau:.0e}" for tau in profiles.TOLERANCES for s in bench.solvers]
    runs = bench.metadata.get("runs", {})
    reporting = [s for s in bench.solvers if any("pi" in r for r in runs.get(s, {}).values())]
    header += [f"{key}_{s}" for s in reporting for key in ("status", "nfev", "pi")]
    lines = [",".join(header)]
    for k, p in enumerate(bench.problems):
        row = [str(p), names.get(str(p), names.get(p, "")), str(bench.n[k]), str(bench.budget[k])]
        row += [f"{bench.f0[k]:.10g}", f"{f_low[k]:.10g}"]
        row += [f"{h[-1]:.10g}" for h in per_problem[k]]
        row += [
            f"{evals[tau][k, s]:g}"
            for tau in profiles.TOLERANCES
            for s in range(len(bench.solvers))
        ]
        for s in reporting:
            info = _run_info(runs[s], p)
            pi = info.get("pi")
            row += [str(info.get("status", "")), str(info.get("nfev", ""))]
            row += ["" if pi is None else f"{pi:.3g}"]
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def _run_folders(out: Path) -> list[Path]:
    if (out / "histories.npz").exists():
        return [out]
    return sorted(p.parent for p in out.glob("*/histories.npz"))


def _option(item: str) -> tuple[str, Any]:
    """``NAME=VALUE`` as (name, value): an int, a float, None, or else the string."""
    name, sep, text = item.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {item!r}")
    for kind in (int, float):
        try:
            return name, kind(text)
        except ValueError:
            pass
    return name, None if text == "None" else text


def main(argv: list[str] | None = None) -> Any:
    """``run`` or ``profile`` (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m trfd_jax.benchmarks", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run solvers, save histories, draw profiles")
    run.add_argument("--set", dest="set_name", choices=SETS, default="unconstrained")
    run.add_argument("--solvers", nargs="+", choices=SOLVERS, default=list(DEFAULT_SOLVERS))
    run.add_argument("--problems", nargs="+", type=int, default=None, help="1..53 (all)")
    run.add_argument("--noise", type=float, default=None, help="noise level ξ")
    run.add_argument("--noise-kind", choices=("relative", "absolute"), default="relative")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", type=Path, default=Path("benchmarks/results/morewild"))
    run.add_argument(
        "--trfd-option",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="trfd_jax.Options fields, e.g. fd_step_init=1e-2 (a larger τ₀ for noisy runs)",
    )
    run.add_argument("--no-plots", action="store_true")
    run.add_argument("--no-progress", action="store_true")
    prof = commands.add_parser("profile", help="re-draw figures and tables from saved runs")
    prof.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/morewild"),
        help="a run folder, or a folder of run folders",
    )
    prof.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    if args.command == "run":
        import trfd_jax

        try:
            options = trfd_jax.Options.paper(**dict(_option(item) for item in args.trfd_option))
        except (TypeError, ValueError) as error:
            parser.error(f"--trfd-option: {error}")
        noise = None
        if args.noise is not None:
            noise = Noise(args.noise, args.noise_kind, args.seed)
        return run_benchmark(
            args.set_name,
            args.solvers,
            args.problems,
            noise,
            args.out,
            seed=args.seed,
            options=options,
            progress=not args.no_progress,
            plots=not args.no_plots,
        )
    folders = _run_folders(args.out)
    if not folders:
        parser.error(f"no histories.npz in {args.out} or its subfolders")
    results = {}
    for folder in folders:
        print(f"== {folder}")
        results[str(folder)] = report(load(folder), folder, plots=not args.no_plots)
    return results


if __name__ == "__main__":
    main()
