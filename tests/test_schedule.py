"""Evaluation scheduling under vmap: the objective computes the rows the record counts."""

import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax
from trfd_jax import Options
from trfd_jax._src import schedule

from .helpers import make_quadratic


def _counting(f, n):
    """``f`` and a one-item list: how many points it was computed at (host side)."""
    computed = [0]
    lock = threading.Lock()  # XLA may run unordered callbacks on several threads at once

    def count(x):
        with lock:
            computed[0] += np.asarray(x).size // n

    def wrapped(x, *args):
        jax.debug.callback(count, x)
        return f(x, *args)

    return wrapped, computed


def _rosenbrock(x):
    return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@pytest.mark.parametrize(
    "options",
    [Options(), Options(noise_level=None)],
    ids=["default", "noise_level=None"],
)
def test_computed_points_equal_counted_evaluations_under_vmap(options):
    # Every batched cond once ran both branches: each start computed its noise probe, its
    # noise-estimation and central rows and a gradient at every iteration, and a finished
    # start kept computing (7.4x the counted evaluations with the default options on this
    # problem, 2.5x with noise_level=None).  Now only the padding of the last small chunk
    # of a call is computed in vain.
    n, starts = 6, 24
    f, computed = _counting(_rosenbrock, n)
    x0 = jax.random.uniform(jax.random.key(0), (starts, n), minval=-2, maxval=2)
    r = jax.jit(jax.vmap(lambda x: trfd_jax.minimize(f, x, max_evals=300, options=options)))(x0)
    counted = int(jnp.sum(r.nfev))
    assert counted <= computed[0] <= 1.1 * counted


def test_a_finished_start_computes_nothing():
    # One start fails at x0 (nothing more is counted for it); the other runs 200
    # evaluations.  The batch computes no more than the running start needs, plus padding.
    n = 3
    f, computed = _counting(lambda x: jnp.sum((x - 1.0) ** 2) + jnp.sum(x**4), n)
    x0 = jnp.array([[jnp.nan, 0.0, 0.0], [0.2, -0.3, 0.5]])
    r = jax.vmap(lambda x: trfd_jax.minimize(f, x, max_evals=200))(x0)
    assert int(r.nfev[0]) == 0 or int(r.status[0]) == trfd_jax.Status.NONFINITE_X0
    assert computed[0] <= int(jnp.sum(r.nfev)) + 10


def test_vmap_over_closed_over_data_takes_each_starts_own_data():
    # The scheduler gathers rows of different starts into one chunk: each row must be
    # computed with its own start's closed-over (batched) value.
    targets = jnp.linspace(-1.0, 1.0, 9)[:, None] * jnp.ones(3)

    def solve(t):
        return trfd_jax.minimize(lambda x: jnp.sum((x - t) ** 2), jnp.zeros(3), max_evals=60)

    r = jax.vmap(solve)(targets)
    np.testing.assert_allclose(r.x, targets, atol=1e-6)
    for k in (0, 4, 8):  # and equals the start solved alone (element-wise f: to the bit)
        alone = solve(targets[k])
        np.testing.assert_array_equal(r.history[k], alone.history)


@pytest.mark.parametrize(
    "options", [Options(), Options(noise_level=None)], ids=["default", "paper"]
)
def test_vmap_equals_a_loop_to_the_bit_on_an_element_wise_objective(options):
    # Chunks of many starts (the default): an objective of element-wise arithmetic and sums
    # is computed to the bit as in a loop, so every decision and value agrees.
    def f(x):
        return jnp.sum((x - jnp.arange(4.0)) ** 2 * jnp.array([1.0, 10.0, 100.0, 3.0])) + jnp.sum(
            jnp.sin(x) ** 2
        )

    starts = jnp.asarray(np.random.default_rng(1).uniform(-3, 3, (32, 4)))
    batched = jax.vmap(lambda x: trfd_jax.minimize(f, x, max_evals=120, options=options))(starts)
    for k in range(0, 32, 5):
        single = trfd_jax.minimize(f, starts[k], max_evals=120, options=options)
        for name in ("nfev", "nit", "status", "n_successful", "n_type_i", "n_type_ii"):
            assert int(getattr(batched, name)[k]) == int(getattr(single, name)), name
        np.testing.assert_array_equal(batched.history[k], single.history)
        np.testing.assert_array_equal(batched.x[k], single.x)


def test_vmap_takes_a_loops_decisions_on_a_dense_quadratic_with_the_default_options():
    # Matrix products in f, and the default options (noise handling: not bitwise even with
    # chunks of one start; to the bit with noise_level=None and batch_chunk=1, see
    # tests/test_minimize.py): on a quadratic, where rounding cannot steer runs apart,
    # every decision is the loop's and the result agrees.
    f, _, _ = make_quadratic(4, seed=3, cond=50.0)
    starts = jnp.asarray(np.random.default_rng(1).uniform(-3, 3, (32, 4)))
    batched = jax.vmap(lambda x: trfd_jax.minimize(f, x, max_evals=120))(starts)
    for k in range(0, 32, 5):
        single = trfd_jax.minimize(f, starts[k], max_evals=120)
        for name in ("nfev", "nit", "status", "n_successful", "n_type_i", "n_type_ii"):
            assert int(getattr(batched, name)[k]) == int(getattr(single, name)), name
        # (an ulp in f moves a forward difference by ulp/τ, so x agrees to about 1e-6)
        np.testing.assert_allclose(batched.x[k], single.x, atol=1e-4)
        np.testing.assert_allclose(batched.f[k], single.f, rtol=1e-2, atol=1e-10)


def test_batch_chunk_is_validated():
    for bad in (0, -2, 1.5, True):
        with pytest.raises(TypeError, match="batch_chunk"):
            Options(batch_chunk=bad)


@pytest.mark.parametrize("starts", [1, 7, 64, 171, 1024])
def test_chunk_sizes_are_powers_of_two_with_the_small_one_smaller(starts):
    big, small = schedule.chunk_sizes(starts)
    assert big & (big - 1) == 0 and small & (small - 1) == 0
    assert 1 <= small <= big <= starts
    assert small < big or big == 1


@pytest.mark.parametrize("needed_starts", [0, 1, 7, 37, 64])
@pytest.mark.parametrize("sizes", [(8, 2), (4, 4), (1, 1)])
def test_compact_computes_exactly_the_needed_blocks(needed_starts, sizes):
    # A direct check of the scheduler: values at the needed starts' rows, NaN elsewhere,
    # per-start args taken by the block's own start.
    rng = np.random.default_rng(needed_starts)
    starts, k, n = 64, 3, 2
    points = jnp.asarray(rng.standard_normal((starts, k, n)))
    mask = np.zeros(starts, bool)
    mask[rng.choice(starts, needed_starts, replace=False)] = True
    shift = jnp.arange(starts, dtype=points.dtype)

    def row(x, s):
        return jnp.sum(x**2) + s

    def empty(r):
        return jnp.full(r, jnp.nan, points.dtype)

    out = np.asarray(schedule.compact(row, empty, points, jnp.asarray(mask), shift, True, sizes))
    expected = np.asarray(jax.vmap(jax.vmap(row, (0, None)))(points, shift))
    np.testing.assert_allclose(out[mask], expected[mask], rtol=1e-15)
    assert np.all(np.isnan(out[~mask]))
