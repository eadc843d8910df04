"""Step 1 of TRFD-S: the finite-difference gradient g_k.

Forward differences (Algorithm 1, Step 1):

    g_k[j] = ( f(x_k + h_j e_j) − f(x_k) ) / h_j,      j = 1..n,

with h_j = τ_k, or, with unrelaxable bounds (§3.4), the signed one-sided step that keeps
x_k + h_j e_j inside the box (the feasible set supplies h).  Central differences
(Remark 2.5) use f(x_k + h⁺_j e_j) and f(x_k − h⁻_j e_j), h± = τ_k unless a bound is
closer.  Lemma 2.4: ‖g_k − ∇f(x_k)‖ ≤ √n L τ_k / 2 for forward differences.

A zero step means "no evaluation along e_j" (a fixed variable): its entry is 0.  All points
of one gradient are built with one ``jax.vmap`` over the coordinate directions and
evaluated by the caller in one batch.  Quotients divide by the step actually taken after
rounding, (x + h e_j)_j − x_j, which removes the representation error of x + h.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def _along_axes(x: Array, steps: Array) -> Array:
    """The n points x + steps_j e_j, shape (n, n).

    Where |x_j| is so large that x_j + h_j rounds back to x_j, the point moves by one unit
    in the last place instead: a zero step would silently zero the gradient entry.
    """
    target = x + steps
    stuck = (target == x) & (steps != 0)
    target = jnp.where(stuck, jnp.nextafter(x, x + jnp.sign(steps) * jnp.inf), target)
    basis = jnp.eye(x.shape[0], dtype=x.dtype)
    return jax.vmap(lambda e, t: jnp.where(e > 0, t, x))(basis, target)


def forward_points(x: Array, steps: Array) -> tuple[Array, Array]:
    """Points x + h_j e_j (shape (n, n)) and which of them are evaluated (h_j ≠ 0)."""
    return _along_axes(x, steps), steps != 0


def central_points(x: Array, plus: Array, minus: Array) -> tuple[Array, Array]:
    """Points x + h⁺_j e_j, then x − h⁻_j e_j (shape (2n, n)), and which are evaluated."""
    points = jnp.concatenate([_along_axes(x, plus), _along_axes(x, -minus)])
    return points, jnp.concatenate([plus > 0, minus > 0])


def _taken(x: Array, points: Array) -> Array:
    return jnp.diagonal(points) - x


def _quotient(numerator: Array, step: Array) -> Array:
    return numerator / jnp.where(step != 0, step, 1.0)


def forward_gradient(f_x: Array, values: Array, x: Array, points: Array, active: Array) -> Array:
    """The forward (or, for negative h, backward) difference quotients of Step 1."""
    h = _taken(x, points)
    return jnp.where(active & (h != 0), _quotient(values - f_x, h), 0.0)


def central_gradient(f_x: Array, values: Array, x: Array, points: Array, active: Array) -> Array:
    """Two-sided quotients where both points were evaluated, one-sided where only one was.

    A non-finite value gives a non-finite entry, which the caller treats as a failed
    gradient.
    """
    n = x.shape[0]
    h_plus = _taken(x, points[:n])
    h_minus = -_taken(x, points[n:])
    plus = active[:n] & (h_plus != 0)
    minus = active[n:] & (h_minus != 0)
    f_plus, f_minus = values[:n], values[n:]
    both = _quotient(f_plus - f_minus, h_plus + h_minus)
    forward = _quotient(f_plus - f_x, h_plus)
    backward = _quotient(f_x - f_minus, h_minus)
    return jnp.where(plus & minus, both, jnp.where(plus, forward, jnp.where(minus, backward, 0.0)))
