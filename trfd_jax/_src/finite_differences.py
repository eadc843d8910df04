"""Step 1 of TRFD-S: the finite-difference gradient g_k.

Forward differences (Algorithm 1, Step 1):

    g_k[j] = ( f(x_k + h_j e_j) − f(x_k) ) / h_j,      j = 1..n,

with h_j = τ_k, or, with unrelaxable bounds (§3.4), the signed one-sided step that keeps
x_k + h_j e_j inside the box (the feasible set supplies h).  Central differences
(Remark 2.5) use f(x_k + h⁺_j e_j) and f(x_k − h⁻_j e_j), h± = τ_k unless a bound is
closer.  Lemma 2.4: ‖g_k − ∇f(x_k)‖ ≤ √n L τ_k / 2 for forward differences.

A zero step means "no evaluation along e_j" (a fixed variable): its entry is 0.  All points
of one gradient are built with one ``jax.vmap`` over the coordinate directions and
evaluated by the caller in one batch.  In least-squares mode the same points give the
Jacobian J_k, one quotient per residual.  Quotients divide by the step actually taken after
rounding, (x + h e_j)_j − x_j, which removes the representation error of x + h.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array


def steps(region: Any) -> Array:
    """The stencil's step along each axis: τ, or τ s_j with the noise handling's
    per-coordinate factors (``Region.fd_scale``, noise.coordinate_scales)."""
    if region.fd_scale is None:
        return region.fd_step
    return region.fd_step * region.fd_scale


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


def stencil(constraint: Any, scheme: str, x: Array, fd_step: Array) -> tuple[Array, Array]:
    """The points of Step 1 at x for the step τ = ``fd_step`` (a scalar, or one step per
    axis), and which are evaluated.

    The feasible set supplies the steps (§3.4: one-sided steps inside an unrelaxable box,
    none along a fixed variable) and pulls rounded points back into the box.
    """
    if scheme == "forward":
        steps = jnp.full_like(x, fd_step) if constraint is None else constraint.fd_steps(x, fd_step)
        points, active = forward_points(x, steps)
    else:
        if constraint is None:
            plus = minus = jnp.full_like(x, fd_step)
        else:
            plus, minus = constraint.fd_central_steps(x, fd_step)
        points, active = central_points(x, plus, minus)
    if constraint is not None:
        points = constraint.clip_points(points)  # rounding must not leave the box
    return points, active


def switchable(options: Any) -> bool:
    """Whether forward differences may turn into central ones during the run: with noise
    handling (``Options.noise_level``), when forward ones reach the noise floor (noise.py)."""
    return options.fd_scheme == "forward" and options.noise_level is not None


def switched_stencil(
    constraint: Any, x: Array, fd_step: Array, central: Array
) -> tuple[Array, Array]:
    """The stencil of a switchable run, one shape for both schemes (2n points): the
    forward points and n unused rows, or the central points when ``central``."""
    forward, forward_active = stencil(constraint, "forward", x, fd_step)
    both, both_active = stencil(constraint, "central", x, fd_step)
    n = x.shape[0]
    points = jnp.where(central, both, jnp.concatenate([forward, both[n:]]))
    unused = jnp.zeros(n, bool)
    active = jnp.where(central, both_active, jnp.concatenate([forward_active, unused]))
    return points, active


def switched_gradient(
    central: Array, f_x: Array, values: Array, x: Array, points: Array, active: Array
) -> Array:
    """g_k from :func:`switched_stencil`'s values."""
    n = x.shape[0]
    forward = forward_gradient(f_x, values[:n], x, points[:n], active[:n])
    return jnp.where(central, central_gradient(f_x, values, x, points, active), forward)


def evaluations_needed(
    constraint: Any, scheme: str, x: Array, fd_step: Array, central: Array | None = None
) -> Array:
    """How many evaluations a gradient at x costs (fixed variables cost none)."""
    if central is not None:
        _, active = switched_stencil(constraint, x, fd_step, central)
    else:
        _, active = stencil(constraint, scheme, x, fd_step)
    return jnp.sum(active, dtype=jnp.int32)


def gradient(
    scheme: str, f_x: Array, values: Array, x: Array, points: Array, active: Array
) -> Array:
    """g_k from the values at the stencil's points (forward or central quotients)."""
    quotients = forward_gradient if scheme == "forward" else central_gradient
    return quotients(f_x, values, x, points, active)


def jacobian(
    scheme: str,
    residuals_x: Array,
    residuals: Array,
    x: Array,
    points: Array,
    active: Array,
    central: Array | None = None,
) -> Array:
    """J_k (m, n): one difference quotient per residual, from the residual vectors (k, m)
    at the stencil's points and F(x_k) (m,) (``central``: a :func:`switched_stencil`)."""

    def row(r, r_x):
        if central is not None:
            return switched_gradient(central, r_x, r, x, points, active)
        return gradient(scheme, r_x, r, x, points, active)

    return jax.vmap(row, in_axes=(1, 0))(residuals, residuals_x)
