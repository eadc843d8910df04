"""The ODE calibration application (first paper §4.3): the problem, its promises, and the
benchmark's bounds counter."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("diffrax")

import trfd_jax
from trfd_jax.benchmarks import predator_prey as pp
from trfd_jax.benchmarks.calibration import BoxCounter


def test_the_data_are_the_stated_ground_truth_plus_five_percent_noise():
    problem = pp.calibration_problem()
    again = pp.calibration_problem()
    np.testing.assert_array_equal(problem.observations, again.observations)
    exact = np.asarray(pp.simulate(jnp.asarray(pp.THETA_TRUE)))
    assert exact.shape == (31, 2) and np.all(np.isfinite(exact))
    np.testing.assert_array_equal(exact[0], pp.INITIAL_POPULATIONS)
    # The noise is 5 % of each series' mean: its sample standard deviation is near that.
    relative = (problem.observations - exact) / exact.mean(axis=0)
    assert 0.03 < relative.std() < 0.07
    # f at the truth is the noise alone (62 terms of variance ~0.05²); far from it, f is large.
    truth = jnp.asarray(pp.THETA_TRUE) / jnp.asarray(pp.MAGNITUDE)
    assert 0.05 < float(problem.objective(truth)) < 0.5
    assert float(problem.objective(jnp.full(6, 5.0))) > 10 * float(problem.objective(truth))


def test_the_starts_are_deterministic_and_strictly_inside_the_box():
    np.testing.assert_allclose(pp.halton(2, 3), [[1 / 2, 1 / 3, 1 / 5], [1 / 4, 2 / 3, 2 / 5]])
    starts = pp.starting_points(171)
    np.testing.assert_array_equal(starts, pp.starting_points(171))
    assert starts.shape == (171, 6)
    assert np.all(starts > 1.0) and np.all(starts < 10.0)
    assert len(np.unique(starts, axis=0)) == 171
    np.testing.assert_allclose(pp.parameters(jnp.ones(6)), pp.MAGNITUDE)


def test_a_failed_ode_solve_is_nan():
    # The ground truth needs ~220 Tsit5 steps at the module's tolerance; a cap of 50 fails.
    theta = jnp.asarray(pp.THETA_TRUE)
    assert np.all(np.isnan(np.asarray(pp.simulate(theta, max_steps=50))))
    problem = pp.calibration_problem(max_steps=50)
    assert np.isnan(float(problem.objective(theta / jnp.asarray(pp.MAGNITUDE))))


def test_ode_failures_inside_the_bounds_are_rejected_trial_points_never_accepted():
    # A step cap of 200 makes the solve fail on part of the box — around the ground truth,
    # where the fits go — while the starts below solve: the runs must meet NaN, reject it,
    # and still finish with a finite best point inside the bounds.
    problem = pp.calibration_problem(max_steps=200)
    starts = pp.starting_points(24)
    f0 = np.array([float(problem.objective(s)) for s in starts])
    starts = starts[np.isfinite(f0)][:4]
    assert len(starts) == 4
    seen = {"nan": 0, "points": 0}

    def host(theta, value):
        seen["points"] += value.size
        seen["nan"] += int(np.sum(np.isnan(value)))
        return np.zeros_like(value)

    def watched(u):
        value = problem.objective(u)
        shape = jax.ShapeDtypeStruct(value.shape, value.dtype)
        return value + jax.pure_callback(host, shape, u, value, vmap_method="broadcast_all")

    solve = jax.jit(
        jax.vmap(lambda u0: trfd_jax.minimize(watched, u0, bounds=problem.bounds, max_evals=140))
    )
    result = jax.tree.map(np.asarray, solve(jnp.asarray(starts)))
    assert seen["nan"] > 0, "the step cap forced no ODE failure: the test tests nothing"
    assert np.all(np.isfinite(result.f))
    assert np.all(result.nfev <= 140)
    assert np.all((result.x >= problem.lower) & (result.x <= problem.upper))
    for k in range(len(starts)):
        # The returned value is f at the returned point, and the history never took NaN.
        assert float(problem.objective(result.x[k])) == pytest.approx(result.f[k], rel=1e-12)
        history = result.history[k][: result.nfev[k]]
        assert np.all(np.isfinite(history)) and np.all(np.diff(history) <= 0)
        assert result.f[k] < f0[np.isfinite(f0)][k]


def test_the_benchmark_counts_points_outside_the_box_under_vmap():
    counter = BoxCounter(np.zeros(2), np.ones(2))
    points = jnp.array([[0.5, 0.5], [1.5, 0.5], [0.0, 1.0], [-1e-9, 0.2]])
    values = jax.jit(jax.vmap(lambda x: jnp.sum(x**2) + counter(x)))(points)
    np.testing.assert_allclose(values, jnp.sum(points**2, axis=1))
    assert (counter.points, counter.outside) == (4, 2)


def test_calibration_profiles_by_hand():
    # Two starts, two solvers, budget 7: A solves both at t = 2 and 7 (κ = 2/7, 1), B only
    # the first at t = 7 (κ = 1).  f(x₀) = 10, f_L = 0; the area is mean_p (1 − κ/100).
    from trfd_jax.benchmarks.calibration import profiles

    a = np.array([[10, 0, 0, 0, 0, 0, 0], [10, 10, 10, 10, 10, 10, 0]], float)
    b = np.array([[10, 10, 10, 10, 10, 10, 0], [10] * 7], float)
    areas = profiles({"A": a, "B": b}, np.array([10.0, 10.0]))
    assert len(areas["A"]) == 7
    np.testing.assert_allclose(areas["A"], (1 - 2 / 700 + 1 - 7 / 700) / 2)
    np.testing.assert_allclose(areas["B"], (1 - 7 / 700) / 2)


def test_status_counts_are_json_keys():
    import json

    from trfd_jax.benchmarks.calibration import status_counts

    counts = status_counts(np.array([8, 2, 8], np.int32))
    assert counts == {2: 1, 8: 2}
    assert json.loads(json.dumps(counts)) == {"2": 1, "8": 2}


@pytest.mark.slow  # the benchmark script; the example test runs the same calibration in CI
def test_calibration_benchmark_smoke(tmp_path):
    # The wall-clock part on 2 starts against BOBYQA: it runs, writes its JSON, and both
    # solvers reach a fit.
    pytest.importorskip("nlopt")
    from trfd_jax.benchmarks.calibration import main

    args = ["--starts", "2", "--parts", "wallclock", "--peers", "bobyqa", "--repeats", "1"]
    out = main([*args, "--out", str(tmp_path)])
    timing = out["timing"]
    assert timing["trfd_jax"]["wall_s"] > 0 and timing["bobyqa_loop"]["wall_s"] > 0
    assert timing["trfd_jax"]["median_f"] < 1.0
    assert (tmp_path / "calibration.json").exists()
