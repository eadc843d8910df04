"""How the solver evaluates the objective: always a batch of points with an "active" mask.

Every evaluation in TRFD-S goes through :func:`evaluate_batch`: the n (or 2n) points of a
finite-difference gradient, a trial point, search-step candidates.  The mask says which
points the algorithm really needs; only those are counted in ``nfev`` and in the history.
A JAX-native objective is ``jax.vmap``-ed over the batch (the whole batch is skipped with
``lax.cond`` when nothing is active and the call is not batched).  An objective object
that defines ``evaluate_batch(points, active, args)`` (the black-box bridge) receives the
mask and evaluates only the active points on the host.

In least-squares mode (``trfd_jax.least_squares``) the objective returns the residual
vector F(x) ∈ Rᵐ; the value is f = ‖F‖² and the residuals are handed back too, so that one
finite-difference gradient also gives the Jacobian.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array


@runtime_checkable
class BatchObjective(Protocol):
    """An objective that evaluates whole masked batches itself (e.g. on the host).

    ``evaluate_batch`` returns the values (k,), or, for residual objectives, the residual
    vectors (k, m); inactive rows may hold anything.
    """

    def evaluate_batch(self, points: Array, active: Array, args: Any) -> Array: ...


def call_objective(fun: Any, x: Array, args: Any) -> Array:
    """f(x) (or F(x)) for a JAX-native objective, with or without extra ``args``."""
    return fun(x) if args is None else fun(x, args)


def evaluate_batch(
    fun: Any, points: Array, active: Array, args: Any, residuals: int | None = None
) -> tuple[Array, Array | None]:
    """Values at the active rows of ``points`` (k, n), and residuals in least-squares mode.

    Args:
        residuals: m, the length of F(x), in least-squares mode; None otherwise.

    Returns:
        ``(values, F)``: values (k,) of the points' dtype, NaN on inactive rows; F (k, m)
        in least-squares mode (NaN rows where inactive), else None.
    """
    dtype = points.dtype
    k = points.shape[0]
    out_shape = (k,) if residuals is None else (k, residuals)
    if isinstance(fun, BatchObjective):
        out = fun.evaluate_batch(points, active, args)
    else:
        out = lax.cond(
            jnp.any(active),
            lambda p: jax.vmap(lambda x: call_objective(fun, x, args))(p).astype(dtype),
            lambda p: jnp.full(out_shape, jnp.nan, dtype),
            points,
        )
    out = out.astype(dtype)
    if residuals is None:
        return jnp.where(active, out, jnp.nan), None
    out = jnp.where(active[:, None], out, jnp.nan)
    return jnp.sum(out * out, axis=1), out
