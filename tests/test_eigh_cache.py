"""The cached eigendecomposition and its batching rule (compaction of the active starts)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trfd_jax._src.subproblem.eigh_cache import eigh, masked_eigh


def _batch(size, n=4, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((size, n, n))
    h = jnp.asarray(a + a.transpose(0, 2, 1))
    values = jnp.asarray(rng.standard_normal((size, n)))  # stale cache: must be kept
    vectors = jnp.asarray(rng.standard_normal((size, n, n)))
    return h, values, vectors


@pytest.mark.parametrize("size", [1, 3, 16, 21])
@pytest.mark.parametrize("share", [0.0, 0.1, 0.5, 1.0])
def test_batched_rule_equals_per_start(size, share):
    h, values, vectors = _batch(size, seed=size)
    active = jnp.asarray(np.random.default_rng(1).uniform(size=size) < share)
    out_values, out_vectors = jax.jit(jax.vmap(masked_eigh))(active, h, values, vectors)
    for k in range(size):
        if bool(active[k]):
            ref_values, ref_vectors = eigh(h[k])
        else:
            ref_values, ref_vectors = values[k], vectors[k]
        np.testing.assert_array_equal(out_values[k], ref_values)
        np.testing.assert_array_equal(out_vectors[k], ref_vectors)


def test_unbatched_and_partly_batched_inputs():
    h, values, vectors = _batch(5)
    single = masked_eigh(jnp.asarray(True), h[0], values[0], vectors[0])
    np.testing.assert_array_equal(single[0], eigh(h[0])[0])
    kept = masked_eigh(jnp.asarray(False), h[0], values[0], vectors[0])
    np.testing.assert_array_equal(kept[1], vectors[0])
    # One shared Hessian, batched masks and caches.
    active = jnp.array([True, False, True, False, False])
    out = jax.vmap(masked_eigh, in_axes=(0, None, 0, 0))(active, h[0], values, vectors)
    np.testing.assert_array_equal(out[0][2], eigh(h[0])[0])
    np.testing.assert_array_equal(out[0][1], values[1])


def test_nested_vmap():
    h, values, vectors = _batch(6)
    shape = lambda x: x.reshape(2, 3, *x.shape[1:])  # noqa: E731
    active = jnp.array([True, False, True, True, False, False])
    out = jax.vmap(jax.vmap(masked_eigh))(shape(active), shape(h), shape(values), shape(vectors))
    flat = jax.vmap(masked_eigh)(active, h, values, vectors)
    np.testing.assert_array_equal(out[0].reshape(6, -1), flat[0])
