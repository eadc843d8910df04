"""The stopping rules: every test that ends a run, in one place, in order of precedence.

The budget test looks ahead: an iteration is only started when all the evaluations it
cannot do without (the gradient if due, plus the trial point) fit in the budget, and an
optional evaluation (a search) only when those still fit after it
(:func:`evaluations_still_needed`), so ``nfev`` never exceeds ``max_evals``.  Then
Δ ≤ Δ_tol (``radius_tol``), the iteration cap, the practical xtol/ftol test on the last
accepted step (``CONVERGED``) and the target value.  A status other than RUNNING is final.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from trfd_jax._src import finite_differences as fd
from trfd_jax._src import record as record_lib
from trfd_jax._src.solution import Status
from trfd_jax._src.state import State, StepKind

Array = jax.Array

_INT = jnp.int32

MAX_FAILED_GRADIENTS = 16
"""Gradients in a row with a NaN or inf value that end the run (``NONFINITE_VALUES``).
Each failure halves τ and Δ (Step 1), so by then f was not finite anywhere on stencils
2¹⁶ times shorter than the first: the run would only spend ~n evaluations per halving
until Δ reached Δ_tol (some 33 halvings from Δ₀ = 1) to end the same way."""


def evaluations_still_needed(problem: Any, state: State) -> Array:
    """The evaluations the rest of the iteration cannot do without: the gradient at x_k if
    one is due (fixed variables cost none) and the trial point of Steps 2–4.

    The one budget rule: an iteration starts only if these fit, and an optional evaluation
    (a search step, before or after the gradient) is made only if these still fit after
    it.  So ``nfev`` never exceeds ``max_evals``, whatever is configured.
    """
    region = state.region
    central = region.central if fd.switchable(problem.options) else None
    gradient_cost = fd.evaluations_needed(
        problem.constraint, problem.options.fd_scheme, state.iterate.x, fd.steps(region), central
    )
    return jnp.where(region.needs_gradient, gradient_cost, 0) + 1


def optional_evaluations_fit(problem: Any, state: State, count: int) -> Array:
    """Whether ``count`` optional evaluations fit in the budget now, with what the
    iteration still needs after them (:func:`evaluations_still_needed`)."""
    need = count + evaluations_still_needed(problem, state)
    return record_lib.fits(state.record, need, problem.max_evals)


def update_status(problem: Any, state: State) -> State:
    """Set the status from the stopping tests (later tests win when several fire)."""
    opts = problem.options
    region = state.region
    need = evaluations_still_needed(problem, state)
    small = region.radius <= problem.parameters.radius_tol
    checks = [
        (~record_lib.fits(state.record, need, problem.max_evals), Status.MAX_EVALS),
        (small, Status.RADIUS_TOL),
        # Δ fell to Δ_tol because nothing could be evaluated, not because x is stationary.
        (small & (state.last_step == StepKind.GRADIENT_FAILED), Status.NONFINITE_VALUES),
        (state.counters.failed_gradients >= MAX_FAILED_GRADIENTS, Status.NONFINITE_VALUES),
        (small & (state.last_step == StepKind.INFEASIBLE_TRIAL), Status.PROJECTION_FAILED),
        (state.last_step == StepKind.NOISE_FLOOR, Status.NOISE_FLOOR),
    ]
    if opts.max_iter is not None:
        checks.append((state.counters.nit >= opts.max_iter, Status.MAX_ITER))
    if opts.xtol is not None and opts.ftol is not None:
        checks.append((state.iterate.small_move, Status.CONVERGED))
    if opts.f_target is not None:
        checks.append((state.record.best_f <= opts.f_target, Status.TARGET_REACHED))
    new_status = jnp.asarray(Status.RUNNING, _INT)
    for fired, code in checks:
        new_status = jnp.where(fired, jnp.asarray(code, _INT), new_status)
    status = jnp.where(state.status == Status.RUNNING, new_status, state.status)
    return state._replace(status=status.astype(_INT))
