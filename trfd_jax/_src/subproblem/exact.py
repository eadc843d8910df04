"""Step 2 when Ω = Rⁿ, exactly: the global minimizer of the trust-region subproblem.

    minimize  m(d) = gᵀd + ½ dᵀHd   subject to  ‖d‖ ≤ Δ

for any symmetric H, indefinite included.  The global minimizer d* is characterised by
(Moré & Sorensen 1983; Nocedal & Wright, Theorem 4.1): there is μ ≥ 0 with

    (H + μI) d* = −g,   H + μI ⪰ 0,   μ (Δ − ‖d*‖) = 0.

With H = Q diag(λ) Qᵀ and ĝ = Qᵀg, d(μ) = −Q (ĝ / (λ + μ)) and μ solves the secular equation
φ(μ) = 1/Δ − 1/‖d(μ)‖ = 0 on μ > max(0, −λ₁).  φ is convex and decreasing there, so Newton's
method from the left of the root never overshoots; a bisection safeguard keeps every iterate
inside the bracket [max(0, −λ₁), max(0, −λ₁) + ‖g‖/Δ] (at the right end ‖d(μ)‖ ≤ Δ).  The
"hard case" (ĝ orthogonal to the eigenspace of λ₁ and ‖d(−λ₁)‖ < Δ) has no root: there
d* = d(−λ₁) + t q₁ with ‖d*‖ = Δ.  Both candidates, and d = 0, are formed and the one with
the lowest model value is returned, which also makes the result robust to rounding in the
nearly-hard case.  The spec's reference uses the generalized-eigenvalue method of Adachi,
Iwata, Nakatsukasa & Takeda (2017); this gives the same global minimizer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from trfd_jax._src import linalg
from trfd_jax._src.model import model_value
from trfd_jax._src.subproblem.eigh_cache import eigh

Array = jax.Array


norm = linalg.norm


def solve_trust_region_subproblem(
    g: Array, hessian: Array, radius: Array, max_iter: int = 50
) -> Array:
    """Global minimizer of gᵀd + ½ dᵀHd over ‖d‖ ≤ Δ (``radius``).

    Args:
        g: model gradient g_k, shape (n,).
        hessian: symmetric model Hessian H_k, shape (n, n); only its symmetric part is used.
        radius: trust-region radius Δ_k > 0.
        max_iter: cap on the safeguarded Newton iterations on the secular equation.

    Returns:
        The step d, shape (n,), with ‖d‖ ≤ Δ (up to rounding).  Non-finite input gives d = 0.
    """
    hessian = 0.5 * (hessian + hessian.T)
    lam, q = eigh(hessian)
    return solve_in_eigenbasis(g, hessian, lam, q, radius, max_iter)


def solve_in_eigenbasis(
    g: Array, hessian: Array, lam: Array, q: Array, radius: Array, max_iter: int = 50
) -> Array:
    """:func:`solve_trust_region_subproblem` given H = Q diag(λ) Qᵀ (λ ascending)."""
    dtype = g.dtype
    eps = jnp.finfo(dtype).eps
    tiny = jnp.finfo(dtype).tiny
    g_hat = linalg.rmatvec(q, g)
    g_norm = norm(g)
    scale = jnp.maximum(jnp.max(jnp.abs(lam)), g_norm / radius) + tiny
    lo = jnp.maximum(0.0, -lam[0])
    hi = lo + g_norm / radius

    def stepnorm(mu):
        den = lam + mu
        ratio = jnp.where(g_hat == 0, 0.0, g_hat / jnp.where(den > 0, den, tiny))
        return norm(ratio), ratio, den

    # --- candidate A: boundary solution ‖d(μ)‖ = Δ by safeguarded Newton on φ(μ) -------
    def cond(carry):
        k, _, _, _, done = carry
        return (k < max_iter) & ~done

    def body(carry):
        k, mu, a, b, _ = carry
        norm, ratio, den = stepnorm(mu)
        phi = 1.0 / radius - 1.0 / norm
        # φ ≥ 0 ⇔ ‖d(μ)‖ ≥ Δ ⇔ μ left of the root.
        left = phi >= 0
        a = jnp.where(left, mu, a)
        b = jnp.where(left, b, mu)
        dphi = -linalg.dot(ratio, ratio / jnp.where(den > 0, den, tiny)) / norm**3
        newton = mu - phi / dphi
        ok = jnp.isfinite(newton) & (newton > a) & (newton < b)
        mu_next = jnp.where(ok, newton, 0.5 * (a + b))
        # From the left Newton cannot overshoot: no progress means μ is the root to
        # rounding (near the pole ‖d(μ)‖ may still be off by many ulps of Δ).
        stalled = left & jnp.isfinite(newton) & (newton <= mu)
        done = (
            (jnp.abs(norm - radius) <= 100 * eps * radius) | (b - a <= eps * (b + tiny)) | stalled
        )
        mu_next = jnp.where(done, mu, mu_next)
        return k + 1, mu_next, a, b, done

    # Start just right of the pole (or at 0 when H ≻ 0) so that ‖d(μ)‖ is finite.
    mu0 = jnp.where(lo > 0, lo * (1 + 4 * eps) + tiny, 0.0)
    _, mu, _, _, _ = lax.while_loop(cond, body, (0, mu0, lo, hi, g_norm == 0))
    norm_a, ratio_a, _ = stepnorm(mu)
    # μ > 0 puts the minimizer on the sphere (complementarity): scale to ‖d‖ = Δ exactly.
    on_sphere = (mu > 0) | (norm_a > radius)
    scale_a = jnp.where(on_sphere, radius / jnp.where(norm_a > 0, norm_a, 1.0), 1.0)
    d_a = -linalg.matvec(q, ratio_a) * scale_a

    # --- candidate B: μ = max(0, −λ₁), the interior Newton step or the hard case ----------
    den_lo = lam + lo
    keep = den_lo > 10 * eps * scale
    ratio_b = jnp.where(keep & (g_hat != 0), g_hat / jnp.where(keep, den_lo, 1.0), 0.0)
    p_b = -linalg.matvec(q, ratio_b)
    norm_b2 = linalg.dot(ratio_b, ratio_b)
    # Only an indefinite or singular H can gain from moving along q₁ to the boundary; the
    # model changes by t ĝ₁ + ½ t² λ₁ along t q₁ (q₁ ⟂ p_b in H's metric), so t ĝ₁ ≤ 0.
    t = jnp.where(lam[0] <= 10 * eps * scale, jnp.sqrt(jnp.maximum(radius**2 - norm_b2, 0.0)), 0.0)
    t = jnp.where(g_hat[0] > 0, -t, t)
    d_b = p_b + linalg.as_rounded(t * q[:, 0])
    feasible_b = norm(d_b) <= radius * (1 + 100 * eps)

    m_a = model_value(g, hessian, d_a)
    m_b = model_value(g, hessian, d_b)
    m_a = jnp.where(jnp.isfinite(m_a), m_a, jnp.inf)
    m_b = jnp.where(feasible_b & jnp.isfinite(m_b), m_b, jnp.inf)
    d = jnp.where(m_b < m_a, d_b, d_a)
    best = jnp.minimum(m_a, m_b)
    # d = 0 (model value 0) is always feasible: the fallback for non-finite input.
    return jnp.where(best < 0, d, jnp.zeros_like(d))
