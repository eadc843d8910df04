"""How the solver evaluates the objective: always a batch of points with an "active" mask.

Every evaluation in TRFD-S goes through :func:`evaluate_batch`: the n (or 2n) points of a
finite-difference gradient, a trial point, search-step candidates.  The mask says which
points the algorithm really needs; only those are counted in ``nfev`` and in the history.
A JAX-native objective is ``jax.vmap``-ed over the batch (the whole batch is skipped with
``lax.cond`` when nothing is active and the call is not batched).  An objective object
that defines ``evaluate_batch(points, active)`` (the black-box bridge) receives the mask and
evaluates only the active points on the host.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array


@runtime_checkable
class BatchObjective(Protocol):
    """An objective that evaluates whole masked batches itself (e.g. on the host)."""

    def evaluate_batch(self, points: Array, active: Array, args: Any) -> Array:
        """Values at the active rows of ``points`` (k, n); inactive rows may hold anything."""
        ...


def call_objective(fun: Any, x: Array, args: Any) -> Array:
    """f(x) for a JAX-native objective, with or without extra ``args``."""
    return fun(x) if args is None else fun(x, args)


def evaluate_batch(fun: Any, points: Array, active: Array, args: Any) -> Array:
    """f at every active row of ``points`` (k, n), as an array (k,) of the points' dtype.

    Inactive rows hold NaN (never read by the solver).
    """
    dtype = points.dtype
    if isinstance(fun, BatchObjective):
        values = fun.evaluate_batch(points, active, args)
    else:
        values = lax.cond(
            jnp.any(active),
            lambda p: jax.vmap(lambda x: call_objective(fun, x, args))(p).astype(dtype),
            lambda p: jnp.full(p.shape[:1], jnp.nan, dtype),
            points,
        )
    return jnp.where(active, values.astype(dtype), jnp.nan)
