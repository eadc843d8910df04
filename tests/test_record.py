"""The evaluation record (``record.py``): counts, best point and history, masked."""

import warnings

import jax.numpy as jnp
import numpy as np

from trfd_jax._src import record as record_lib


def test_only_active_rows_are_counted_and_entered_in_order():
    rec = record_lib.empty(jnp.zeros(2), 6, 2, None)
    points = jnp.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    values = jnp.array([5.0, 1.0, 3.0])
    rec = record_lib.add(rec, points, values, jnp.array([True, False, True]), jnp.ones(3, bool))
    assert int(rec.nfev) == 2
    np.testing.assert_array_equal(rec.history[:3], [5.0, 3.0, np.inf])
    assert float(rec.best_f) == 3.0
    np.testing.assert_array_equal(rec.best_x, [3.0, 0.0])


def test_nonfinite_and_infeasible_values_never_become_best():
    rec = record_lib.empty(jnp.zeros(1), 4, 2, None)
    points = jnp.array([[1.0], [2.0], [3.0]])
    values = jnp.array([jnp.nan, -jnp.inf, -1.0])
    counts = jnp.array([True, True, False])  # the third point lies outside Ω
    rec = record_lib.add(rec, points, values, jnp.ones(3, bool), counts)
    assert int(rec.nfev) == 3 and float(rec.best_f) == np.inf
    rec = record_lib.add(rec, jnp.array([[4.0]]), jnp.array([2.0]), jnp.ones(1, bool), counts[:1])
    assert float(rec.best_f) == 2.0 and float(rec.best_x[0]) == 4.0
    np.testing.assert_array_equal(record_lib.padded_history(rec), [np.inf] * 3 + [2.0])


def test_budget_look_ahead_and_padding():
    rec = record_lib.empty(jnp.zeros(1), 5, 2, None)
    rec = record_lib.add(
        rec, jnp.array([[0.0], [1.0]]), jnp.array([4.0, 2.0]), jnp.ones(2, bool), jnp.ones(2, bool)
    )
    assert bool(record_lib.fits(rec, 3, 5)) and not bool(record_lib.fits(rec, 4, 5))
    np.testing.assert_array_equal(record_lib.padded_history(rec), [4.0, 2.0, 2.0, 2.0, 2.0])


# ------------------------------------------------------------- never paying twice for a point

import collections  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

import trfd_jax  # noqa: E402
from trfd_jax import Options  # noqa: E402


def _rosenbrock_np(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def _rosenbrock_residuals_np(x):
    return np.concatenate([10.0 * (x[1:] - x[:-1] ** 2), 1.0 - x[:-1]])


CONFIGS = {
    "plain": {},
    "bounds": {"bounds": (-2.0, 0.9)},
    "model_search": {"search": trfd_jax.ModelSearch()},
    "model_search_bounds": {"search": trfd_jax.ModelSearch(), "bounds": (-2.0, 0.9)},
    "central": {"options": Options(fd_scheme="central")},
    "least_squares": {"least_squares": True},
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("n", [2, 3])
def test_no_point_is_evaluated_twice(name, n):
    kwargs = dict(CONFIGS[name])
    least_squares = kwargs.pop("least_squares", False)
    seen = collections.Counter()

    def fn(x):
        seen[x.tobytes()] += 1
        return _rosenbrock_residuals_np(x) if least_squares else _rosenbrock_np(x)

    x0 = jnp.asarray(np.resize([-1.2, 1.0], n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # x0 projected into the box
        if least_squares:
            bb = trfd_jax.black_box(fn, residuals=2 * (n - 1))
            r = trfd_jax.least_squares(bb, x0, max_evals=100 * (n + 1), **kwargs)
        else:
            r = trfd_jax.minimize(trfd_jax.black_box(fn), x0, max_evals=100 * (n + 1), **kwargs)
    assert sum(seen.values()) == int(r.nfev)
    assert max(seen.values()) == 1, "a point was evaluated twice"


def _trajectory(problem, x0):
    step = jax.jit(trfd_jax.step)
    state, rows = trfd_jax.init(problem, x0), []
    while not bool(trfd_jax.terminate(problem, state)):
        state = step(problem, state)
        rows.append(
            (
                np.asarray(state.iterate.x).tobytes(),
                float(state.region.radius),
                float(state.region.fd_step),
                int(state.last_step),
            )
        )
    return rows, state


@pytest.mark.parametrize("name", ["plain", "bounds", "model_search"])
def test_reuse_keeps_the_trajectory_and_saves_evaluations(name):
    kwargs = dict(CONFIGS[name])

    def f(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    runs = {}
    for reuse in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problem, x0 = trfd_jax.make_problem(
                f,
                jnp.array([-1.2, 1.0]),
                max_evals=300,
                options=Options(reuse_evaluations=reuse),
                **kwargs,
            )
        runs[reuse] = _trajectory(problem, x0)
    (old, old_state), (new, new_state) = runs[False], runs[True]
    common = min(len(old), len(new))
    assert common > 20
    assert new[:common] == old[:common]  # same iterates, radii, steps and decisions
    saved = int(new_state.record.n_reused)
    assert saved > 0
    if len(new) == len(old):  # both stopped on the radius: the same run, cheaper
        assert int(new_state.record.nfev) == int(old_state.record.nfev) - saved
