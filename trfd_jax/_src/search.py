"""Search steps: the surrogate management framework (second paper, Algorithm 2.1).

Before a rigorous trust-region step, a search strategy proposes a few candidate points;
they are evaluated in one batch and the best is accepted iff

    f(x) ≤ f(x_k) − ρ(Δ_k),   ρ(Δ) = c Δ^p   (c = 1e-5, p = 2 by default; p = 1 gives the
                                               stronger lim ‖∇f(x_k)‖ = 0, Theorem 3.2)

On success x_{k+1} is that point, Δ_{k+1} = min(γ_inc Δ_k, Δ_max) and the rigorous step is
skipped; only rigorous steps shrink Δ.  Candidates are moved into B(x_k, θΔ_k) (θ = 2) and
then projected onto Ω, so they respect unrelaxable bounds.  Search evaluations count
against the budget, and a search is only tried when what the iteration still needs after
it (the gradient if due, and the rigorous step's trial point) fits in the budget too.

**The extension point.**  A strategy is a hashable (frozen) dataclass subclassing
:class:`SearchStep` with ``num_candidates`` and ``propose(view) -> (num_candidates, n)``
written in JAX.  ``view`` is a :class:`SearchView`: the read-only part of the solver's
knowledge a strategy may use (x_k, f(x_k), g_k, H_k, Δ_k, τ_k, and F(x_k), J_k in least
squares) and the solver of Step 2 for any quadratic model.  It is the stable interface:
the solver's internal state may change without breaking strategies.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from trfd_jax._src import acceptance, linalg, stopping, subproblem
from trfd_jax._src import record as record_lib
from trfd_jax._src.model import gauss_newton
from trfd_jax._src.state import State, StepKind, select

Array = jax.Array

_INT = jnp.int32


@dataclasses.dataclass(frozen=True)
class SearchView:
    """What a search strategy sees of the solver at iteration k (read-only).

    Attributes:
        x: the iterate x_k ∈ Ω, shape (n,).
        f: f(x_k).
        gradient: g_k, the finite-difference gradient of the model.  Before the gradient
            (``before_gradient=True``) it is the gradient of the previous iterate.
        hessian: H_k, shape (n, n).
        radius: Δ_k.
        fd_step: τ_k.
        residuals: F(x_k), shape (m,), in least squares (else None).
        jacobian: J_k, shape (m, n), in least squares (else None); before the gradient, J
            after Broyden's update.
    """

    x: Array
    f: Array
    gradient: Array
    hessian: Array
    radius: Array
    fd_step: Array
    residuals: Array | None
    jacobian: Array | None
    _problem: Any = dataclasses.field(repr=False)
    _eig: tuple[Array, Array] = dataclasses.field(repr=False)

    def model_step(self, radius: Array) -> Array:
        """argmin m_k(p) = g_kᵀp + ½ pᵀH_k p over ‖p‖ ≤ ``radius``, x_k + p ∈ Ω: the
        solver of Step 2 with its cached decomposition of H_k."""
        return subproblem.solve(
            self._problem, self.x, self.gradient, self.hessian, radius, self._eig
        )

    def subproblem_step(self, g: Array, hessian: Array, radius: Array) -> Array:
        """argmin gᵀp + ½ pᵀHp over ‖p‖ ≤ ``radius``, x_k + p ∈ Ω, for another model."""
        return subproblem.solve(self._problem, self.x, g, hessian, radius)


def view(problem: Any, state: State) -> SearchView:
    """The :class:`SearchView` of ``state``."""
    model = state.model
    return SearchView(
        x=state.iterate.x,
        f=state.iterate.f,
        gradient=model.gradient,
        hessian=model.hessian,
        radius=state.region.radius,
        fd_step=state.region.fd_step,
        residuals=state.iterate.residuals,
        jacobian=model.jacobian,
        _problem=problem,
        _eig=(model.eigenvalues, model.eigenvectors),
    )


@dataclasses.dataclass(frozen=True)
class SearchStep:
    """Base class of search strategies: the acceptance rule's constants.

    Attributes:
        theta: θ, candidates are kept within B(x_k, θ Δ_k).
        decrease: c in ρ(Δ) = c Δ^p.
        power: p ∈ {1, 2} in ρ(Δ) = c Δ^p.
        before_gradient: also try the search at a new iterate before its finite-difference
            gradient is paid for, with the model information already at hand.
        num_candidates: how many points ``propose`` returns (static).
    """

    theta: float = 2.0
    decrease: float = 1e-5
    power: int = 2
    before_gradient: bool = False

    num_candidates: int = dataclasses.field(default=1, init=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.theta) and self.theta > 0):
            raise ValueError(f"search theta must be positive, got {self.theta}.")
        if not (math.isfinite(self.decrease) and self.decrease > 0):
            raise ValueError(f"search decrease c must be positive, got {self.decrease}.")
        if self.power not in (1, 2):
            raise ValueError(f"search power p must be 1 or 2, got {self.power}.")

    def sufficient_decrease(self, radius: Array) -> Array:
        """ρ(Δ) = c Δ^p."""
        return self.decrease * radius**self.power

    def propose(self, view: SearchView) -> Array:
        """Candidate points, shape (num_candidates, n)."""
        raise NotImplementedError

    def needs_residuals(self) -> bool:
        """Whether the strategy needs least-squares mode (F and J in the view)."""
        return False


@dataclasses.dataclass(frozen=True)
class GaussNewtonSearch(SearchStep):
    """The second paper's search step for f = ‖F‖²: a Gauss–Newton step.

        p_k = argmin ‖J_k p + F(x_k)‖²  s.t.  ‖p‖ ≤ θ Δ_k  (and x_k + p ∈ Ω),

    solved as a trust-region subproblem with g = 2 J_kᵀF, H = 2 J_kᵀJ_k.  J_k comes from
    the same forward differences that give the gradient.  Needs least-squares mode.

    By default (``before_gradient=True``) the search is also tried at each new iterate
    before its n-point Jacobian is paid for, with J after Broyden's secant update: a
    success skips those n evaluations.  On the Moré–Wild problems this raised the
    data-profile areas by 0.01–0.02 (see the README's benchmarks).
    """

    before_gradient: bool = True

    def needs_residuals(self) -> bool:
        return True

    def propose(self, view: SearchView) -> Array:
        g = gauss_newton.gradient(view.jacobian, view.residuals)
        hessian = gauss_newton.hessian(view.jacobian)
        return (view.x + view.subproblem_step(g, hessian, self.theta * view.radius))[None]


@dataclasses.dataclass(frozen=True)
class ModelSearch(SearchStep):
    """A general-purpose search: the current model's step over a larger region, θ Δ_k.

    After a successful rigorous step Δ doubles anyway; this tries the model minimizer at
    θ Δ_k first, which saves an iteration when the model is good far out.
    """

    def propose(self, view: SearchView) -> Array:
        return (view.x + view.model_step(self.theta * view.radius))[None]


def safeguard(problem: Any, x: Array, candidates: Array, radius: Array, theta: float) -> Array:
    """Move candidates into B(x, θΔ), then project them onto Ω.

    Projection onto Ω does not leave the ball: P_Ω is nonexpansive and P_Ω(x) = x.
    """
    d = candidates - x
    norm = jnp.sqrt(linalg.tree_sum(linalg.as_rounded(d * d)))[:, None]
    limit = theta * radius
    d = d * jnp.minimum(1.0, limit / jnp.where(norm > 0, norm, 1.0))
    points = x + d
    if problem.constraint is not None:
        points = jax.vmap(problem.constraint.project)(points)
        points = problem.constraint.clip_points(points)
    return points


def search_step(problem: Any, state: State, active: Array) -> tuple[State, Array]:
    """Evaluate the strategy's candidates and accept the best on sufficient decrease.

    Accepted iff f(c) ≤ f(x_k) − ρ(Δ_k) (second paper, Algorithm 2.1) and f(c) < f(x_k)
    (the same test where ρ(Δ_k) is below the rounding of f(x_k)); then x moves there,
    Δ grows as after a successful step, and the rigorous step is skipped.  The search is
    only tried when its candidates and what the iteration still needs after them (the
    gradient if due, and the trial point) fit in the budget.

    Returns:
        The new state and whether the search succeeded.
    """
    strategy = problem.search
    q = strategy.num_candidates
    active = active & stopping.optional_evaluations_fit(problem, state, q)
    x, radius, counters = state.iterate.x, state.region.radius, state.counters
    proposed = strategy.propose(view(problem, state))
    expected = (q, x.shape[0])
    if getattr(proposed, "shape", None) != expected:  # a wrong shape would broadcast
        raise ValueError(
            f"{type(strategy).__name__}.propose must return candidates of shape "
            f"(num_candidates, n) = {expected}, got {getattr(proposed, 'shape', proposed)}."
        )
    points = safeguard(problem, x, proposed, radius, strategy.theta)
    valid = jnp.all(jnp.isfinite(points), axis=1) & record_lib.inside(problem.constraint, points)
    evaluation, record = record_lib.evaluate(
        problem, state.record, points, active & valid, jnp.ones(q, bool), state.iterate
    )
    values = evaluation.values
    candidates = jnp.where(active & valid & jnp.isfinite(values), values, jnp.inf)
    i = jnp.argmin(candidates)
    # f(c) ≤ f(x_k) − ρ(Δ_k), and strictly below f(x_k): in floating point f − ρ(Δ) rounds
    # to f once ρ(Δ) < ulp(f) / 2, and a candidate without decrease must not be accepted.
    f_k = state.iterate.f
    success = active & (candidates[i] <= f_k - strategy.sufficient_decrease(radius))
    success = success & (candidates[i] < f_k)
    residuals = None if evaluation.residuals is None else evaluation.residuals[i]
    new = acceptance.move(
        problem, state._replace(record=record), state, success, points[i], candidates[i], residuals
    )
    new = new._replace(
        region=new.region._replace(
            radius=jnp.where(success, acceptance.enlarged_radius(problem, radius), radius),
            needs_gradient=success | state.region.needs_gradient,
        ),
        counters=counters._replace(
            nit=counters.nit + success.astype(_INT),
            n_search=counters.n_search + active.astype(_INT),
            n_search_successful=counters.n_search_successful + success.astype(_INT),
        ),
        last_step=jnp.where(success, StepKind.SEARCH, state.last_step).astype(_INT),
    )
    return select(active, new, state), success


def before_gradient(problem: Any, state: State, running: Array) -> tuple[State, Array]:
    """The search at a new iterate, before its gradient is paid for (strategies with
    ``before_gradient=True``), with the model already at hand (in least squares J after
    Broyden's update).  Returns the state and whether it succeeded."""
    strategy = problem.search
    if strategy is None or not strategy.before_gradient:
        return state, jnp.asarray(False)
    model = state.model
    return search_step(problem, state, running & state.region.needs_gradient & model.has_prev)


def after_gradient(problem: Any, state: State, rigorous: Array) -> tuple[State, Array]:
    """The search after Step 1, right before Steps 2–4 (every configured strategy)."""
    if problem.search is None:
        return state, jnp.asarray(False)
    return search_step(problem, state, rigorous)
