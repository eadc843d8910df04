"""The eigendecomposition of the model Hessian, recomputed only when H has changed.

The exact subproblem solver needs H_k = Q diag(λ) Qᵀ.  H only changes when Step 1 produced
a new gradient; after a type I iteration the same H is reused with a smaller radius, so its
decomposition is kept in the state.  :func:`masked_eigh` recomputes it where ``active``:

* unbatched, with ``lax.cond`` (no work at all where inactive);
* under ``jax.vmap`` (multi-start), with a custom batching rule: the starts that need a new
  decomposition are gathered to the front of the batch and only the smallest bucket of
  size ⌈j S / 8⌉ that holds them is decomposed.  The default rule would turn the ``cond``
  into a ``select`` and decompose every start at every iteration; for small n the LAPACK
  call per matrix dominates a multi-start solve's time.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array

_BUCKETS = 8


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
    order = jnp.argsort(~active, stable=True)  # the starts that need it first
    sizes = sorted({math.ceil(j * axis_size / _BUCKETS) for j in range(1, _BUCKETS + 1)})

    def decompose(size):
        def branch():
            take = order[:size]
            new_values, new_vectors = jax.vmap(eigh)(hessian[take])
            keep = active[take]
            new_values = jnp.where(keep[:, None], new_values, values[take])
            new_vectors = jnp.where(keep[:, None, None], new_vectors, vectors[take])
            return values.at[take].set(new_values), vectors.at[take].set(new_vectors)

        return branch

    branches = [lambda: (values, vectors)] + [decompose(s) for s in sizes]
    thresholds = jnp.asarray(sizes, jnp.int32)
    index = jnp.where(count == 0, 0, 1 + jnp.searchsorted(thresholds, count, side="left"))
    out = lax.switch(index, branches)
    return out, (True, True)
