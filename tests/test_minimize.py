"""The public entry points: convergence, budget, history, jit/vmap equivalence."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax
from trfd_jax import Options, Status
from trfd_jax._src import noise

from .helpers import (
    extended_rosenbrock,
    first_step,
    make_quadratic,
    recording,
    rosenbrock,
    sphere,
)


def test_rosenbrock_budget_300():
    r = trfd_jax.minimize(rosenbrock, jnp.array([-1.2, 1.0]), max_evals=300)
    assert float(r.f) < 1e-8
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-3)
    assert int(r.nfev) <= 300
    # the returned value is the returned point's value (to rounding of a value near 0)
    np.testing.assert_allclose(rosenbrock(r.x), r.f, rtol=0, atol=1e-18)


def test_quadratic_to_high_accuracy():
    f, _, x_star = make_quadratic(5, seed=3, cond=100.0)
    r = trfd_jax.minimize(f, jnp.zeros(5))
    np.testing.assert_allclose(r.x, x_star, atol=1e-5)


@pytest.mark.parametrize("max_evals", [4, 5, 17, 60, 61, 62, 63])
def test_budget_never_exceeded_counting_real_calls(max_evals):
    def f(x):
        return (x[0] - 1) ** 2 + 3 * (x[1] + 2) ** 2

    wrapped, calls = recording(f)
    r = trfd_jax.minimize(wrapped, jnp.array([3.0, 3.0]), max_evals=max_evals)
    assert len(calls) == int(r.nfev) <= max_evals
    # The best value reported is the best value of any point really evaluated.
    assert float(r.f) == min(f(c) for c in calls)
    if int(r.status) == Status.MAX_EVALS:
        assert int(r.nfev) + 2 + 1 > max_evals  # a full iteration would not have fit


def test_history_is_monotone_padded_and_consistent():
    r = trfd_jax.minimize(rosenbrock, jnp.array([-1.2, 1.0]), max_evals=150)
    h = np.asarray(r.history)
    assert h.shape == (256,)  # 150 rounded up to a power of two
    assert np.all(np.diff(h) <= 0)
    np.testing.assert_allclose(h[0], 24.2, rtol=1e-15)
    nfev = int(r.nfev)
    assert np.all(h[nfev - 1 :] == float(r.f))
    assert np.all(np.isfinite(h))


def test_radius_tol_stops_run():
    options = Options(radius_tol=1e-3, xtol=None)
    r = trfd_jax.minimize(sphere, jnp.zeros(3), options=options, max_evals=10_000)
    assert int(r.status) == Status.RADIUS_TOL and float(r.radius) <= 1e-3
    assert bool(r.success)
    assert "radius" in r.message


def test_target_and_iteration_cap():
    r = trfd_jax.minimize(sphere, jnp.zeros(3), options=Options(f_target=1e-3, xtol=None))
    assert int(r.status) == Status.TARGET_REACHED and float(r.f) <= 1e-3
    r = trfd_jax.minimize(sphere, jnp.zeros(3), options=Options(max_iter=4, xtol=None))
    assert int(r.status) == Status.MAX_ITER and int(r.nit) == 4


@pytest.mark.parametrize("kind", ["sr1", "scaled_identity", "identity", "zero"])
def test_other_hessian_models_converge_on_a_quadratic(kind):
    f, _, x_star = make_quadratic(3, seed=4, cond=5.0)
    r = trfd_jax.minimize(f, jnp.zeros(3), options=Options(hessian=kind), max_evals=400)
    np.testing.assert_allclose(r.x, x_star, atol=1e-4)


def test_central_differences():
    options = Options(fd_scheme="central")
    r = trfd_jax.minimize(rosenbrock, jnp.array([-1.2, 1.0]), max_evals=600, options=options)
    assert float(r.f) < 1e-8


# ---------------------------------------------------------------------------- jit, vmap


def test_jit_equals_no_jit():
    x0 = jnp.array([-1.2, 1.0])
    eager = trfd_jax.minimize(rosenbrock, x0, max_evals=200)
    jitted = jax.jit(lambda x: trfd_jax.minimize(rosenbrock, x, max_evals=200))(x0)
    jax.tree.map(np.testing.assert_array_equal, eager, jitted)
    only_x = jax.jit(lambda x: trfd_jax.minimize(rosenbrock, x, max_evals=200).x)(x0)
    np.testing.assert_array_equal(only_x, eager.x)


def test_vmap_equals_python_loop_on_16_starts():
    # To the bit: the batched program rounds as the unbatched one (see record._as_stored
    # and the reciprocals in the BFGS update); constraints in tests/test_constraints.py.
    # Chunks of one start (Options.batch_chunk=1): XLA rounds the dense quadratic's matrix
    # products by layout, so only then are the batch's values a loop's for this f.
    f, _, _ = make_quadratic(4, seed=7, cond=20.0)
    options = Options(fd_step_init=1e-5, noise_level=None, batch_chunk=1)
    starts = jnp.asarray(np.random.default_rng(0).uniform(-3, 3, (16, 4)))
    batched = jax.vmap(lambda x: trfd_jax.minimize(f, x, max_evals=60, options=options))(starts)
    for k in range(16):
        single = trfd_jax.minimize(f, starts[k], max_evals=60, options=options)
        for name in ("nfev", "nit", "status", "n_successful", "n_type_i", "n_type_ii"):
            assert int(getattr(batched, name)[k]) == int(getattr(single, name)), name
        np.testing.assert_array_equal(batched.x[k], single.x)
        np.testing.assert_array_equal(batched.history[k], single.history)


@pytest.mark.parametrize("hessian", ["sr1", "scaled_identity"])
@pytest.mark.parametrize("n", [2, 4])
def test_vmap_equals_a_loop_to_the_bit_with_every_hessian_update(hessian, n):
    # SR1 divided its outer product by a broadcast scalar, which XLA turns into a product
    # with the reciprocal in an unbatched program but not always in a batched one: 22 of
    # 24 starts differed at n = 2.  Extended Rosenbrock rounds alike in both layouts.
    def f(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    options = Options(noise_level=None, hessian=hessian)
    starts = jnp.asarray(np.random.default_rng(n).uniform(-2, 2, (24, n)))
    solve = jax.jit(lambda x: trfd_jax.minimize(f, x, max_evals=200, options=options))
    batched = jax.vmap(solve)(starts)
    for k in range(24):
        single = solve(starts[k])
        assert int(batched.nfev[k]) == int(single.nfev), k
        np.testing.assert_array_equal(batched.x[k], single.x)


def test_vmap_multistart_with_a_failing_start():
    def f(x):
        return jnp.where(x[0] > 5, jnp.nan, jnp.sum((x - 1.0) ** 2))

    starts = jnp.array([[0.0, 0.0], [9.0, 0.0], [2.0, 2.0]])
    r = jax.vmap(lambda x: trfd_jax.minimize(f, x, max_evals=50))(starts)
    assert int(r.status[1]) == Status.NONFINITE_X0
    others = {int(r.status[0]), int(r.status[2])}  # the other starts run normally
    assert others <= {Status.RADIUS_TOL, Status.CONVERGED, Status.MAX_EVALS}
    assert float(r.f[0]) < 1e-8 and float(r.f[2]) < 1e-8
    # f(x₀) and, in the same batch, the two noise probe points of the default options.
    assert int(r.nfev[1]) == 1 + noise.PROBE_COUNT
    assert r.message[1] == Status.NONFINITE_X0.message


def test_vmap_over_args():
    def f(x, target):
        return jnp.sum((x - target) ** 2)

    targets = jnp.array([[1.0, 2.0], [-1.0, 0.5]])
    r = jax.vmap(lambda t: trfd_jax.minimize(f, jnp.zeros(2), args=t, max_evals=40))(targets)
    np.testing.assert_allclose(r.x, targets, atol=1e-6)


def test_multistart_extended_rosenbrock_small():
    starts = jnp.asarray(np.random.default_rng(1).uniform(-2, 2, (8, 4)))
    r = jax.jit(jax.vmap(lambda x: trfd_jax.minimize(extended_rosenbrock, x)))(starts)
    assert np.all(np.asarray(r.nfev) <= 500)
    assert np.mean(np.asarray(r.f) < 1e-6) >= 0.5


def test_a_new_budget_does_not_recompile():
    from trfd_jax._src.iterate import compiled_programs

    traces = []

    def f(x):
        traces.append(x.shape)
        return jnp.sum((x - 1.0) ** 2)

    first = trfd_jax.minimize(f, jnp.zeros(3), max_evals=70)
    size, count = compiled_programs(), len(traces)
    second = trfd_jax.minimize(f, jnp.zeros(3), max_evals=100)  # the same size class
    assert compiled_programs() == size
    assert len(traces) == count + 1  # only the output-shape check traces f again
    assert int(first.nfev) <= 70 and int(second.nfev) <= 100
    tight = trfd_jax.minimize(f, jnp.zeros(3), max_evals=9)
    assert int(tight.nfev) <= 9 and int(tight.status) == Status.MAX_EVALS


def test_no_recompile_on_second_call():
    from trfd_jax._src.iterate import compiled_programs

    traces = []

    def f(x):
        traces.append(x.shape)
        return jnp.sum(x**2)

    trfd_jax.minimize(f, jnp.ones(3), max_evals=30)
    size, first = compiled_programs(), len(traces)
    trfd_jax.minimize(f, 2 * jnp.ones(3), max_evals=30)  # same static config: cached
    assert compiled_programs() == size
    assert len(traces) == first + 1  # only the output-shape check traces f again


def test_a_new_closure_of_the_same_code_and_data_reuses_the_compiled_solver():
    from trfd_jax._src.iterate import compiled_programs

    data = jnp.asarray([1.0, -2.0, 0.5])
    starts = np.random.default_rng(0).standard_normal((3, 3))
    before = compiled_programs()
    results = [
        trfd_jax.minimize(lambda x: jnp.sum((x - data) ** 2), x0, max_evals=80) for x0 in starts
    ]
    assert compiled_programs() == before + 1  # three lambdas, one program
    for r in results:
        np.testing.assert_allclose(r.x, data, atol=1e-6)
    # A pytree x0, a new closure each time: one more program, shared too.
    for x0 in starts[:2]:
        r = trfd_jax.minimize(lambda p: jnp.sum((p["w"] - data) ** 2), {"w": x0}, max_evals=80)
        np.testing.assert_allclose(r.x["w"], data, atol=1e-6)
    assert compiled_programs() == before + 2


def test_a_loop_over_new_concrete_data_compiles_once():
    # The natural loop: a new closure over new data each call.  The captured array is data
    # (shape and dtype decide the program), so twenty calls compile one solver, and each
    # call still answers for its own data.
    from trfd_jax._src.iterate import compiled_programs

    def loss(x, d):
        return jnp.sum((x - d) ** 2)

    rng = np.random.default_rng(3)
    before = compiled_programs()
    for _ in range(20):
        d = jnp.asarray(rng.standard_normal(3))
        r = trfd_jax.minimize(lambda x, d=d: loss(x, d), jnp.zeros(3), max_evals=80)
        np.testing.assert_allclose(r.x, d, atol=1e-6)
    assert compiled_programs() <= before + 1  # 0 where an earlier test compiled it


def test_closures_that_differ_only_in_data_or_host_function_keep_their_own_answers():
    # A captured array of other values (data of a shared program), a captured PRNG key and
    # a host callback of the same code but another function object (its own program) each
    # give their own minimizer.
    for target in ([1.0, 2.0], [3.0, -1.0]):
        c = np.asarray(target)
        r = trfd_jax.minimize(lambda x, c=c: jnp.sum((x - c) ** 2), np.zeros(2), max_evals=80)
        np.testing.assert_allclose(r.x, target, atol=1e-6)
    for seed in (0, 1):  # a captured PRNG key (no NumPy form: its raw data is the key)
        key = jax.random.key(seed)
        r = trfd_jax.minimize(
            lambda x, key=key: jnp.sum((x - jax.random.normal(key, (2,))) ** 2),
            np.zeros(2),
            max_evals=80,
        )
        np.testing.assert_allclose(r.x, jax.random.normal(key, (2,)), atol=1e-6)
    for target in (1.0, 2.0):

        def host(v, target=target):
            return np.sum((v - target) ** 2)

        def f(x, host=host):
            shape = jax.ShapeDtypeStruct((), x.dtype)
            return jax.pure_callback(host, shape, x, vmap_method="sequential")

        r = trfd_jax.minimize(f, np.zeros(2), max_evals=80)
        np.testing.assert_allclose(r.x, [target, target], atol=1e-6)


def test_a_rebound_closed_over_value_is_seen():
    # The same function object, its closed-over value rebound: a new program, not the old
    # one (a cache keyed by the function object would return the first minimizer).
    c = 1.0

    def f(x):
        return jnp.sum((x - c) ** 2)

    first = trfd_jax.minimize(f, np.zeros(2), max_evals=60)
    c = 2.0
    second = trfd_jax.minimize(f, np.zeros(2), max_evals=60)
    np.testing.assert_allclose(first.x, [1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(second.x, [2.0, 2.0], atol=1e-6)


def test_a_hand_built_state_with_the_wrong_shape_is_caught_at_trace_time():
    problem, _ = trfd_jax.make_problem(sphere, jnp.ones(2))
    with pytest.raises(AssertionError):
        trfd_jax.init(problem, jnp.ones((2, 1)))


# ---------------------------------------------------------------------- bad values, dtypes


def test_nan_at_trial_point_is_rejected():
    # f is NaN on x₀ + (anything with x₁ < −0.5): the first full step lands there.
    def f(x):
        return jnp.where(x[0] < -0.5, jnp.nan, (x[0] + 3.0) ** 2 + x[1] ** 2)

    r = trfd_jax.minimize(f, jnp.array([0.0, 0.0]), max_evals=100)
    assert np.isfinite(float(r.f)) and float(r.x[0]) >= -0.5
    assert float(r.f) < float(f(jnp.zeros(2)))
    assert int(r.n_type_i) + int(r.n_type_ii) > 0


def test_nan_in_gradient_is_retried_with_smaller_step():
    # NaN on a short segment right of x₀ along e₁ (τ₀ lands on it): the gradient fails,
    # τ and Δ are halved until the step is below the segment, then the run goes on.
    def f(x):
        bad = (x[0] > 1.0 + 1e-9) & (x[0] < 1.0 + 1e-7) & (x[1] == 1.0)
        return jnp.where(bad, jnp.nan, jnp.sum((x - 3.0) ** 2))

    options = Options(fd_step_init=5e-8)
    problem, x0 = trfd_jax.make_problem(f, jnp.array([1.0, 1.0]), options=options, max_evals=200)
    state = first_step(problem, x0)
    assert int(state.last_step) == trfd_jax.StepKind.GRADIENT_FAILED
    assert float(state.region.fd_step) == 2.5e-8 and float(state.region.radius) == 0.5
    r = trfd_jax.minimize(f, jnp.array([1.0, 1.0]), options=options, max_evals=200)
    assert float(r.f) < 1e-6


def test_nonfinite_f_at_x0_is_a_status():
    r = trfd_jax.minimize(lambda x: jnp.log(x[0]), jnp.array([-1.0, 0.0]))
    assert int(r.status) == Status.NONFINITE_X0 and int(r.nfev) == 1 + noise.PROBE_COUNT
    paper = trfd_jax.minimize(
        lambda x: jnp.log(x[0]), jnp.array([-1.0, 0.0]), options=trfd_jax.Options.paper()
    )
    assert int(paper.status) == Status.NONFINITE_X0 and int(paper.nfev) == 1


def test_integer_x0_is_promoted():
    r = trfd_jax.minimize(sphere, np.array([0, 0]), max_evals=40)
    assert r.x.dtype == jnp.float64


def test_float32_runs_with_warning():
    with pytest.warns(UserWarning, match="float32"):
        r = trfd_jax.minimize(rosenbrock, jnp.array([-1.2, 1.0], jnp.float32), max_evals=300)
    assert r.x.dtype == jnp.float32 and r.f.dtype == jnp.float32
    assert float(r.fd_step) <= float(np.sqrt(np.finfo(np.float32).eps))
    assert float(r.f) < 1e-3


def test_no_float32_warning_in_float64():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trfd_jax.minimize(sphere, jnp.ones(2), max_evals=20)


def test_nested_vmap_equals_flat_vmap():
    f, _, _ = make_quadratic(3, seed=2)
    options = Options(fd_step_init=1e-5)
    starts = jnp.asarray(np.random.default_rng(3).uniform(-2, 2, (6, 3)))

    def solve(x):
        return trfd_jax.minimize(f, x, max_evals=40, options=options)

    flat = jax.vmap(solve)(starts)
    nested = jax.vmap(jax.vmap(solve))(starts.reshape(2, 3, 3))
    np.testing.assert_array_equal(nested.nfev.reshape(6), flat.nfev)
    np.testing.assert_allclose(nested.x.reshape(6, 3), flat.x, rtol=1e-7, atol=1e-9)


def test_huge_x_does_not_fake_convergence():
    # x + τ rounds to x for |x| ≳ 3e8: the difference then uses one ulp, not a zero step.
    r = trfd_jax.minimize(lambda x: jnp.sum((x - 1.0) ** 2), jnp.array([1e9, -1e9]))
    assert float(r.f) < 2e18 and int(r.status) != Status.RADIUS_TOL
    assert bool(jnp.all(r.gradient != 0))
