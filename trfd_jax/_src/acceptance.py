"""Accepting a point as the next iterate — after a successful trust-region step (Step 3) or
a successful search step (second paper) — and the radius that goes with it."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from trfd_jax._src import linalg
from trfd_jax._src.model import gauss_newton
from trfd_jax._src.state import Iterate, State

Array = jax.Array


def enlarged_radius(problem: Any, radius: Array) -> Array:
    """Δ_{k+1} = min(γ_inc Δ_k, Δ_max) after a success (γ_inc = 2 in the paper)."""
    return jnp.minimum(radius * problem.options.radius_increase, problem.parameters.radius_max)


def _small(options: Any, x_old: Array, f_old: Array, x: Array, f: Array) -> Array:
    """‖x − x_k‖ ≤ xtol (1 + ‖x_k‖) and |f(x_k) − f| ≤ ftol (1 + |f(x_k)|): a move too small
    to matter (optimistix's Cauchy test with atol = rtol).  False when either is None."""
    if options.xtol is None or options.ftol is None:
        return jnp.asarray(False)
    s = x - x_old
    step_ok = linalg.norm(s) <= options.xtol * (1.0 + linalg.norm(x_old))
    return step_ok & (jnp.abs(f_old - f) <= options.ftol * (1.0 + jnp.abs(f_old)))


def move(
    problem: Any,
    new: State,
    old: State,
    accept: Array,
    x: Array,
    f: Array,
    residuals: Array | None,
) -> State:
    """Where ``accept``: x_{k+1} = x with value f (and F(x) in least squares).

    ``old`` is the state before the step and ``new`` the state after its evaluations.
    (x_k, g_k) become the previous iterate and gradient of the next quasi-Newton update
    only when g_k was computed at x_k: after a move without a new gradient (a search step
    before Step 1), the pair stays at the last point that has a gradient, so that s and y
    of the next update belong together.  In least squares J gets Broyden's update.
    ``small_move`` records whether the move met the practical convergence test
    (``Options.xtol`` and ``ftol``).
    """
    pair = accept & ~old.region.needs_gradient
    iterate, model = old.iterate, old.model
    new_iterate = Iterate(
        x=jnp.where(accept, x, iterate.x),
        f=jnp.where(accept, f, iterate.f),
        residuals=None if residuals is None else jnp.where(accept, residuals, iterate.residuals),
        small_move=accept & _small(problem.options, iterate.x, iterate.f, x, f),
    )
    jacobian = model.jacobian
    if residuals is not None:
        s = x - iterate.x
        jacobian = gauss_newton.broyden_update(jacobian, iterate.residuals, residuals, s, accept)
    new_model = new.model._replace(
        x_prev=jnp.where(pair, iterate.x, model.x_prev),
        gradient_prev=jnp.where(pair, model.gradient, model.gradient_prev),
        has_prev=model.has_prev | pair,
        jacobian=jacobian,
    )
    return new._replace(iterate=new_iterate, model=new_model)
