"""Peer solvers on the Moré–Wild problems, each recorded evaluation by evaluation.

Every peer sees the objective through a :class:`Recorder` that stores f at every call; the
history used for the profiles is built from those records, never from the peer's own
report (Moré & Wild 2009, §2: "the best function value found after t evaluations").  Each
peer gets the budget as its own evaluation limit; one that calls f more often (an
*overshoot*) has its history truncated to the budget, and the overshoot is reported.

| name     | package (PyPI)          | method                                        |
|----------|-------------------------|-----------------------------------------------|
| newuoa   | nlopt                   | LN_NEWUOA (Powell); unconstrained only        |
| bobyqa   | nlopt                   | LN_BOBYQA (Powell)                            |
| cobyqa   | scipy ≥ 1.14            | minimize(method="COBYQA") (Ragonneau)         |
| pybobyqa | pybobyqa (Py-BOBYQA)    | Cartis et al.'s BOBYQA                        |
| dfols    | dfols (DFO-LS)          | Gauss–Newton DFO; receives the residuals F(x) |
| nomad    | PyNomad (PyNomadBBO)    | NOMAD 4, mesh adaptive direct search          |
| lbfgsb   | scipy                   | minimize(method="L-BFGS-B"), FD gradients     |

All peers run with their package defaults except the evaluation limit (and the bounds);
Py-BOBYQA and DFO-LS are told ``objfun_has_noise=True`` on noisy runs.  The objective is
``jax.jit(problem.objective)`` called on NumPy arrays (``jax.jit(problem.residuals)`` for
DFO-LS, with f = ‖F(x)‖² computed from the residual vector).

Noise (:class:`Noise`): f̃(x) = f(x) + e with e uniform on [−√3 σ, √3 σ] (standard
deviation σ = ξ max(1, |f(x₀)|) for relative noise, σ = ξ for absolute noise), drawn at
every call from ``numpy.random.default_rng([seed, problem.index])`` — independent between
calls, the same sequence for every peer.  DFO-LS sees F̃(x) = (F(x), √(e + √3 σ)), so that
‖F̃(x)‖² = f̃(x) + √3 σ: the noisy objective up to a constant.

Reference:
    J. J. Moré and S. M. Wild, "Benchmarking derivative-free optimization algorithms",
    SIAM J. Optim. 20(1):172–191, 2009.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import math
import time
import warnings
from collections.abc import Callable
from typing import Any, Literal

import jax
import numpy as np

from trfd_jax.benchmarks.more_wild import LeastSquaresProblem

__all__ = ["PEERS", "Noise", "Peer", "PeerRun", "Recorder", "numpy_objective", "numpy_residuals"]

Bounds = tuple[Any, Any] | None  # (lower, upper): scalars or shape (n,)


@dataclasses.dataclass(frozen=True)
class Noise:
    """Additive uniform noise of standard deviation σ (Moré & Wild 2009, §5 style).

    Attributes:
        level: ξ.
        kind: ``"relative"``: σ = ξ max(1, |f(x₀)|); ``"absolute"``: σ = ξ.
        seed: seed of the random stream (combined with the problem index).
    """

    level: float
    kind: Literal["relative", "absolute"] = "relative"
    seed: int = 0

    def sigma(self, f0: float) -> float:
        """σ, the standard deviation of e, for a problem with f(x₀) = ``f0``."""
        if self.kind == "relative":
            return self.level * max(1.0, abs(f0))
        if self.kind == "absolute":
            return self.level
        raise ValueError(f"noise kind must be 'relative' or 'absolute', got {self.kind!r}")

    def generator(self, index: int) -> np.random.Generator:
        """The seeded NumPy stream of problem ``index`` (the same for every peer)."""
        return np.random.default_rng([self.seed, index])


@functools.cache
def _jitted(problem: LeastSquaresProblem) -> tuple[Callable, Callable]:
    return jax.jit(problem.objective), jax.jit(problem.residuals)


def numpy_objective(problem: LeastSquaresProblem) -> Callable[[np.ndarray], float]:
    """f as a function of a NumPy vector returning a Python float (jitted JAX inside)."""
    f = _jitted(problem)[0]
    return lambda x: float(f(np.asarray(x, np.float64)))


def numpy_residuals(problem: LeastSquaresProblem) -> Callable[[np.ndarray], np.ndarray]:
    """F as a function of a NumPy vector returning a NumPy vector (jitted JAX inside)."""
    residuals = _jitted(problem)[1]
    return lambda x: np.asarray(residuals(np.asarray(x, np.float64)), np.float64)


class Recorder:
    """The objective as a peer sees it; stores the noisy and noiseless f of every call.

    The history (:meth:`history`) after t evaluations is the *noiseless* f at the point
    with the lowest *noisy* value among the first t evaluations — the point the peer holds
    as best.  Without noise this is the usual best value so far (monotone); with noise it
    can go up.  Non-finite values never become best.  Calls past the budget are answered
    (so that no peer crashes) but left out of the history and counted as overshoot.
    """

    def __init__(
        self,
        problem: LeastSquaresProblem,
        budget: int,
        *,
        bounds: Bounds = None,
        noise: Noise | None = None,
        f0: float | None = None,
    ) -> None:
        self.budget = budget
        self.bounds = bounds
        self._objective = numpy_objective(problem)
        self._residuals = numpy_residuals(problem)
        self.noisy: list[float] = []
        self.clean: list[float] = []
        self.outside = 0
        self.max_violation = 0.0
        if noise is None:
            self.sigma, self._rng = 0.0, None
        else:
            f0 = self._objective(problem.x0) if f0 is None else f0
            self.sigma, self._rng = noise.sigma(f0), noise.generator(problem.index)
        self.half_width = math.sqrt(3.0) * float(self.sigma)

    @property
    def nfev(self) -> int:
        """Every call, including those past the budget."""
        return len(self.noisy)

    @property
    def overshoot(self) -> int:
        """Calls past the budget."""
        return max(0, self.nfev - self.budget)

    def _record(self, x: np.ndarray, clean: float) -> float:
        if self.bounds is not None:
            # bounds: scalars (the Moré–Wild box) or per-variable vectors
            violation = max(np.max(self.bounds[0] - x), np.max(x - self.bounds[1]), 0.0)
            self.outside += int(violation > 0.0)
            self.max_violation = max(self.max_violation, float(violation))
        e = 0.0 if self._rng is None else float(self._rng.uniform(-1.0, 1.0) * self.half_width)
        clean = float(clean)
        self.clean.append(clean)
        self.noisy.append(clean + e)
        return clean + e

    def __call__(self, x: Any, *unused: Any) -> float:
        """f̃(x), recorded."""
        x = np.asarray(x, np.float64)
        return self._record(x, self._objective(x))

    def residuals(self, x: Any, *unused: Any) -> np.ndarray:
        """F(x) (with the noise residual √(e + √3 σ) appended on noisy runs), recorded."""
        x = np.asarray(x, np.float64)
        r = self._residuals(x)
        noisy = self._record(x, float(r @ r))
        if self._rng is None:
            return r
        return np.append(r, math.sqrt(max(noisy - self.clean[-1] + self.half_width, 0.0)))

    def history(self) -> np.ndarray:
        """Noiseless f at the lowest-noisy point after each of the budget evaluations.

        Shape (budget,), padded with the last value (+inf before any finite value).
        """
        out = np.full(self.budget, np.inf)
        best_noisy, best_clean = np.inf, np.inf
        records = zip(self.noisy[: self.budget], self.clean, strict=False)
        for t, (noisy, clean) in enumerate(records):
            if np.isfinite(noisy) and np.isfinite(clean) and noisy < best_noisy:
                best_noisy, best_clean = noisy, clean
            out[t] = best_clean
        out[min(self.nfev, self.budget) :] = best_clean
        return out


@dataclasses.dataclass
class PeerRun:
    """One peer's run on one problem.

    Attributes:
        history: (budget,) noiseless best-so-far values (see :class:`Recorder`).
        nfev: calls of the objective (may exceed the budget: see ``overshoot``).
        overshoot: calls past the budget (left out of ``history``).
        outside: calls outside the bounds (rounding-level violations included).
        max_violation: the largest distance of a call outside the bounds, per coordinate.
        wall_s: wall time of the solve, objective included.
        message: the peer's exit message or the exception it raised.
    """

    history: np.ndarray
    nfev: int
    overshoot: int
    outside: int
    max_violation: float
    wall_s: float
    message: str


Solve = Callable[[Recorder, LeastSquaresProblem, np.ndarray, int, Bounds, int, bool], str]


@dataclasses.dataclass(frozen=True)
class Peer:
    """A peer solver: how to call it, and which package it needs.

    Attributes:
        name: short name (command line, files).
        module: the module to import.
        distribution: the package name on PyPI (for the version).
        description: one line for tables and metadata.
        solve: ``solve(recorder, problem, x0, budget, bounds, seed, noisy) -> message``.
        bounded: whether it accepts bounds.
        unbounded: whether it runs without bounds.
        min_version: the lowest version of ``distribution`` that has the method.
    """

    name: str
    module: str
    distribution: str
    description: str
    solve: Solve
    bounded: bool = True
    unbounded: bool = True
    min_version: tuple[int, ...] = ()

    def version(self) -> str:
        """The installed version of the package, or ``"missing"``."""
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return "missing"

    def unavailable(self, bounds: Bounds = None) -> str | None:
        """Why this peer cannot run (package missing, too old, bounds), or None."""
        if bounds is not None and not self.bounded:
            return f"{self.name} does not take bounds"
        if bounds is None and not self.unbounded:
            return f"{self.name} needs bounds"
        try:
            importlib.import_module(self.module)
        except ImportError as error:
            return f"{self.module} is not installed ({error}); pip install {self.distribution}"
        version = self.version()
        if self.min_version and version != "missing":
            parts = version.split(".")[: len(self.min_version)]
            found = tuple(int(p) for p in parts if p.isdigit())
            if found < self.min_version:
                wanted = ".".join(map(str, self.min_version))
                return f"{self.distribution} {version} is older than {wanted}"
        return None

    def run(
        self,
        problem: LeastSquaresProblem,
        x0: np.ndarray,
        budget: int,
        bounds: Bounds = None,
        seed: int = 0,
        noise: Noise | None = None,
        f0: float | None = None,
    ) -> PeerRun:
        """Run the peer from ``x0`` with ``budget`` evaluations; the recorded history.

        Args:
            problem: a Moré–Wild problem.
            x0: starting point (inside the bounds).
            budget: evaluation limit (100 (n + 1) in the benchmarks).
            bounds: ``(lower, upper)``, scalars for every variable or shape (n,), or None.
            seed: seed for peers that draw random numbers.
            noise: additive noise, or None.
            f0: noiseless f(x₀) (the noise scale of relative noise); computed if None.

        Returns:
            A :class:`PeerRun`.
        """
        reason = self.unavailable(bounds)
        if reason is not None:
            raise RuntimeError(reason)
        recorder = Recorder(problem, budget, bounds=bounds, noise=noise, f0=f0)
        x0 = np.array(x0, np.float64)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Py-BOBYQA and DFO-LS draw from NumPy's global stream.
            np.random.seed(seed)  # noqa: NPY002
            try:
                message = self.solve(recorder, problem, x0, budget, bounds, seed, noise is not None)
            except Exception as error:  # a peer's failure is a result, not a crash
                message = f"{type(error).__name__}: {error}"
        wall = time.perf_counter() - start
        return PeerRun(
            history=recorder.history(),
            nfev=recorder.nfev,
            overshoot=recorder.overshoot,
            outside=recorder.outside,
            max_violation=recorder.max_violation,
            wall_s=wall,
            message=str(message),
        )


def _nlopt(algorithm: str) -> Solve:
    def solve(recorder, problem, x0, budget, bounds, seed, noisy):
        import nlopt

        nlopt.srand(seed)
        opt = nlopt.opt(getattr(nlopt, algorithm), problem.n)
        opt.set_min_objective(lambda x, grad: recorder(x))
        if bounds is not None:
            opt.set_lower_bounds(np.full(problem.n, bounds[0]))
            opt.set_upper_bounds(np.full(problem.n, bounds[1]))
        opt.set_maxeval(budget)
        try:
            opt.optimize(x0)
        except (nlopt.RoundoffLimited, RuntimeError, ValueError) as error:
            return f"{type(error).__name__}: {error}"
        return f"nlopt result {opt.last_optimize_result()}"

    return solve


def _scipy_bounds(problem: LeastSquaresProblem, bounds: Bounds):
    from scipy.optimize import Bounds as ScipyBounds

    if bounds is None:
        return None
    return ScipyBounds(np.full(problem.n, bounds[0]), np.full(problem.n, bounds[1]))


def _cobyqa(recorder, problem, x0, budget, bounds, seed, noisy):
    from scipy.optimize import minimize

    options = {"maxfev": budget}
    res = minimize(
        recorder, x0, method="COBYQA", bounds=_scipy_bounds(problem, bounds), options=options
    )
    return str(res.message)


def _lbfgsb(recorder, problem, x0, budget, bounds, seed, noisy):
    from scipy.optimize import minimize

    res = minimize(
        recorder,
        x0,
        method="L-BFGS-B",
        jac=None,
        bounds=_scipy_bounds(problem, bounds),
        options={"maxfun": budget},
    )
    return str(res.message)


def _box(problem: LeastSquaresProblem, bounds: Bounds):
    if bounds is None:
        return None
    return np.full(problem.n, bounds[0]), np.full(problem.n, bounds[1])


def _pybobyqa(recorder, problem, x0, budget, bounds, seed, noisy):
    import pybobyqa

    soln = pybobyqa.solve(
        recorder,
        x0,
        bounds=_box(problem, bounds),
        maxfun=budget,
        objfun_has_noise=noisy,
        do_logging=False,
    )
    return str(soln.msg)


def _dfols(recorder, problem, x0, budget, bounds, seed, noisy):
    import dfols

    soln = dfols.solve(
        recorder.residuals,
        x0,
        bounds=_box(problem, bounds),
        maxfun=budget,
        objfun_has_noise=noisy,
        do_logging=False,
    )
    return str(soln.msg)


def _nomad(recorder, problem, x0, budget, bounds, seed, noisy):
    import PyNomad

    def blackbox(point):
        value = recorder(np.array([point.get_coord(i) for i in range(point.size())]))
        if not math.isfinite(value):
            return 0  # a failed evaluation for NOMAD
        point.setBBO(f"{float(value):.17g}".encode())
        return 1

    params = [
        f"DIMENSION {problem.n}",
        "BB_OUTPUT_TYPE OBJ",
        f"MAX_BB_EVAL {budget}",
        "DISPLAY_DEGREE 0",
        f"SEED {seed}",
    ]
    lower, upper = (
        ([], [])
        if bounds is None
        else (list(_box(problem, bounds)[0]), list(_box(problem, bounds)[1]))
    )
    out = PyNomad.optimize(blackbox, list(x0), lower, upper, params)
    return f"NOMAD stop: {out.get('stop_reason', out.get('run_flag'))}"


PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in (
        Peer(
            "newuoa",
            "nlopt",
            "nlopt",
            "NEWUOA (nlopt LN_NEWUOA)",
            _nlopt("LN_NEWUOA"),
            bounded=False,
        ),
        Peer("bobyqa", "nlopt", "nlopt", "BOBYQA (nlopt LN_BOBYQA)", _nlopt("LN_BOBYQA")),
        Peer("cobyqa", "scipy", "scipy", "COBYQA (scipy.optimize)", _cobyqa, min_version=(1, 14)),
        Peer("pybobyqa", "pybobyqa", "Py-BOBYQA", "Py-BOBYQA", _pybobyqa),
        Peer("dfols", "dfols", "DFO-LS", "DFO-LS (residuals)", _dfols),
        Peer("nomad", "PyNomad", "PyNomadBBO", "NOMAD 4 (PyNomad)", _nomad),
        Peer("lbfgsb", "scipy", "scipy", "L-BFGS-B, FD gradient (scipy.optimize)", _lbfgsb),
    )
}
"""The peers by name."""
