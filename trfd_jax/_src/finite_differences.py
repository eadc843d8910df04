"""Step 1 of TRFD-S: the finite-difference gradient g_k.

Forward differences (Algorithm 1, Step 1):

    g_k[j] = ( f(x_k + h_j e_j) − f(x_k) ) / h_j,      j = 1..n,

with h_j = τ_k, or, with unrelaxable bounds (§3.4), the signed one-sided step that keeps
x_k + h_j e_j inside the box (``constraints`` supplies h).  Central differences (Remark 2.5)
use f(x_k ± h_j e_j).  Lemma 2.4: ‖g_k − ∇f(x_k)‖ ≤ √n L τ_k / 2 for forward differences.

All points of one gradient are built here with one ``jax.vmap`` over the coordinate
directions, and evaluated by the caller in one batch (one ``vmap`` of f, or one host
callback for black-box objectives).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trfd_jax._src.options import FDScheme

Array = jax.Array


def fd_points(x: Array, steps: Array, scheme: FDScheme) -> tuple[Array, Array]:
    """The points at which Step 1 evaluates f.

    Args:
        x: the iterate x_k, shape (n,).
        steps: signed steps h, shape (n,); h_j = 0 means "no evaluation along e_j" (a fixed
            variable, whose gradient entry is 0).
        scheme: ``"forward"`` (n points) or ``"central"`` (2n points: all +h, then all −h).

    Returns:
        ``(points, active)``: points of shape (n, n) or (2n, n), and which of them must be
        evaluated.
    """
    n = x.shape[0]
    basis = jnp.eye(n, dtype=x.dtype)
    along = jax.vmap(lambda e, h: x + h * e)
    active = steps != 0
    if scheme == "forward":
        return along(basis, steps), active
    points = jnp.concatenate([along(basis, steps), along(basis, -steps)])
    return points, jnp.concatenate([active, active])


def effective_steps(x: Array, points: Array, n: int) -> Array:
    """The steps actually taken after rounding, (x + h e_j)_j − x_j (first n points).

    Dividing by the rounded step rather than by h removes the representation error of
    x + h from the difference quotient.
    """
    return jnp.diagonal(points[:n]) - x


def fd_gradient(
    f_x: Array, values: Array, x: Array, points: Array, steps: Array, scheme: FDScheme
) -> Array:
    """The difference quotients of Step 1 from the values at ``fd_points``.

    Entries with h_j = 0 are 0.  A non-finite value gives a non-finite entry, which the
    caller treats as a failed gradient.
    """
    n = x.shape[0]
    h = effective_steps(x, points, n)
    safe_h = jnp.where(h != 0, h, 1.0)
    if scheme == "forward":
        g = (values - f_x) / safe_h
    else:
        h_minus = x - jnp.diagonal(points[n:])
        g = (values[:n] - values[n:]) / jnp.where(h != 0, h + h_minus, 1.0)
    return jnp.where(steps != 0, g, 0.0)
