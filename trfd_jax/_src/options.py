"""Static configuration of TRFD-S: a hashable frozen dataclass.

Everything here is a Python value fixed at trace time (changing it recompiles).  Array data
that may differ between starts of a ``jax.vmap``-ed solve (``x0``, bounds) is never here.
Defaults follow the authors' reference implementation (spec ``TRFD-S.md``, "Parameters and
defaults"); those that depend on the floating-point type are derived from its machine
epsilon u when the solver starts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np

HessianUpdate = Literal["bfgs", "sr1", "scaled_identity", "identity", "zero", "gauss_newton"]
FDScheme = Literal["forward", "central"]

_HESSIANS = ("bfgs", "sr1", "scaled_identity", "identity", "zero", "gauss_newton")
_INT_FIELDS = (
    "max_iter",
    "subproblem_max_iter",
    "cauchy_max_iter",
    "fista_max_iter",
    "dykstra_max_iter",
)
_OPTIONAL_FLOATS = (
    "fd_step_init",
    "radius_init",
    "radius_max",
    "f_target",
    "radius_tol",
    "xtol",
    "ftol",
)
_FLOAT_FIELDS = (
    *_OPTIONAL_FLOATS,
    "eta",
    "radius_increase",
    "radius_decrease",
    "fd_step_decrease",
    "fista_tol",
    "dykstra_tol",
    "cg_tol",
)
_SCHEMES = ("forward", "central")

EXACT_MAX_N = 500
"""The largest n for which ``subproblem="auto"`` picks the exact solver (an O(n³)
eigendecomposition of H per new Hessian); above it, truncated CG (O(n²))."""


@dataclasses.dataclass(frozen=True)
class Options:
    """Parameters of TRFD-S (first paper, Algorithm 1 and §4.1).

    Attributes:
        fd_step_init: τ₀, the initial finite-difference step.  ``None``: √u, u the machine
            epsilon of the dtype of ``x0`` (the reference's τ₀ = ε / (σ √n) with its default
            σ = ε / (√n √u)).
        radius_init: Δ₀.  ``None``: max(1, τ₀ √n), so that τ₀ √n ≤ Δ₀ as Algorithm 1 needs.
        radius_max: Δ_max.  ``None``: max(1000, Δ₀).
        radius_tol: Δ_tol; the run stops, converged, when Δ ≤ Δ_tol.  ``None`` (the
            default): 0.01 τ₀ Δ₀, relative to the initial radius like BOBYQA's rhoend and
            to the dtype through τ₀ = √u (1.5e-10 Δ₀ in float64): below it, further type II
            iterations only shrink τ under √u, where rounding outweighs the truncation
            error they remove.  The paper's reference stops at the absolute 1e-13
            (:meth:`paper`), which spends most of a budget once a run has converged.
        xtol, ftol: the practical convergence test: the run stops (status ``CONVERGED``)
            after an accepted step with ‖x_{k+1} − x_k‖ ≤ xtol (1 + ‖x_k‖) and
            |f(x_k) − f(x_{k+1})| ≤ ftol (1 + |f(x_k)|) — optimistix's Cauchy test with
            atol = rtol.  Default 1e-8 each; None (either) turns the test off, as in
            :meth:`paper`.
        eta: α, the acceptance threshold on ρ_k (Step 3).
        radius_increase: factor on Δ after a successful step (2 in the paper).
        radius_decrease: factor on Δ after an unsuccessful step (1/2 in the paper).
        fd_step_decrease: factor on τ after a type II iteration (1/2 in the paper).
        hessian: model Hessian H_k: ``"bfgs"`` (the reference), ``"sr1"``,
            ``"scaled_identity"`` (Barzilai–Borwein), ``"identity"`` (H = I throughout),
            ``"zero"`` (the first-order model) or, for least squares only,
            ``"gauss_newton"`` (H = 2 JᵀJ from the finite-difference Jacobian).
        fd_scheme: ``"forward"`` (Step 1, n evaluations) or ``"central"`` (Remark 2.5, 2n).
        f_target: stop as soon as the best value seen is ≤ this.  ``None``: no target.
        max_iter: iteration cap.  ``None``: none (the budget still bounds the run).
        subproblem: solver of Step 2: ``"exact"`` (Ω = Rⁿ: the global minimizer, by an
            eigendecomposition of H — O(n³); other sets: ‖H‖₂ from its eigenvalues),
            ``"truncated_cg"`` (Ω = Rⁿ: Steihaug–Toint CG, O(n²) per iteration; other
            sets: ‖H‖₂ bounded by min(‖H‖_F, ‖H‖_∞), no eigendecomposition) or
            ``"auto"`` (the default): ``"exact"`` up to n = 500 (``EXACT_MAX_N``) and
            ``"truncated_cg"`` above, where an eigendecomposition per iteration costs
            more than a gradient of a cheap objective (``python -m
            trfd_jax.benchmarks.scale``: at n = 2,000 seconds per iteration against
            milliseconds).
        subproblem_max_iter: cap on the safeguarded Newton iterations of the exact
            trust-region subproblem solver (Ω = Rⁿ); for ``"truncated_cg"`` the cap is
            max(subproblem_max_iter, 2n) CG iterations.
        cg_tol: truncated CG stops when its residual is ≤ cg_tol · ‖g‖.
        cauchy_max_iter: cap on the bracketing/bisection steps of the Generalized Cauchy
            step (constrained subproblem).  5 by default: the step only seeds the
            active-set refinement and FISTA, and under ``vmap`` every start waits for the
            slowest one's loop (50 took 2.4x the time of 5 for 4,096 bounded starts, with
            the same Moré–Wild data-profile areas at every τ, bounded, all three variants).
        fista_max_iter: cap on the projected FISTA iterations that polish the step of the
            constrained subproblem (0: none).  ``None`` (the default): 50 for a box, where
            FISTA starts from the active-set refinement's step, which is usually already
            the minimizer (in 8 bounded runs of the 2-D Rosenbrock function all 396
            subproblems needed one iteration), and 500 for other sets, where it starts
            from the Generalized Cauchy step.  Under ``vmap`` every start waits for the
            slowest, so the cap sets the cost of a bounded multi-start.
        fista_tol: FISTA stops when successive iterates move ≤ fista_tol · Δ.
        dykstra_max_iter: cap on Dykstra's sweeps when projecting onto Ω ∩ B(x, Δ) for a
            set without an exact projection onto that intersection.
        dykstra_tol: Dykstra stops when a sweep moves ≤ dykstra_tol (1 + ‖z‖).
        reuse_evaluations: a trial or search point equal (bit for bit) to x_k or to a
            recent trial or search point takes the known value instead of a new
            evaluation.  The trajectory is the same, only cheaper.  Turn it off for a
            stochastic objective whose repeated evaluations are new samples.
        history_size: the most entries ``Result.history`` keeps (the best value after each
            of the first evaluations).  The history's length is compiled in: max_evals
            rounded up to a power of two (at least 64) and at most this, so memory does
            not grow with an unused budget (4096 entries, 32 KB per start in float64).
            ``None``: the whole budget, as the benchmarks' data profiles need.
        batch_chunk: under ``vmap`` over starts, the objective is computed only at the
            points the starts need, gathered in chunks of starts (``schedule.py``).
            ``None``: chunks of about B/4 starts, then of an eighth of that (at least
            one start) for the rest; Step 0 (once per run) in one chunk of all starts.
            An int C: chunks of C starts.  ``1`` computes each
            start's points as the unbatched program does, so a batch equals a loop over
            starts to the bit for any objective; larger chunks vectorize the objective
            across starts (about 3x faster on the ODE calibration), but XLA may round an
            objective's matrix products differently in another layout (element-wise
            arithmetic rounds alike), so runs then agree with a loop to rounding.
        noise_level: ε_f, the standard deviation of the noise in f.  ``"auto"`` (the
            default): estimated when the run shows evidence of noise — two probe points
            at x₀, at the first finite-difference step and at 1/1000 of it, whose values
            differ as noise does, not as a smooth f, or a gradient recomputed with half
            the step (type II) that moved by more than half its size — from 8 values on a
            line (ECnoise, Moré & Wild 2011) and 4 that measure the curvature L̂ of f, in
            place of that iteration's gradient, counted in the budget and inside
            unrelaxable bounds.  A smooth run pays the two probe evaluations.  A number:
            the known ε_f, used from the start (with the 4 curvature points at x₀).
            ``None``: no noise handling, the paper's algorithm (``Options.paper()``), and
            a smaller program to compile.  With a noise level, τ is kept at the interval
            that balances truncation against noise, 2 √(ε_f / L̂); the ratio test
            tolerates 2 ε_f; quasi-Newton pairs within the gradient's error are skipped;
            forward differences turn central when a failed step's sought decrease falls
            below ε_f or the step below the stencil (Δ < τ √n), and the run stops when
            both hold with central ones (``NOISE_FLOOR``).
            See :mod:`trfd_jax._src.noise`.
    """

    fd_step_init: float | None = None
    radius_init: float | None = None
    radius_max: float | None = None
    radius_tol: float | None = None
    xtol: float | None = 1e-8
    ftol: float | None = 1e-8
    eta: float = 0.01
    radius_increase: float = 2.0
    radius_decrease: float = 0.5
    fd_step_decrease: float = 0.5
    hessian: HessianUpdate = "bfgs"
    fd_scheme: FDScheme = "forward"
    f_target: float | None = None
    max_iter: int | None = None
    subproblem: Literal["auto", "exact", "truncated_cg"] = "auto"
    subproblem_max_iter: int = 50
    cg_tol: float = 1e-10
    cauchy_max_iter: int = 5
    fista_max_iter: int | None = None
    fista_tol: float = 1e-12
    dykstra_max_iter: int = 100
    dykstra_tol: float = 1e-10
    reuse_evaluations: bool = True
    history_size: int | None = 4096
    batch_chunk: int | None = None
    noise_level: float | Literal["auto"] | None = "auto"

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in _INT_FIELDS:
                ok = value is None and field.name in ("max_iter", "fista_max_iter")
                ok = ok or (isinstance(value, (int, np.integer)) and not isinstance(value, bool))
                if not ok:
                    raise TypeError(f"Options.{field.name} must be a Python int, got {value!r}.")
            elif field.name in _FLOAT_FIELDS:
                ok = value is None and field.name in _OPTIONAL_FLOATS
                ok = ok or (
                    isinstance(value, (int, float, np.integer, np.floating))
                    and not isinstance(value, bool)
                )
                if not ok:
                    raise TypeError(
                        f"Options.{field.name} must be a Python number (options are static "
                        f"configuration, not arrays), got {value!r}."
                    )
        if self.history_size is not None and (
            isinstance(self.history_size, bool)
            or not isinstance(self.history_size, (int, np.integer))
            or self.history_size < 1
        ):
            raise TypeError(
                f"Options.history_size must be a positive int or None, got {self.history_size!r}."
            )
        if self.batch_chunk is not None and (
            isinstance(self.batch_chunk, bool)
            or not isinstance(self.batch_chunk, (int, np.integer))
            or self.batch_chunk < 1
        ):
            raise TypeError(
                f"Options.batch_chunk must be a positive int or None, got {self.batch_chunk!r}."
            )
        if not isinstance(self.reuse_evaluations, bool):
            raise TypeError(
                f"Options.reuse_evaluations must be a bool, got {self.reuse_evaluations!r}."
            )
        if self.hessian not in _HESSIANS:
            raise ValueError(f"Options.hessian must be one of {_HESSIANS}, got {self.hessian!r}.")
        if self.subproblem not in ("auto", "exact", "truncated_cg"):
            raise ValueError(
                "Options.subproblem must be 'auto', 'exact' or 'truncated_cg', got "
                f"{self.subproblem!r}."
            )
        if self.fd_scheme not in _SCHEMES:
            raise ValueError(
                f"Options.fd_scheme must be one of {_SCHEMES}, got {self.fd_scheme!r}."
            )
        for name in ("fd_step_init", "radius_init", "radius_max"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"Options.{name} must be a finite positive number, got {value}.")
        for name in ("xtol", "ftol"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Options.{name} must be finite and ≥ 0 (or None), got {value}.")
        if self.radius_tol is not None and not (
            self.radius_tol >= 0 and math.isfinite(self.radius_tol)
        ):
            raise ValueError(f"Options.radius_tol must be finite and ≥ 0, got {self.radius_tol}.")
        if not 0 < self.eta < 1:
            raise ValueError(f"Options.eta (α) must lie in (0, 1), got {self.eta}.")
        if not (self.radius_increase >= 1 and math.isfinite(self.radius_increase)):
            raise ValueError(
                f"Options.radius_increase must be finite and ≥ 1, got {self.radius_increase}."
            )
        for name in ("radius_decrease", "fd_step_decrease"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(f"Options.{name} must lie in (0, 1), got {value}.")
        if self.max_iter is not None and self.max_iter < 1:
            raise ValueError(f"Options.max_iter must be ≥ 1, got {self.max_iter}.")
        for name in ("subproblem_max_iter", "cauchy_max_iter", "dykstra_max_iter"):
            if getattr(self, name) < 1:
                raise ValueError(f"Options.{name} must be ≥ 1, got {getattr(self, name)}.")
        if self.fista_max_iter is not None and self.fista_max_iter < 0:
            raise ValueError(f"Options.fista_max_iter must be ≥ 0, got {self.fista_max_iter}.")
        for name in ("fista_tol", "dykstra_tol", "cg_tol"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"Options.{name} must be finite and positive, got {value}.")
        if self.f_target is not None and math.isnan(self.f_target):
            raise ValueError("Options.f_target must not be NaN.")
        if self.noise_level is not None and self.noise_level != "auto":
            level = self.noise_level
            if isinstance(level, bool) or not isinstance(
                level, (int, float, np.integer, np.floating)
            ):
                raise TypeError(
                    f"Options.noise_level must be 'auto', None or a number, got {level!r}."
                )
            if not (math.isfinite(level) and level >= 0):
                raise ValueError(f"Options.noise_level must be finite and ≥ 0, got {level}.")

    @property
    def evals_per_gradient_factor(self) -> int:
        """Evaluations per coordinate of one finite-difference gradient (1 or 2)."""
        return 2 if self.fd_scheme == "central" else 1

    def resolved(self, n: int, dtype: np.dtype) -> ResolvedParameters:
        """The numeric defaults for dimension ``n`` and floating type ``dtype``."""
        u = float(np.finfo(dtype).eps)
        fd_step = self.fd_step_init if self.fd_step_init is not None else math.sqrt(u)
        for name in ("fd_step_init", "radius_init", "radius_max", "radius_tol"):
            value = getattr(self, name)
            # XLA flushes subnormal numbers to zero: a step of 1e-320 would be a step of 0.
            if value is not None and 0 < value < float(np.finfo(dtype).tiny):
                raise ValueError(
                    f"Options.{name} = {value} is subnormal in {np.dtype(dtype).name} "
                    f"(below {np.finfo(dtype).tiny:.3g}), where it is flushed to zero."
                )
            if value is not None and value > float(np.finfo(dtype).max):
                raise ValueError(f"Options.{name} = {value} overflows {np.dtype(dtype).name}.")
        radius = (
            self.radius_init if self.radius_init is not None else max(1.0, fd_step * math.sqrt(n))
        )
        if fd_step * math.sqrt(n) > radius:
            raise ValueError(
                f"Algorithm 1 needs τ₀ √n ≤ Δ₀, but fd_step_init = {fd_step} and radius_init = "
                f"{radius} with n = {n}; lower fd_step_init or raise radius_init."
            )
        radius_max = self.radius_max if self.radius_max is not None else max(1000.0, radius)
        if radius > radius_max:
            raise ValueError(
                f"Options.radius_init (Δ₀ = {radius}) exceeds radius_max (Δ_max = {radius_max})."
            )
        radius_tol = self.radius_tol if self.radius_tol is not None else 0.01 * fd_step * radius
        if radius_tol >= radius:
            raise ValueError(
                f"Options.radius_tol (Δ_tol = {radius_tol}) must be below the initial radius "
                f"(Δ₀ = {radius}): the run would stop at x0 and call it converged.  Lower "
                "radius_tol or raise radius_init."
            )
        subproblem = self.subproblem
        if subproblem == "auto":
            subproblem = "exact" if n <= EXACT_MAX_N else "truncated_cg"
        return ResolvedParameters(
            fd_step=fd_step,
            radius=radius,
            radius_max=radius_max,
            radius_tol=radius_tol,
            subproblem=subproblem,
        )

    @classmethod
    def paper(cls, **changes: object) -> Options:
        """The settings of the authors' reference implementation (spec "Parameters and
        defaults"): the absolute Δ_tol = 1e-13, no xtol/ftol test, no noise handling,
        and a history of the whole budget.  The benchmarks use them, so that their
        profiles compare with the paper's."""
        paper = {
            "radius_tol": 1e-13,
            "xtol": None,
            "ftol": None,
            "history_size": None,
            "subproblem": "exact",
        }
        return cls(**{**paper, "noise_level": None, **changes})


@dataclasses.dataclass(frozen=True)
class ResolvedParameters:
    """τ₀, Δ₀, Δ_max and Δ_tol after the dtype-dependent defaults are filled in, and the
    subproblem solver chosen for n (``"exact"`` or ``"truncated_cg"``)."""

    fd_step: float
    radius: float
    radius_max: float
    radius_tol: float
    subproblem: str = "exact"
