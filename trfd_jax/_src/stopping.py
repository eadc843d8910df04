"""The stopping rules: every test that ends a run, in one place, in order of precedence.

The budget test looks ahead: an iteration is only started when all the evaluations it may
need (the gradient if due, plus the trial point) fit in the budget, so ``nfev`` never
exceeds ``max_evals``.  Then Δ ≤ Δ_tol (``radius_tol``), the iteration cap, the practical
xtol/ftol test on the last accepted step (``CONVERGED``) and the target value.  A status
other than RUNNING is final.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from trfd_jax._src import finite_differences as fd
from trfd_jax._src import record as record_lib
from trfd_jax._src.solution import Status
from trfd_jax._src.state import State

_INT = jnp.int32


def update_status(problem: Any, state: State) -> State:
    """Set the status from the stopping tests (later tests win when several fire)."""
    opts = problem.options
    region = state.region
    gradient_cost = fd.evaluations_needed(
        problem.constraint, opts.fd_scheme, state.iterate.x, region.fd_step
    )
    need = jnp.where(region.needs_gradient, gradient_cost, 0) + 1
    checks = [
        (~record_lib.fits(state.record, need, problem.max_evals), Status.MAX_EVALS),
        (region.radius <= problem.parameters.radius_tol, Status.RADIUS_TOL),
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
