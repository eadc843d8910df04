"""The stationarity measure π of the first paper (spec "Stationarity"), as a diagnostic.

    π(x) = | min { ∇f(x)ᵀd : x + d ∈ Ω, ‖d‖ ≤ 1 } |     (= ‖∇f(x)‖ when Ω = Rⁿ)

x is ε-approximately stationary when π(x) ≤ ε.  The method never computes π; it is for
tests, benchmarks and users who have a gradient (``jax.grad`` of a JAX objective) and
want to know how stationary a returned point is.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trfd_jax._src import linalg
from trfd_jax._src.sets import ConvexSet

Array = jax.Array

# The minimizer of gᵀd over C = (Ω − x) ∩ B(0, 1) is the limit of P_C(−c g) as c → ∞;
# with c = _SCALE / ‖g‖ the value gᵀd is within ‖g‖ / (2 _SCALE) of the minimum.
_SCALE = 1e8


def stationarity(
    gradient: Array,
    x: Array,
    constraint: ConvexSet | None = None,
    *,
    max_iter: int = 1000,
    tol: float = 1e-14,
) -> Array:
    """π(x) for the gradient ∇f(x) at x ∈ Ω.

    Args:
        gradient: ∇f(x), shape (n,) (e.g. ``jax.grad(f)(x)``).
        x: the point, shape (n,), in Ω.
        constraint: Ω — a checked set such as ``problem.constraint`` (a ``Box`` is exact:
            the box ∩ ball projection is exact), or None for Rⁿ.
        max_iter, tol: Dykstra's caps for sets without an exact projection onto
            Ω ∩ B(x, 1) (then π is approximate).

    Returns:
        π(x) ≥ 0, a scalar.
    """
    g = jnp.asarray(gradient)
    norm = linalg.norm(g)
    if constraint is None:
        return norm
    project = constraint.step_projection(x, jnp.ones((), g.dtype), max_iter, tol)
    d = project(-g * (_SCALE / jnp.where(norm > 0, norm, 1.0)))
    return jnp.where(norm > 0, jnp.abs(jnp.minimum(linalg.dot(g, d), 0.0)), 0.0)
