"""Model Hessian H_k of TRFD-S (first paper §4.1.1; spec "Hessian approximation").

Quasi-Newton updates from finite-difference gradients, with s = x_k − x_prev and
y = g_k − g_prev (x_prev the previous accepted iterate and g_prev the gradient computed
there).  Every update is skipped, leaving H unchanged, when its denominator is too small or
its result is not finite.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trfd_jax._src import linalg
from trfd_jax._src.options import HessianUpdate

Array = jax.Array


def initial_hessian(kind: HessianUpdate, n: int, dtype: jnp.dtype) -> Array:
    """H₀: the identity, or zero for the first-order model (``kind="zero"``)."""
    if kind == "zero":
        return jnp.zeros((n, n), dtype)
    return jnp.eye(n, dtype=dtype)


def update_hessian(
    kind: HessianUpdate, hessian: Array, s: Array, y: Array, *, convex: bool
) -> Array:
    """One quasi-Newton update of H.

    Args:
        kind: ``"bfgs"``, ``"sr1"``, ``"scaled_identity"``, ``"identity"`` or ``"zero"``.
        hessian: current H, shape (n, n).
        s: step between accepted iterates, x_k − x_prev.
        y: change of the finite-difference gradient, g_k − g_prev.
        convex: keep H positive definite.  For BFGS this means updating only when sᵀy > 0
            (the reference does this with constraints: its box subproblem solver, FISTA,
            needs a convex model).  Without it BFGS is applied whenever sᵀy ≠ 0, as the
            reference does for Ω = Rⁿ, and H may become indefinite; the exact
            unconstrained subproblem solver handles that.

    Returns:
        The updated H (or the old one when the update is skipped).
    """
    if kind in ("identity", "zero", "gauss_newton"):
        return hessian  # fixed, or rebuilt from J by the caller
    eps = jnp.finfo(hessian.dtype).eps
    sy = linalg.dot(s, y)
    ss = linalg.dot(s, s)
    if kind == "bfgs":
        # H ← H + y yᵀ / (sᵀy) − (Hs)(Hs)ᵀ / (sᵀHs), the divisions as products with the
        # reciprocals: XLA rewrites A / broadcast(c) so in an unbatched program but not always
        # under vmap, and a vmapped run would round differently from a loop over starts.
        hs = linalg.matvec(hessian, s)
        shs = linalg.dot(s, hs)
        new = hessian + jnp.outer(y, y) * (1 / sy) - jnp.outer(hs, hs) * (1 / shs)
        if convex:
            ok = (sy > eps * jnp.sqrt(ss * linalg.dot(y, y))) & (shs > 0)
        else:
            ok = (sy != 0) & (shs != 0)
    elif kind == "sr1":
        # H ← H + r rᵀ / (rᵀs), r = y − Hs; skipped when |rᵀs| < 1e-8 ‖r‖‖s‖ (N&W (6.26)).
        r = y - linalg.matvec(hessian, s)
        rs = linalg.dot(r, s)
        new = hessian + jnp.outer(r, r) * (1 / rs)  # a reciprocal, as in BFGS
        ok = jnp.abs(rs) >= 1e-8 * linalg.norm(r) * jnp.sqrt(ss)
        if convex:
            ok = ok & jnp.all(jnp.linalg.eigvalsh(0.5 * (new + new.T)) > 0)
    elif kind == "scaled_identity":
        # Barzilai–Borwein: H = (sᵀy / sᵀs) I, the secant fit of a multiple of I.
        n = hessian.shape[0]
        new = (sy / ss) * jnp.eye(n, dtype=hessian.dtype)
        ok = sy > 0
    else:  # pragma: no cover - Options validates the name
        raise ValueError(f"unknown Hessian update {kind!r}")
    ok = ok & (ss > 0) & jnp.all(jnp.isfinite(new))
    return jnp.where(ok, 0.5 * (new + new.T), hessian)
