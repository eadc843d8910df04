"""Euclidean projections used by the constrained subproblem.

* :func:`project_box_ball` — exact projection onto {l ≤ d ≤ u} ∩ {‖d‖ ≤ Δ} (l ≤ 0 ≤ u).
* :func:`project_simplex`, :func:`project_l1_ball` — the sort-based projections (Held,
  Wolfe & Crowder 1974; Duchi et al. 2008) with prefix sums that round alike batched and
  unbatched (optax's use ``cumsum`` and ``sum``, which a ``vmap`` may sum in another
  order: a vmapped start then left a lone one after a few iterations).
* :func:`dykstra` — Dykstra's alternating projections onto an intersection of closed
  convex sets (Boyle & Dykstra 1986; Bauschke & Combettes, Convex Analysis, §30.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from trfd_jax._src import linalg

Array = jax.Array


def project_ball(d: Array, radius: Array) -> Array:
    """argmin ‖p − d‖ s.t. ‖p‖ ≤ Δ: d scaled back to the sphere if it is outside."""
    norm = linalg.norm(d)
    return linalg.as_rounded(d * jnp.minimum(1.0, radius / jnp.where(norm > 0, norm, 1.0)))


# Up to this n the prefix sums are n tree sums over masked copies (O(n²) adds, rounded
# alike in every batch); above it, ``jnp.cumsum`` (O(n), its order is XLA's).
PREFIX_TREE_MAX = 256


def _prefix_sums(u: Array) -> Array:
    n = u.shape[0]
    if n > PREFIX_TREE_MAX:
        return jnp.cumsum(u)
    upto = jnp.arange(n)[None, :] <= jnp.arange(n)[:, None]  # row k: entries 0..k
    return linalg.tree_sum(jnp.where(upto, u[None, :], 0.0))


def project_simplex(x: Array, scale: Array) -> Array:
    """argmin ‖p − x‖ s.t. p ≥ 0, Σ p = ``scale`` (> 0): p = max(x − θ, 0), θ from the
    sorted entries u₁ ≥ … ≥ u_n: θ = (Σ_{i≤ρ} u_i − scale)/ρ for the largest ρ with
    u_ρ > (Σ_{i≤ρ} u_i − scale)/ρ."""
    n = x.shape[0]
    u = -jnp.sort(-x)
    # 1/ρ as constants: XLA turns a division by a constant into a product by its
    # reciprocal in some programs and not in others.
    reciprocals = jnp.asarray(1.0 / np.arange(1, n + 1), x.dtype)
    thresholds = (_prefix_sums(u) - scale) * reciprocals
    rho = jnp.max(jnp.where(u > thresholds, jnp.arange(n), 0))  # u₁ > θ₁ always holds
    return jnp.maximum(x - thresholds[rho], 0.0)


def project_l1_ball(x: Array, radius: Array) -> Array:
    """argmin ‖p − x‖ s.t. ‖p‖₁ ≤ ``radius``: x if inside, else sign(x) times the
    projection of |x| onto the simplex of that scale."""
    inside = linalg.tree_sum(jnp.abs(x)) <= radius
    return jnp.where(inside, x, jnp.sign(x) * project_simplex(jnp.abs(x), radius))


def project_box_ball(z: Array, lower: Array, upper: Array, radius: Array) -> Array:
    """Exact projection of z onto {lower ≤ d ≤ upper} ∩ {‖d‖ ≤ Δ}, with lower ≤ 0 ≤ upper.

    The KKT conditions of argmin ½‖d − z‖² + ½μ(‖d‖² − Δ²) over the box separate by
    coordinate: d = clip(s z, lower, upper) with s = 1/(1 + μ) ∈ (0, 1]; s = 1 when
    ‖clip(z)‖ ≤ Δ, else the root of ψ(s) = ‖clip(s z)‖² = Δ².  With aᵢ = |zᵢ| and bᵢ ≥ 0 the
    bound on zᵢ's side, ψ(s) = Σᵢ min(s aᵢ, bᵢ)² is nondecreasing and quadratic between
    the breakpoints sⱼ = bⱼ/aⱼ where coordinate j reaches its bound.  The root lies past
    the largest breakpoint s_lo with ψ(s_lo) ≤ Δ² (all n evaluated at once: n² terms, no
    sort), where ψ(s) = C + s² A with C the saturated coordinates' Σ bᵢ² and A the others'
    Σ aᵢ², so s = √((Δ² − C) / A).  A last scaling keeps ‖d‖ ≤ Δ despite rounding.
    """
    dtype = z.dtype
    eps = jnp.finfo(dtype).eps
    clipped = jnp.clip(z, lower, upper)
    radius2 = linalg.as_rounded(radius * radius)  # never fused into Δ² − C
    inside = linalg.dot(clipped, clipped) <= radius2
    a = jnp.abs(z)
    b = jnp.where(z > 0, upper, -lower)  # ≥ 0, may be inf
    saturates = a > b  # within s ≤ 1
    breaks = jnp.where(saturates, b / jnp.where(saturates, a, 1.0), jnp.inf)
    # ψ(sⱼ) for every j (rows): Σᵢ min(sⱼ aᵢ, bᵢ)²; a breakpoint at inf is never a candidate.
    terms = jnp.minimum(jnp.where(saturates, breaks, 0.0)[:, None] * a[None, :], b[None, :])
    psi = linalg.tree_sum(linalg.as_rounded(terms * terms))
    candidate = saturates & (psi <= radius2)
    s_lo = jnp.max(jnp.where(candidate, breaks, 0.0))
    held = saturates & (breaks <= s_lo)
    fixed = linalg.dot(jnp.where(held, b, 0.0), jnp.where(held, b, 0.0))
    free = jnp.where(held, 0.0, a)
    curvature = linalg.dot(free, free)
    s = jnp.sqrt(jnp.maximum(radius2 - fixed, 0.0) / jnp.where(curvature > 0, curvature, 1.0))
    d = jnp.clip(jnp.minimum(s, 1.0) * z, lower, upper)
    # Rounding may leave ‖d‖ an ulp above Δ: scale back (the box holds 0, so d stays in it).
    norm = linalg.norm(d)
    d = linalg.as_rounded(d * jnp.where(norm > radius, (radius / norm) * (1 - 4 * eps), 1.0))
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
    scale = 1.0 + linalg.norm(z)

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
        moved = jnp.sqrt(
            linalg.dot(x - start, x - start) + linalg.dot(change.ravel(), change.ravel())
        )
        return x, new_increments, moved, it + 1

    def cond(carry):
        _, _, moved, it = carry
        return (it < max_iter) & (moved > tol * scale)

    init = (z, jnp.zeros((k, *z.shape), z.dtype), jnp.asarray(jnp.inf, z.dtype), 0)
    x, _, _, _ = lax.while_loop(cond, sweep, init)
    return x
