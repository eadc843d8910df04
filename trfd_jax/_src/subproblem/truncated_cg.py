"""Step 2 when Ω = Rⁿ and n is large: Steihaug–Toint truncated conjugate gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from trfd_jax._src import linalg
from trfd_jax._src.model import model_value
from trfd_jax._src.subproblem.exact import norm

Array = jax.Array


def solve_truncated_cg(
    g: Array, hessian: Array, radius: Array, max_iter: int, rtol: float
) -> Array:
    """Steihaug–Toint truncated conjugate gradients on gᵀd + ½ dᵀHd over ‖d‖ ≤ Δ.

    For large n: O(n²) per iteration and no eigendecomposition.  The first iterate is the
    Cauchy step and the model decreases monotonically, so the result satisfies the paper's
    condition (6) (Conn, Gould & Toint, Theorem 7.5.1); it is not the global minimizer
    when H is indefinite.  Stops at the boundary (negative curvature or ‖d‖ reaching Δ),
    when ‖r‖ ≤ rtol ‖g‖, or after ``max_iter`` iterations.
    """
    dtype = g.dtype
    g_norm = norm(g)

    def to_boundary(z, p):
        # τ ≥ 0 with ‖z + τ p‖ = Δ.
        pp, zp, zz = linalg.dot(p, p), linalg.dot(z, p), linalg.dot(z, z)
        disc = jnp.sqrt(jnp.maximum(zp * zp + pp * (radius**2 - zz), 0.0))
        return z + ((disc - zp) / jnp.where(pp > 0, pp, 1.0)) * p

    def body(carry):
        k, z, r, p, _ = carry
        hp = linalg.matvec(hessian, p)
        curvature = linalg.dot(p, hp)
        rr = linalg.dot(r, r)
        alpha = rr / jnp.where(curvature > 0, curvature, 1.0)
        z_next = z + alpha * p
        leaves = (curvature <= 0) | (norm(z_next) >= radius)
        r_next = r + alpha * hp
        beta = linalg.dot(r_next, r_next) / jnp.where(rr > 0, rr, 1.0)
        converged = norm(r_next) <= rtol * g_norm
        z_out = jnp.where(leaves, to_boundary(z, p), z_next)
        return k + 1, z_out, r_next, -r_next + beta * p, leaves | converged

    def cond(carry):
        k, *_, done = carry
        return (k < max_iter) & ~done

    zero = jnp.zeros_like(g)
    init = (0, zero, g, -g, (g_norm == 0) | ~jnp.isfinite(g_norm))
    _, d, _, _, _ = lax.while_loop(cond, body, init)
    d = jnp.where(jnp.all(jnp.isfinite(d)), d, 0.0).astype(dtype)
    return jnp.where(model_value(g, hessian, d) < 0, d, zero)
