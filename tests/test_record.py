"""The evaluation record (``record.py``): counts, best point and history, masked."""

import jax.numpy as jnp
import numpy as np

from trfd_jax._src import record as record_lib


def test_only_active_rows_are_counted_and_entered_in_order():
    rec = record_lib.empty(jnp.zeros(2), max_evals=6)
    points = jnp.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    values = jnp.array([5.0, 1.0, 3.0])
    rec = record_lib.add(rec, points, values, jnp.array([True, False, True]), jnp.ones(3, bool))
    assert int(rec.nfev) == 2
    np.testing.assert_array_equal(rec.history[:3], [5.0, 3.0, np.inf])
    assert float(rec.best_f) == 3.0
    np.testing.assert_array_equal(rec.best_x, [3.0, 0.0])


def test_nonfinite_and_infeasible_values_never_become_best():
    rec = record_lib.empty(jnp.zeros(1), max_evals=4)
    points = jnp.array([[1.0], [2.0], [3.0]])
    values = jnp.array([jnp.nan, -jnp.inf, -1.0])
    counts = jnp.array([True, True, False])  # the third point lies outside Ω
    rec = record_lib.add(rec, points, values, jnp.ones(3, bool), counts)
    assert int(rec.nfev) == 3 and float(rec.best_f) == np.inf
    rec = record_lib.add(rec, jnp.array([[4.0]]), jnp.array([2.0]), jnp.ones(1, bool), counts[:1])
    assert float(rec.best_f) == 2.0 and float(rec.best_x[0]) == 4.0
    np.testing.assert_array_equal(record_lib.padded_history(rec), [np.inf] * 3 + [2.0])


def test_budget_look_ahead_and_padding():
    rec = record_lib.empty(jnp.zeros(1), max_evals=5)
    rec = record_lib.add(
        rec, jnp.array([[0.0], [1.0]]), jnp.array([4.0, 2.0]), jnp.ones(2, bool), jnp.ones(2, bool)
    )
    assert bool(record_lib.fits(rec, 3, 5)) and not bool(record_lib.fits(rec, 4, 5))
    np.testing.assert_array_equal(record_lib.padded_history(rec), [4.0, 2.0, 2.0, 2.0, 2.0])
