"""The least-squares model of f = ‖F‖² (second paper §3; spec "search-step.md").

With J_k the finite-difference Jacobian of F at x_k (the same n evaluations as g_k):

* g_k = 2 J_kᵀ F(x_k), the gradient of ‖F‖² at x_k;
* H_k = 2 J_kᵀ J_k, the Gauss–Newton Hessian (``Options(hessian="gauss_newton")`` and the
  Gauss–Newton search step);
* after a move to x_{k+1} without a new Jacobian, Broyden's secant update
  J ← J + (F(x_{k+1}) − F(x_k) − J s) sᵀ / sᵀs, s = x_{k+1} − x_k, the best guess of the
  Jacobian at x_{k+1} until Step 1 recomputes it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trfd_jax._src import linalg

Array = jax.Array


def gradient(jacobian: Array, residuals: Array) -> Array:
    """g = 2 Jᵀ F."""
    return 2.0 * linalg.rmatvec(jacobian, residuals)


def hessian(jacobian: Array) -> Array:
    """H = 2 Jᵀ J (``linalg.gram``)."""
    return 2.0 * linalg.gram(jacobian)


def broyden_update(
    jacobian: Array, residuals: Array, new_residuals: Array, s: Array, accept: Array
) -> Array:
    """Broyden's update of J for the move s (where ``accept``; else, or when the update
    is not finite or s = 0, J is kept)."""
    ss = linalg.dot(s, s)
    broyden = jacobian + jnp.outer(
        new_residuals - residuals - linalg.matvec(jacobian, s), s
    ) / jnp.where(ss > 0, ss, 1.0)
    ok = accept & (ss > 0) & jnp.all(jnp.isfinite(broyden))
    return jnp.where(ok, broyden, jacobian)
