"""Small dense linear algebra that rounds alike in one start and in a ``vmap`` of thousands.

The solver's vectors have n entries, n small (tens).  XLA compiles a reduction — a dot
product ``a @ b``, ``jnp.sum``, a matrix–vector product — differently in an unbatched
program and in a batched one: from about a thousand rows on (jax 0.10, CPU) it hands
batched dots to a library kernel (YNNPACK) and vectorizes row reductions across the batch,
and both sum in another order than the unbatched code.  It also fuses a product into the
sum that consumes it (a fused multiply–add) in one program and not in the other.  The
results then differ in the last bit, a forward difference divides that by τ ≈ 1e-8, and a
vmapped start stops a few iterations away from the same start run alone.

Here every reduction is a fixed tree of elementwise additions over slices (pairwise
halving), which XLA cannot reorder, and products pass through :func:`as_rounded` before
they are summed: the same operations, rounded the same way, whatever the batch.  The
solver's other products that feed a sum (a step added to a point, FISTA's extrapolation)
go through :func:`as_rounded` where they are made.  It is also faster for small n under
``vmap``: 4,096 starts, n = 2, a dot product in 1.7 µs instead of 15 µs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def tree_sum(p: Array, axis: int = -1) -> Array:
    """Σ over ``axis`` by pairwise halving: ((p₀ + p_h) + …), elementwise adds only."""
    p = jnp.moveaxis(p, axis, -1)
    n = p.shape[-1]
    if n == 0:
        return jnp.zeros(p.shape[:-1], p.dtype)
    while n > 1:
        half = n // 2
        head = p[..., :half] + p[..., half : 2 * half]
        p = jnp.concatenate([head, p[..., 2 * half :]], axis=-1) if n % 2 else head
        n = p.shape[-1]
    return p[..., 0]


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


def matvec(m: Array, v: Array) -> Array:
    """M v for M (k, n) and v (n,)."""
    return tree_sum(as_rounded(m * v[None, :]))


def rmatvec(m: Array, v: Array) -> Array:
    """Mᵀ v for M (k, n) and v (k,)."""
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
