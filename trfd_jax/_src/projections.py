"""Euclidean projections used by the constrained subproblem.

* :func:`project_box_ball` — exact projection onto {l ≤ d ≤ u} ∩ {‖d‖ ≤ Δ} (l ≤ 0 ≤ u).
* :func:`dykstra` — Dykstra's alternating projections onto an intersection of closed
  convex sets (Boyle & Dykstra 1986; Bauschke & Combettes, Convex Analysis, §30.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array


def project_ball(d: Array, radius: Array) -> Array:
    """argmin ‖p − d‖ s.t. ‖p‖ ≤ Δ: d scaled back to the sphere if it is outside."""
    norm = jnp.sqrt(d @ d)
    return d * jnp.minimum(1.0, radius / jnp.where(norm > 0, norm, 1.0))


def project_box_ball(z: Array, lower: Array, upper: Array, radius: Array) -> Array:
    """Exact projection of z onto {lower ≤ d ≤ upper} ∩ {‖d‖ ≤ Δ}, with lower ≤ 0 ≤ upper.

    The KKT conditions of argmin ½‖d − z‖² + ½μ(‖d‖² − Δ²) over the box separate by
    coordinate: d(μ) = clip(z / (1 + μ), lower, upper) for the multiplier μ ≥ 0, μ = 0 when
    ‖clip(z)‖ ≤ Δ, else the root of ‖d(μ)‖ = Δ, which is nonincreasing in μ and lies in
    [0, ‖z‖/Δ − 1].  The root is found by bisection to full precision (a fixed number of
    halvings of the bracket), so the result is feasible by construction.
    """
    dtype = z.dtype
    clipped = jnp.clip(z, lower, upper)
    inside = clipped @ clipped <= radius**2
    z_norm = jnp.sqrt(z @ z)
    hi = jnp.maximum(z_norm / radius - 1.0, 0.0)
    iterations = 2 + int(jnp.finfo(dtype).nmant) + 12  # halvings to exhaust the mantissa

    def body(_, bracket):
        lo_mu, hi_mu = bracket
        mid = 0.5 * (lo_mu + hi_mu)
        d = jnp.clip(z * (1.0 / (1.0 + mid)), lower, upper)  # see below
        too_long = d @ d > radius**2
        return jnp.where(too_long, mid, lo_mu), jnp.where(too_long, hi_mu, mid)

    _, mu = lax.fori_loop(0, iterations, body, (jnp.zeros((), dtype), hi))
    # z · (1/(1+μ)), not z/(1+μ): XLA turns a division by a broadcast scalar into this
    # product in an unbatched program but not always under vmap; written out, a vmapped
    # run rounds as a loop over starts does.
    d = jnp.clip(z * (1.0 / (1.0 + mu)), lower, upper)
    return jnp.where(inside, clipped, d)


def dykstra(
    z: Array,
    projections: Sequence[Callable[[Array], Array]],
    max_iter: int,
    tol: float,
) -> Array:
    """Projection of z onto ∩ᵢ Cᵢ by Dykstra's algorithm, given each P_{Cᵢ}.

    Sweeps P₁, …, P_k with the correction increments p_i; stops when a sweep changes the
    point and the increments by at most ``tol`` (1 + ‖z‖) (the point alone can stall for a
    sweep while the increments still change), or after ``max_iter`` sweeps.  The result is the
    last P_k output (exactly inside the last set, within tolerance of the others).
    """
    k = len(projections)
    scale = 1.0 + jnp.sqrt(z @ z)

    def sweep(carry):
        x, increments, _, it = carry
        start = x
        new_increments = []
        for i, project in enumerate(projections):
            y = project(x + increments[i])
            new_increments.append(x + increments[i] - y)
            x = y
        new_increments = jnp.stack(new_increments)
        change = new_increments - increments
        moved = jnp.sqrt((x - start) @ (x - start) + jnp.sum(change * change))
        return x, new_increments, moved, it + 1

    def cond(carry):
        _, _, moved, it = carry
        return (it < max_iter) & (moved > tol * scale)

    init = (z, jnp.zeros((k, *z.shape), z.dtype), jnp.asarray(jnp.inf, z.dtype), 0)
    x, _, _, _ = lax.while_loop(cond, sweep, init)
    return x
