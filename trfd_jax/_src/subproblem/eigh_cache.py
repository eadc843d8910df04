"""The eigendecomposition of the model Hessian, recomputed only when H has changed.

The exact subproblem solver needs H_k = Q diag(λ) Qᵀ.  H only changes when Step 1 produced
a new gradient; after a type I iteration the same H is reused with a smaller radius, so its
decomposition is kept in the state.  :func:`masked_eigh` recomputes it where ``active``:

* unbatched, with ``lax.cond`` (no work at all where inactive);
* under ``jax.vmap`` (multi-start), with a custom batching rule: the starts that need a new
  decomposition are gathered to the front of the batch and decomposed in chunks of
  ⌈S / 8⌉, as many chunks as they fill (a ``while_loop``: one gather, one batched
  ``eigh`` and one scatter to compile, where a switch over eight bucket sizes compiled
  eight of each).  The default rule would turn the ``cond`` into a ``select`` and
  decompose every start at every iteration; for small n the LAPACK call per matrix
  dominates a multi-start solve's time.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array

_CHUNKS = 8  # the batch is decomposed in 8 chunks at most


def eigh(hessian: Array) -> tuple[Array, Array]:
    """Eigenvalues (ascending) and eigenvectors of the symmetric part of ``hessian``."""
    values, vectors = jnp.linalg.eigh(0.5 * (hessian + hessian.T), symmetrize_input=False)
    return values, vectors


@jax.custom_batching.custom_vmap
def masked_eigh(
    active: Array, hessian: Array, values: Array, vectors: Array
) -> tuple[Array, Array]:
    """``eigh(hessian)`` where ``active``, else the cached ``(values, vectors)``."""
    return lax.cond(active, lambda: eigh(hessian), lambda: (values, vectors))


@masked_eigh.def_vmap
def _masked_eigh_batched(axis_size, in_batched, active, hessian, values, vectors):
    def batch(x, batched):
        return x if batched else jnp.broadcast_to(x, (axis_size, *x.shape))

    active, hessian, values, vectors = (
        batch(x, b) for x, b in zip((active, hessian, values, vectors), in_batched, strict=True)
    )
    count = jnp.sum(active, dtype=jnp.int32)
    chunk = math.ceil(axis_size / _CHUNKS)
    # The starts that need it first; the tail padded with an index past the batch, which
    # gathers zeros and whose results are dropped.
    order = jnp.argsort(~active, stable=True).astype(jnp.int32)
    order = jnp.concatenate([order, jnp.full(chunk * _CHUNKS - axis_size, axis_size, jnp.int32)])

    def decompose(carry):
        i, values, vectors = carry
        take = lax.dynamic_slice_in_dim(order, i * chunk, chunk)
        keep = jnp.arange(chunk, dtype=jnp.int32) + i * chunk < count
        new_values, new_vectors = jax.vmap(eigh)(hessian.at[take].get(mode="fill", fill_value=0))
        old_values = values.at[take].get(mode="fill", fill_value=0)
        old_vectors = vectors.at[take].get(mode="fill", fill_value=0)
        new_values = jnp.where(keep[:, None], new_values, old_values)
        new_vectors = jnp.where(keep[:, None, None], new_vectors, old_vectors)
        values = values.at[take].set(new_values, mode="drop")
        vectors = vectors.at[take].set(new_vectors, mode="drop")
        return i + 1, values, vectors

    _, values, vectors = lax.while_loop(
        lambda carry: carry[0] * chunk < count, decompose, (jnp.int32(0), values, vectors)
    )
    out = (values, vectors)
    return out, (True, True)
