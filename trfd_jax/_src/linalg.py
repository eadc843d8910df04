"""Small dense linear algebra that rounds alike in one start and in a ``vmap`` of thousands.

The solver's vectors have n entries, n small (tens).  XLA compiles a reduction — a dot
product ``a @ b``, ``jnp.sum`` — differently in an unbatched
program and in a batched one: from about a thousand rows on (jax 0.10, CPU) it hands
batched dots to a library kernel (YNNPACK) and vectorizes row reductions across the batch,
and both sum in another order than the unbatched code.  It also fuses a product into the
sum that consumes it (a fused multiply–add) in one program and not in the other.  The
results then differ in the last bit, a forward difference divides that by τ ≈ 1e-8, and a
vmapped start stops a few iterations away from the same start run alone.

Here every vector reduction (and matrix–vector products up to n = 8) is a fixed tree of
elementwise additions over slices (pairwise halving), which XLA cannot reorder, and
products pass through :func:`as_rounded` before they are summed: the same operations,
rounded the same way, whatever the batch.  The solver's other products that feed a sum (a
step added to a point, FISTA's extrapolation) go through :func:`as_rounded` where they are
made.  It is also faster for small n under ``vmap``: 4,096 starts, n = 2, a dot product
in 1.7 µs instead of 15 µs.

The objective's own reductions are the user's: a ``jnp.sum`` in f may round differently
under ``vmap`` in the same way (the tests use objectives without it, or n = 2).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array


def tree_sum(p: Array, axis: int = -1) -> Array:
    """Σ over ``axis`` by pairwise halving: ((p₀ + p_h) + …), elementwise adds only (slices
    along ``axis`` itself, so that summing over rows moves no data)."""
    axis = axis % p.ndim
    n = p.shape[axis]
    if n == 0:
        return jnp.zeros(p.shape[:axis] + p.shape[axis + 1 :], p.dtype)
    while n > 1:
        half = n // 2
        head = lax.slice_in_dim(p, 0, half, axis=axis) + lax.slice_in_dim(
            p, half, 2 * half, axis=axis
        )
        if n % 2:
            head = jnp.concatenate([head, lax.slice_in_dim(p, 2 * half, n, axis=axis)], axis)
        p, n = head, head.shape[axis]
    return jnp.squeeze(p, axis)


def as_rounded(p: Array) -> Array:
    """``p`` unchanged, as a value XLA must round: an identity select it cannot see
    through, so that a product is never fused with the sum that consumes it into a fused
    multiply–add — which XLA does, or not, depending on how it fused the program."""
    return jnp.where(jnp.isnan(p), jnp.nan, p)


def dot(a: Array, b: Array) -> Array:
    """aᵀb of two vectors (n,)."""
    return tree_sum(as_rounded(a * b))


def norm(a: Array) -> Array:
    """‖a‖₂ of a vector (n,)."""
    return jnp.sqrt(dot(a, a))


# Matrix–vector products: XLA's own kernel rounded alike batched and unbatched in every
# check (n = 3 to 50, 1,024 and 4,096 rows; it is vector dot products and row sums that
# differ), and from n = 9 on it is faster in the solver than the tree, whose n² products
# XLA materializes (1,024 vmapped starts of a 10-D problem: 0.81 s instead of 0.94 s).
MATVEC_TREE_MAX = 8


def matvec(m: Array, v: Array) -> Array:
    """M v for M (k, n) and v (n,)."""
    if m.shape[1] > MATVEC_TREE_MAX:
        return m @ v
    return tree_sum(as_rounded(m * v[None, :]))


def rmatvec(m: Array, v: Array) -> Array:
    """Mᵀ v for M (k, n) and v (k,)."""
    if m.shape[0] > MATVEC_TREE_MAX:
        return v @ m
    return tree_sum(as_rounded(m * v[:, None]), axis=0)


# Above this many products (m n² for JᵀJ) the Gram matrix is a BLAS product: the tree would
# hold all the products at once, per start under vmap.
GRAM_TREE_MAX = 1 << 16


def gram(m: Array) -> Array:
    """MᵀM for M (k, n): by the tree up to ``GRAM_TREE_MAX`` products, else one BLAS call
    (which may then round differently under ``vmap``)."""
    k, n = m.shape
    if k * n * n > GRAM_TREE_MAX:
        return m.T @ m
    return tree_sum(as_rounded(m[:, :, None] * m[:, None, :]), axis=0)


def quadratic(m: Array, v: Array) -> Array:
    """vᵀ M v for M (n, n) and v (n,)."""
    return dot(v, matvec(m, v))
