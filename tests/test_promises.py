"""The core promises under hostile use (issue 14), each counted on the host.

Every evaluation is recorded where it happens (a black box counts its own calls), so the
budget and the bounds are checked against what was really evaluated, not against what the
solver reports.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax
from trfd_jax import Box, HalfSpace, Intersection, L2Ball, ModelSearch


def _rosenbrock_residuals(x):
    return np.array([10.0 * (x[1] - x[0] ** 2), 10.0 * (x[2] - x[1] ** 2), 1.0 - x[0]])


def _recorder(fn, **kwargs):
    """A black box that keeps every point it was called at."""
    points = []

    def host(x):
        points.append(np.array(x))
        return fn(np.asarray(x))

    return trfd_jax.black_box(host, **kwargs), points


@pytest.mark.parametrize("bounded", [False, True])
def test_a_search_before_the_gradient_never_exceeds_the_budget(bounded):
    # Before the fix: one evaluation over the budget at 12, 20, 28, ... (the search spent
    # what the gradient and the trial point of the same iteration still needed).
    box = dict(bounds=(np.full(3, -2.0), np.full(3, 2.0))) if bounded else {}
    scalar, _ = _recorder(lambda x: float(np.sum(_rosenbrock_residuals(x) ** 2)))
    residual, _ = _recorder(_rosenbrock_residuals, residuals=3)
    x0 = jnp.array([-1.2, 1.0, 1.0])
    for budget in range(5, 37):  # 12, 20, 28, 36 were over before the fix
        scalar.reset_count()
        r = trfd_jax.minimize(
            scalar, x0, max_evals=budget, search=ModelSearch(before_gradient=True), **box
        )
        assert scalar.host_evaluations == int(r.nfev) <= budget, budget
        residual.reset_count()
        r = trfd_jax.least_squares(residual, x0, max_evals=budget, **box)
        assert residual.host_evaluations == int(r.nfev) <= budget, budget


def _compositions():
    ball, half = L2Ball(5.0), HalfSpace(jnp.array([1.0, 1.0]), 10.0)
    unit = Box(0.0, 1.0)
    return {
        "box in an intersection": dict(constraint=Intersection((unit, ball))),
        "box in a nested intersection": dict(
            constraint=Intersection((Intersection((unit, half)), ball))
        ),
        "bounds with an intersection": dict(
            bounds=(np.zeros(2), np.ones(2)), constraint=Intersection((ball, half))
        ),
        "bounds with a box in an intersection": dict(
            bounds=(np.zeros(2), np.ones(2)),
            constraint=Intersection((Intersection((Box(-1.0, 1.0),)), ball)),
        ),
    }


@pytest.mark.parametrize("name", list(_compositions()))
def test_an_unrelaxable_box_holds_in_every_composition(name):
    # Before the fix: finite-difference points at 1.00000001 (38 of 82 evaluations) when
    # the box sat in a nested intersection or next to bounds=.
    f, points = _recorder(lambda x: float(np.sum((x - 2.0) ** 2)))
    r = trfd_jax.minimize(f, jnp.array([0.5, 0.25]), max_evals=80, **_compositions()[name])
    p = np.stack(points)
    assert np.all((p >= 0.0) & (p <= 1.0)), p[np.any((p < 0) | (p > 1), axis=1)]
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-6)


def test_float32_x0_with_float64_bounds_rounds_the_bounds_inward():
    # float32(0.7) < 0.7 and float32(0.3) > 0.3: cast to the nearest float32, the lower
    # bound 0.7 and the upper bound 0.3 would both move outward.
    lower, upper = np.array([0.7, -1.0]), np.array([2.0, 0.3])
    f, points = _recorder(lambda x: float((x[0] - 0.0) ** 2 + (x[1] - 1.0) ** 2), dtype=jnp.float32)
    x0 = jnp.array([1.0, 0.0], jnp.float32)
    r = trfd_jax.minimize(f, x0, bounds=(lower, upper), max_evals=60)
    p = np.stack(points).astype(np.float64)
    assert np.all((p >= lower) & (p <= upper)), p[np.any((p < lower) | (p > upper), axis=1)]
    assert r.x.dtype == jnp.float32
    np.testing.assert_allclose(r.x, [0.7, 0.3], rtol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_a_subnormal_x0_entry_is_the_zero_the_host_sees(dtype):
    # Found by the long property profile: XLA flushes subnormal numbers to zero, but the
    # host saw x0 as given, so Result.x (x0 flushed) was never a point the host evaluated.
    tiny = np.finfo(dtype).tiny
    f, points = _recorder(lambda x: float(np.sum((x - 0.5) ** 2)), dtype=dtype)
    x0 = np.array([tiny / 4, 1.0], dtype)
    with pytest.warns(UserWarning, match="subnormal"):
        r = trfd_jax.minimize(f, x0, max_evals=20)
    assert points[0][0] == 0.0  # f(x0) was evaluated at the flushed start
    assert any(np.array_equal(p, np.asarray(r.x)) for p in points)


def test_bounds_no_dtype_number_satisfies_are_refused():
    with pytest.raises(ValueError, match="No float32 number lies in the unrelaxable bounds"):
        trfd_jax.minimize(
            lambda x: jnp.sum(x**2), jnp.ones(2, jnp.float32), bounds=(0.3, np.float64(0.3))
        )


def test_nan_everywhere_but_x0_is_a_failure_not_convergence():
    x0 = jnp.array([1.0, 2.0])
    r = trfd_jax.minimize(
        lambda x: jnp.where(jnp.all(x == x0), jnp.sum(x**2), jnp.nan), x0, max_evals=100
    )
    assert r.status == trfd_jax.Status.NONFINITE_VALUES and not bool(r.success)
    np.testing.assert_array_equal(r.x, x0)
    assert float(r.f) == 5.0


def test_a_nonfinite_storm_ends_early_with_a_small_budget():
    # n = 3, budget 100: the run used to halve Δ and τ ~33 times, n evaluations each, and
    # end MAX_EVALS; 16 failed gradients in a row now end it.
    x0 = jnp.array([1.0, 2.0, 3.0])
    r = trfd_jax.minimize(
        lambda x: jnp.where(jnp.all(x == x0), jnp.sum(x**2), jnp.nan), x0, max_evals=100
    )
    assert r.status == trfd_jax.Status.NONFINITE_VALUES and not bool(r.success)
    # f(x0), the two points of the noise probe, then 16 gradients of n points each.
    assert int(r.nit) == 16 and int(r.nfev) == 1 + 2 + 16 * 3


def test_minus_inf_is_never_accepted_and_x_matches_f():
    f = lambda x: jnp.where(x[0] > 1.5, -jnp.inf, jnp.sum((x - 3.0) ** 2))  # noqa: E731
    r = trfd_jax.minimize(f, jnp.zeros(2), max_evals=100)
    assert np.isfinite(float(r.f)) and float(r.f) == float(f(r.x))
    assert np.all(np.isfinite(np.asarray(r.history)))


def test_a_thin_intersection_keeps_every_iterate_feasible():
    # Ball ∩ half-space, a sliver of width 1e-6: before the fix Dykstra's unconverged
    # projection gave an iterate 1e-2 outside the ball, reported as converged.
    sliver = Intersection((L2Ball(1.0), HalfSpace(jnp.array([-1.0, 0.0]), -(1 - 1e-6))))
    iterates = []
    r = trfd_jax.minimize(
        lambda x: jnp.sum((x - jnp.array([0.0, 3.0])) ** 2),
        jnp.array([1.0, 0.0]),
        constraint=sliver,
        max_evals=200,
        callback=lambda s: iterates.append(np.asarray(s.x)),
    )
    xs = np.stack([*iterates, np.asarray(r.x)])
    tol = 100 * sliver.tol * (1 + np.linalg.norm(xs, axis=1))
    assert np.all(np.linalg.norm(xs, axis=1) - 1.0 <= tol)
    assert np.all(xs[:, 0] >= 1 - 1e-6 - tol)


def test_an_interior_x0_of_an_intersection_is_left_where_it_is():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "x0 was projected" warning
        r = trfd_jax.minimize(
            lambda x: jnp.sum((x - 0.7) ** 2),
            jnp.array([0.5, 0.5]),
            constraint=Intersection((Box(0.0, 1.0), L2Ball(5.0))),
            max_evals=40,
        )
    assert int(r.nfev) > 1


def test_a_tangent_intersection_is_a_single_feasible_point_not_an_empty_set():
    tangent = Intersection((L2Ball(1.0), HalfSpace(jnp.array([-1.0, 0.0]), -1.0)))
    with pytest.warns(UserWarning, match="projected"):
        r = trfd_jax.minimize(
            lambda x: jnp.sum(x**2), jnp.array([2.0, 0.0]), constraint=tangent, max_evals=50
        )
    np.testing.assert_allclose(r.x, [1.0, 0.0], atol=1e-9)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(radius_increase=float("inf")), "radius_increase must be finite"),
        (dict(fd_step_init=1e-320), "subnormal"),
        (dict(radius_init=1e300, radius_max=1e301), None),
    ],
)
def test_options_that_cannot_work_are_refused(options, match):
    if match is None:  # fine in float64, an overflow in float32
        trfd_jax.minimize(
            lambda x: jnp.sum(x**2), jnp.ones(2), max_evals=10, options=trfd_jax.Options(**options)
        )
        with pytest.raises(ValueError, match="overflows float32"):
            trfd_jax.minimize(
                lambda x: jnp.sum(x**2),
                jnp.ones(2, jnp.float32),
                options=trfd_jax.Options(**options),
            )
        return
    with pytest.raises(ValueError, match=match):
        trfd_jax.minimize(
            lambda x: jnp.sum(x**2), jnp.ones(2), max_evals=10, options=trfd_jax.Options(**options)
        )


def test_least_squares_x_residuals_and_cost_agree():
    seen = {}

    def residuals(x):
        value = np.array([10 * (x[1] - x[0] ** 2), 1 - x[0], 0.1 * x[0] * x[1]])
        seen[tuple(x)] = value
        return value

    r = trfd_jax.least_squares(
        trfd_jax.black_box(residuals, residuals=3), jnp.array([-1.2, 1.0]), max_evals=100
    )
    host = seen[tuple(np.asarray(r.x))]
    np.testing.assert_array_equal(r.residuals, host)  # F(x) exactly as the host returned it
    # f = ½‖F(x)‖², summed in XLA: equal to NumPy's sum up to its last bits.
    np.testing.assert_allclose(float(r.f), 0.5 * np.sum(host**2), rtol=4 * np.finfo(float).eps)


def test_callback_exception_is_the_callers_exception():
    class Stop(Exception):
        pass

    def callback(summary):
        raise Stop("from the callback")

    with pytest.raises(Stop, match="from the callback"):
        trfd_jax.minimize(lambda x: jnp.sum(x**2), jnp.ones(2), max_evals=30, callback=callback)


def test_jax_native_objectives_are_never_traced_at_points_outside_the_box():
    # Masked batches compute every row of a vmap; the rows must still lie in the box.
    seen = []

    def f(x):
        jax.debug.callback(lambda v: seen.append(np.array(v)), x)
        return jnp.sum((x - 2.0) ** 2)

    trfd_jax.minimize(
        f,
        jnp.array([0.5, 0.5]),
        constraint=Intersection((Box(0.0, 1.0), L2Ball(5.0))),
        max_evals=60,
    )
    p = np.stack(seen)
    assert np.all((p >= 0.0) & (p <= 1.0))


def test_an_unused_budget_costs_no_memory():
    # Before: the history had max_evals entries (rounded up), 1.9 GB for a budget of 2e8.
    f = lambda x: jnp.sum((x - 1.0) ** 2)  # noqa: E731
    problem, _ = trfd_jax.make_problem(f, jnp.zeros(2), max_evals=200_000_000)
    assert problem.history_size == 4096
    r = trfd_jax.minimize(f, jnp.zeros(2), max_evals=200_000_000)
    assert r.history.shape == (4096,) and int(r.nfev) < 100
    assert float(r.history[-1]) == float(r.f)
    whole = trfd_jax.Options(history_size=None)
    assert (
        trfd_jax.make_problem(f, jnp.zeros(2), max_evals=5000, options=whole)[0].history_size
        == 8192
    )
