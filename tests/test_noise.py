"""ECnoise (trfd_jax._src.noise): the estimate against the true noise level."""

import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trfd_jax._src.noise import NoiseEstimate, ecnoise

M = 8


def _line(x):
    # A smooth f of order 1 along the line, with curvature: its 4th differences at h = 1e-2
    # are about 1e-8, far below the noise levels tested except the smallest.
    return 1.0 + 0.5 * jnp.sin(3.0 * x) + x**2


@pytest.mark.parametrize("kind", ["uniform", "gaussian"])
@pytest.mark.parametrize("level", [1e-2, 1e-5, 1e-8])
def test_the_estimate_is_within_a_factor_3_of_the_true_level(kind, level):
    h = 1e-2 if level > 1e-6 else 1e-3
    t = 0.3 + h * jnp.arange(M + 1.0)
    keys = jax.random.split(jax.random.key(0), 200)

    def estimate(key):
        if kind == "uniform":  # uniform on [−√3ξ, √3ξ]: standard deviation ξ
            noise = jax.random.uniform(key, t.shape, minval=-1.0, maxval=1.0) * np.sqrt(3.0)
        else:
            noise = jax.random.normal(key, t.shape)
        return ecnoise(_line(t) + level * noise)

    noise, inform = jax.jit(jax.vmap(estimate))(keys)
    ok = np.asarray(inform) == NoiseEstimate.OK
    ratio = np.asarray(noise)[ok] / level
    assert ok.mean() >= 0.9, ok.mean()
    within = (ratio >= 1 / 3) & (ratio <= 3)
    assert within.mean() >= 0.9, (within.mean(), np.quantile(ratio, [0.05, 0.5, 0.95]))


def test_a_smooth_function_has_rounding_noise_only():
    t = 0.3 + 1e-3 * jnp.arange(M + 1.0)
    noise, inform = ecnoise(_line(t))
    assert int(inform) != NoiseEstimate.OK or float(noise) < 1e-14


def test_a_constant_function_says_the_step_is_too_small():
    noise, inform = ecnoise(jnp.full(M + 1, 2.0))
    assert int(inform) == NoiseEstimate.STEP_TOO_SMALL and float(noise) == 0.0


def test_a_function_varying_by_more_than_ten_percent_says_the_step_is_too_large():
    t = jnp.arange(M + 1.0)
    noise, inform = ecnoise(1.0 + t)
    assert int(inform) == NoiseEstimate.STEP_TOO_LARGE and float(noise) == 0.0


def test_too_few_values_is_a_value_error():
    with pytest.raises(ValueError, match="m \\+ 1 ≥ 4"):
        ecnoise(jnp.ones(3))


# ------------------------------------------------------------------- noise in the solver

import trfd_jax  # noqa: E402
from trfd_jax import Options, Status  # noqa: E402
from trfd_jax._src import finite_differences as fd_lib  # noqa: E402
from trfd_jax._src import noise as noise_lib  # noqa: E402
from trfd_jax._src.state import StepKind  # noqa: E402

SIGMA = 1e-4


def _hashed_noise(x, sigma, seed=7):
    """Uniform noise of standard deviation σ, a deterministic function of x's bits (the
    benchmarks' noise: equal points, equal values); ``seed`` draws another noise."""
    key = jax.random.key(seed)
    for word in jax.lax.bitcast_convert_type(x, jnp.uint32).reshape(-1):
        key = jax.random.fold_in(key, word)
    return sigma * np.sqrt(3.0) * jax.random.uniform(key, (), x.dtype, -1.0, 1.0)


def _quadratic(x):
    return jnp.sum(jnp.array([1.0, 2.0, 4.0, 8.0]) * (x - 1.0) ** 2)


def _noisy_quadratic(x):
    return _quadratic(x) + _hashed_noise(x, SIGMA)


AUTO = Options(noise_level="auto")


def test_a_noisy_quadratic_is_solved_to_the_noise_floor():
    r = trfd_jax.minimize(_noisy_quadratic, jnp.zeros(4), max_evals=1000, options=AUTO)
    assert int(r.status) == Status.NOISE_FLOOR and bool(r.success)
    assert SIGMA / 3 <= float(r.noise) <= 3 * SIGMA  # estimated, not given
    assert int(r.nfev) < 1000  # stopped by the floor, not the budget
    # Solved to what the noise allows: the true f within a few hundred σ of its minimum 0.
    assert float(_quadratic(r.x)) < 300 * SIGMA
    # Without noise handling the default step is swamped: far worse.
    plain = trfd_jax.minimize(
        _noisy_quadratic, jnp.zeros(4), max_evals=1000, options=Options(noise_level=None)
    )
    assert float(plain.noise) == 0.0
    assert float(_quadratic(plain.x)) > 10 * float(_quadratic(r.x))


def test_a_known_noise_level_sets_the_step_floor_from_the_start():
    r = trfd_jax.minimize(
        _noisy_quadratic, jnp.zeros(4), max_evals=1000, options=Options(noise_level=SIGMA)
    )
    assert float(r.noise) == SIGMA
    # The run ends on the floor of central differences, (3 ε_f / L̂)^{1/3}, with L̂ the
    # curvature measured at x₀: between the least and the largest second derivative.
    assert int(r.status) == Status.NOISE_FLOOR
    assert np.cbrt(3 * SIGMA / 16) <= float(r.fd_step) <= np.cbrt(3 * SIGMA / 2)
    # τ₀ = 2 √(ε_f / L̂) (forward differences), not from |f(x₀)| = 15.
    problem, x0 = trfd_jax.make_problem(
        _noisy_quadratic, jnp.zeros(4), max_evals=1000, options=Options(noise_level=SIGMA)
    )
    region = trfd_jax.init(problem, x0).region
    assert 2 * np.sqrt(SIGMA / 16) <= float(region.fd_step) <= 2 * np.sqrt(SIGMA / 2)
    assert 2 <= float(region.curvature) <= 16 and not bool(region.central)


def test_forward_differences_at_the_noise_floor_turn_central():
    # With ε_f known, the first failure at the floor switches to central differences
    # (2n points per gradient from then on) instead of stopping; the run ends later, on
    # the central floor.  Driven by hand to see every iteration.
    problem, x0 = trfd_jax.make_problem(
        _noisy_quadratic, jnp.zeros(4), max_evals=1000, options=Options(noise_level=SIGMA)
    )
    step = jax.jit(trfd_jax.step)
    state, kinds, costs = trfd_jax.init(problem, x0), [], []
    while not bool(trfd_jax.terminate(problem, state)):
        new = step(problem, state)
        kinds.append(int(new.last_step))
        costs.append((bool(state.region.needs_gradient), int(new.record.nfev - state.record.nfev)))
        state = new
    switch = kinds.index(StepKind.CENTRAL_DIFFERENCES)
    assert kinds.count(StepKind.CENTRAL_DIFFERENCES) == 1 and kinds[-1] == StepKind.NOISE_FLOOR
    before = {cost for due, cost in costs[:switch] if due}
    after = {cost for due, cost in costs[switch + 1 :] if due}
    assert before == {4 + 1} and after == {8 + 1}  # n + 1, then 2n + 1 per iteration
    assert int(state.status) == Status.NOISE_FLOOR and int(state.record.nfev) <= 1000


@pytest.mark.parametrize(
    ("weights", "seeds"),
    [((1.0, 2.0, 4.0, 8.0), (7,)), ((1.0, 1e2, 1e4, 1e6), (7, 14, 19, 21))],
)
def test_at_the_noise_floor_the_radius_is_not_driven_below_the_stencil(weights, seeds):
    # τ cannot shrink at its floor, so a failure that would have halved it (Δ_{k+1} < τ √n)
    # switches to central differences at once: forward differences never see Δ < τ √n
    # (the rule before stopped only once the sought decrease fell below ε_f, and on the
    # badly scaled quadratic let Δ fall to 0.1 τ √n, ending at f = 0.9).  The stop comes
    # with central differences.  On the badly scaled quadratic, one τ for every axis left
    # the flattest one at 1.2 on some noise draws (seeds 14, 19, 21 here; seed 7 on an
    # AVX-512 CPU): the central steps now follow each axis's curvature and H is rescaled
    # to it (noise.coordinate_scales, noise.rescaled_hessian), so several draws must all
    # reach the minimizer.
    w = jnp.asarray(weights)
    for seed in seeds:
        noise_seed = jnp.asarray(seed, jnp.uint32)  # data: one compiled step for all seeds

        def f(x, noise_seed=noise_seed):
            return jnp.sum(w * (x - 1.0) ** 2) + _hashed_noise(x, SIGMA, noise_seed)

        problem, x0 = trfd_jax.make_problem(
            f, jnp.zeros(4), max_evals=1000, options=Options(noise_level=SIGMA)
        )
        step = jax.jit(trfd_jax.step)
        state = trfd_jax.init(problem, x0)

        def stencil(s):
            return float(s.region.fd_step) * 2.0  # τ √n, n = 4

        while not bool(trfd_jax.terminate(problem, state)):
            state = step(problem, state)
            if not bool(state.region.central):
                assert float(state.region.radius) >= stencil(state)
        assert int(state.status) == Status.NOISE_FLOOR and bool(state.region.central)
        # Either stop: a failure that showed both signs, or QUIET_STEPS steps in a row
        # that sought less than ε_f.
        both = float(state.region.radius) < stencil(state)
        assert both or int(state.region.quiet) >= noise_lib.QUIET_STEPS
        assert float(jnp.sum(w * (state.iterate.x - 1.0) ** 2)) < 1e-3, seed


def test_the_curvature_probe_measures_second_derivatives():
    x = jnp.array([0.3, -0.2, 0.5, 0.9])  # |x_j| ≤ 1: steps of one length
    points, lengths = noise_lib.curvature_points(None, x, jnp.asarray(1.0), jnp.asarray(1e-4))
    assert points.shape == (noise_lib.curvature_count(4), 4)
    values = jax.vmap(_quadratic)(points)
    curvature = noise_lib.curvature_scale(_quadratic(x), values, lengths, jnp.asarray(0.0))
    # Along (1, 0, 1, 0): (2 + 8) / 2; along (0, 1, 0, 1): (4 + 16) / 2, the larger.
    np.testing.assert_allclose(float(curvature), 10.0, rtol=1e-9)
    # Below the noise, the curvature is bounded by it: τ = 2 √(ε_f / L̂) is then ‖w‖.
    flat = jnp.full(points.shape[0], 3.0)
    bounded = noise_lib.curvature_scale(jnp.asarray(3.0), flat, lengths, jnp.asarray(SIGMA))
    floor = noise_lib.fd_floor("forward", jnp.asarray(SIGMA), bounded)
    np.testing.assert_allclose(float(floor), float(jnp.max(lengths)), rtol=1e-12)


def _region(fd_step, floor, curvature, noise=1e-6, central=False):
    from trfd_jax._src.state import Region

    f64 = jnp.float64
    return Region(
        radius=jnp.asarray(1.0, f64),
        fd_step=jnp.asarray(fd_step, f64),
        needs_gradient=jnp.asarray(False),
        noise=jnp.asarray(noise, f64),
        fd_floor=jnp.asarray(floor, f64),
        noise_tries=jnp.asarray(noise_lib.MAX_TRIES, jnp.int32),
        noise_hint=jnp.asarray(0.0, f64),
        curvature=jnp.asarray(curvature, f64),
        central=jnp.asarray(central),
        quiet=jnp.zeros((), jnp.int32),
    )


@pytest.mark.parametrize("central", [False, True])
def test_the_floor_follows_the_curvature_the_hessian_learned(central):
    eps, probe = 1e-6, 2.0
    scheme = "central" if central else "forward"
    floor = float(noise_lib.fd_floor(scheme, jnp.asarray(eps), jnp.asarray(probe)))
    hessian = jnp.diag(jnp.array([50.0, 10.0, 0.5]))  # tr H / n = 20.17 > L̂ = 2
    mean = 60.5 / 3
    learned = noise_lib.learned_floor(
        "forward", _region(floor, floor, probe, eps, central), hessian, jnp.asarray(True)
    )
    np.testing.assert_allclose(float(learned.curvature), mean, rtol=1e-12)
    expected = float(noise_lib.fd_floor(scheme, jnp.asarray(eps), jnp.asarray(mean)))
    np.testing.assert_allclose(float(learned.fd_floor), expected, rtol=1e-12)
    assert expected < floor
    # τ on the floor follows it down; a τ above it (a larger fd_step_init) is left alone.
    np.testing.assert_allclose(float(learned.fd_step), expected, rtol=1e-12)
    above = noise_lib.learned_floor(
        "forward", _region(10 * floor, floor, probe, eps, central), hessian, jnp.asarray(True)
    )
    assert float(above.fd_step) == 10 * floor and float(above.fd_floor) == float(expected)
    # Nothing changes without a reliable update, without noise, or when H has learned
    # less curvature than the probe measured.
    for region, h, learned_now in (
        (_region(floor, floor, probe, eps, central), hessian, False),
        (_region(floor, 0.0, 0.0, 0.0, central), hessian, True),
        (_region(floor, floor, probe, eps, central), 0.1 * jnp.eye(3), True),
    ):
        same = noise_lib.learned_floor("forward", region, h, jnp.asarray(learned_now))
        for a, b in zip(jax.tree.leaves(same), jax.tree.leaves(region), strict=True):
            assert np.array_equal(np.asarray(a), np.asarray(b))


def test_a_curvature_the_probe_misses_is_learned():
    # 100 (x₀ − x₂)² has second derivatives 200 along x₀ and x₂ but none along x₀ + x₂,
    # the probe's first direction (the even-numbered coordinates): the probe measures
    # L̂ ≈ 2 where tr H / n ≈ 100, and τ = 2 √(ε_f / L̂) is 7x too large.  The Hessian
    # learns the curvature from the gradients; L̂ and the floor follow it.
    def smooth(x):
        return 100.0 * (x[0] - x[2]) ** 2 + jnp.sum((x - 1.0) ** 2)

    def f(x):
        return smooth(x) + _hashed_noise(x, SIGMA)

    x0 = jnp.array([0.0, 0.0, 0.5, 0.0])
    problem, x0 = trfd_jax.make_problem(f, x0, max_evals=1000, options=AUTO)
    step = jax.jit(trfd_jax.step)
    state = trfd_jax.init(problem, x0)
    probed = None
    while not bool(trfd_jax.terminate(problem, state)):
        state = step(problem, state)
        if probed is None and float(state.region.noise) > 0:
            probed = float(state.region.curvature), float(state.region.fd_floor)
    assert probed is not None and probed[0] < 10
    assert float(state.region.curvature) > 10 * probed[0]
    assert float(state.region.fd_floor) < probed[1]
    assert float(smooth(state.iterate.x)) < 1e-2


def test_the_curvature_probe_stays_in_unrelaxable_bounds():
    box = trfd_jax.Box(jnp.array([0.0, -1.0, 0.0]), jnp.array([0.05, 1.0, 1e-3]))
    x = jnp.array([0.04, 0.99, 0.0])
    points, lengths = noise_lib.curvature_points(box, x, jnp.asarray(1.0), jnp.asarray(1e-4))
    assert bool(jnp.all((points >= box.lower) & (points <= box.upper)))
    assert bool(jnp.all(lengths > 0))


@pytest.mark.parametrize("kind", ["uniform", "gaussian"])
def test_the_probe_at_x0_sees_noise_in_more_than_98_percent_of_runs(kind):
    # e(x₀), e(far), e(near): the near change falls below PROBE_RATIO of the far one by
    # chance in about 0.6% of draws (a threshold of 1/10 missed 6%).
    draws = jax.random.split(jax.random.key(1), 4000)

    def seen(key):
        if kind == "uniform":
            e = jax.random.uniform(key, (3,), minval=-1.0, maxval=1.0) * np.sqrt(3.0)
        else:
            e = jax.random.normal(key, (3,))
        values = _quadratic(jnp.zeros(4)) + SIGMA * e
        return noise_lib.probe_evidence(values[0], values[1:], jnp.asarray(True)) > 0

    assert float(jnp.mean(jax.jit(jax.vmap(seen))(draws))) >= 0.98


def test_the_probe_sees_no_noise_in_smooth_functions():
    # Random smooth f (a quadratic plus a sine, of orders 1e-3 to 1e3) at random x₀, with
    # the default τ₀ = √u: the near change is δ / 1000 up to rounding, never evidence.
    keys = jax.random.split(jax.random.key(2), 2000)
    fd_step = jnp.sqrt(jnp.finfo(jnp.float64).eps)

    def evidence(key):
        k1, k2, k3 = jax.random.split(key, 3)
        x = jax.random.normal(k1, (3,)) * 10.0 ** jax.random.uniform(k2, (), minval=-2, maxval=2)
        scale = 10.0 ** jax.random.uniform(k3, (), minval=-3, maxval=3)

        def f(y):
            return scale * (jnp.sum((y - 0.5) ** 2) + jnp.sin(jnp.sum(y)))

        values = jax.vmap(f)(noise_lib.probe_points(None, x, fd_step))
        return noise_lib.probe_evidence(f(x), values, jnp.asarray(True))

    assert float(jnp.max(jax.jit(jax.vmap(evidence))(keys))) == 0.0


def test_smooth_runs_pay_little_and_find_no_noise():
    def rosenbrock(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    for x0 in (jnp.array([-1.2, 1.0]), jnp.array([-1.0, 0.5, 2.0, 1.0])):
        auto = trfd_jax.minimize(rosenbrock, x0, max_evals=2000, options=AUTO)
        off = trfd_jax.minimize(rosenbrock, x0, max_evals=2000, options=Options(noise_level=None))
        assert float(auto.noise) == 0.0
        # The two probe points at x₀, and at most one estimate near convergence, where
        # rounding makes the recomputed gradient erratic (it finds rounding: 0).
        probe = noise_lib.PROBE_COUNT
        most = noise_lib.POINTS + noise_lib.curvature_count(x0.shape[0])
        assert int(off.nfev) + probe <= int(auto.nfev) <= int(off.nfev) + probe + most
        np.testing.assert_allclose(auto.x, off.x, rtol=0, atol=1e-6)


# A thin box (x₂ in a box 0.01 wide, x₃ starting on its upper bound) and a host objective
# with uniform noise of standard deviation 1e-3, a function of x's bits, that records every
# point it is called at (real calls: only the points the solver counts reach it).
THIN_LOWER, THIN_UPPER = np.array([-1.0, 0.2, -1.0]), np.array([2.0, 0.21, 0.0])
THIN_X0 = np.array([0.0, 0.21, 0.0])


def _recorded_noisy_host(seen: list):
    def noisy(x):
        seen.append(np.array(x))
        rng = np.random.default_rng(list(np.frombuffer(np.asarray(x).tobytes(), np.uint32)))
        return float(np.sum((x - 3.0) ** 2) + 1e-3 * np.sqrt(3.0) * rng.uniform(-1.0, 1.0))

    return trfd_jax.black_box(noisy)


@pytest.mark.parametrize("budget", [6, 7, 9, 12, 20, 40])
def test_the_estimation_points_keep_the_budget_and_the_bounds(budget):
    # Every probe and estimation point must stay inside the thin box.
    lower, upper, seen = THIN_LOWER, THIN_UPPER, []
    r = trfd_jax.minimize(
        _recorded_noisy_host(seen),
        THIN_X0,
        bounds=(lower, upper),
        max_evals=budget,
        options=AUTO,
    )
    points = np.array(seen)
    assert int(r.nfev) <= budget and len(points) == int(r.nfev)
    assert np.all(points >= lower) and np.all(points <= upper)
    if budget >= 20:
        assert float(r.noise) > 0  # the estimate was made, inside the box


def test_noise_level_option_is_checked():
    with pytest.raises(ValueError, match="noise_level"):
        Options(noise_level=-1.0)
    with pytest.raises(TypeError, match="noise_level"):
        Options(noise_level="loud")
    assert Options.paper().noise_level is None and Options().noise_level == "auto"
    # The probe is left out when the first iteration would not fit after it.
    for budget in (6, 7, 8):
        r = trfd_jax.minimize(_noisy_quadratic, jnp.zeros(4), max_evals=budget, options=AUTO)
        assert int(r.nfev) <= budget
    with pytest.raises(ValueError, match="max_evals=5 is too small"):
        trfd_jax.minimize(_quadratic, jnp.zeros(4), max_evals=5, options=AUTO)


def _coupled(x):
    """100 (x₀ − x₂)² + ‖x − 1‖²: curvature the probe's directions miss (the learned-floor
    path), with noise."""
    return 100.0 * (x[0] - x[2]) ** 2 + jnp.sum((x - 1.0) ** 2) + _hashed_noise(x, SIGMA)


@pytest.mark.parametrize("objective", [_noisy_quadratic, _coupled])
def test_auto_noise_handling_under_vmap_matches_a_loop(objective):
    starts = jnp.array([[0.0, 0.0, 0.0, 0.0], [2.0, -1.0, 0.5, 3.0]])

    def solve(x0):
        return trfd_jax.minimize(objective, x0, max_evals=400, options=AUTO)

    batch = jax.vmap(solve)(starts)
    for k in range(2):
        one = solve(starts[k])
        assert int(batch.nfev[k]) == int(one.nfev) and int(batch.status[k]) == int(one.status)
        np.testing.assert_allclose(batch.noise[k], one.noise, rtol=1e-12)
        np.testing.assert_allclose(batch.x[k], one.x, rtol=0, atol=1e-12)
        assert float(one.noise) > 0


@pytest.mark.parametrize("case", ["least_squares", "float32", "intersection"])
def test_auto_noise_points_stay_in_unrelaxable_bounds_on_every_path(case):
    # Every point computed (a recorder inside the objective sees masked rows too) lies in
    # the box, the budget holds, and the estimate was made: least squares, float32, and a
    # box composed with a ball in an Intersection.
    dtype = jnp.float32 if case == "float32" else jnp.float64
    lower, upper = np.array([-1.0, 0.2, -1.0]), np.array([2.0, 0.21, 0.0])
    seen = []

    def host(x):
        seen.append(np.array(x))
        return np.zeros((), x.dtype)

    def recorded(x, residuals=False):
        zero = jax.pure_callback(
            host, jax.ShapeDtypeStruct((), x.dtype), x, vmap_method="sequential"
        )
        r = x - 3.0 + zero
        noisy = _hashed_noise(x, 1e-3).astype(x.dtype)
        return jnp.append(r, jnp.sqrt(2e-3 + noisy)) if residuals else jnp.sum(r * r) + noisy

    x0 = jnp.array([0.0, 0.21, 0.0], dtype)
    kwargs = {"max_evals": 60, "options": AUTO}
    with jax.numpy_dtype_promotion("standard"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # float32's accuracy warning
        if case == "least_squares":
            r = trfd_jax.least_squares(
                lambda x: recorded(x, True), x0, bounds=(lower, upper), search=None, **kwargs
            )
        elif case == "intersection":
            box = trfd_jax.Box(jnp.asarray(lower), jnp.asarray(upper))
            r = trfd_jax.minimize(
                recorded,
                x0,
                constraint=trfd_jax.Intersection([box, trfd_jax.L2Ball(5.0)]),
                **kwargs,
            )
        else:
            r = trfd_jax.minimize(recorded, x0, bounds=(lower, upper), **kwargs)
    points = np.array(seen, np.float64)
    assert int(r.nfev) <= 60
    assert np.all(points >= lower) and np.all(points <= upper), "evaluated outside the box"
    assert float(r.noise) > 0


def test_a_host_objective_in_a_thin_box_goes_through_the_central_switch_inside_it():
    # Real calls: the probe, the estimate, forward then central differences and the stop at
    # their floor, every point inside the thin box and one call per counted point.
    lower, upper, seen = THIN_LOWER, THIN_UPPER, []
    r = trfd_jax.minimize(_recorded_noisy_host(seen), THIN_X0, bounds=(lower, upper), max_evals=300)
    points = np.array(seen)
    assert int(r.status) == Status.NOISE_FLOOR  # central differences met their floor
    assert len(points) == int(r.nfev) < 300
    assert np.all(points >= lower) and np.all(points <= upper)
    assert 1e-3 / 3 <= float(r.noise) <= 3e-3


def test_the_central_stencil_measures_each_axis_curvature_and_sets_its_step():
    # f = Σ w_j x_j² + 0 noise within the bound: the second differences are 2 w_j, and the
    # step along e_j is (3 ε_f / L_j)^{1/3}, at least τ, at most SCALE_MAX τ.
    w = jnp.array([1.0, 1e2, 1e4, 1e6])
    x = jnp.array([0.3, -0.2, 0.1, 0.05])
    tau, level = 1e-3, 1e-6
    points, _ = fd_lib.stencil(None, "central", x, jnp.asarray(tau))
    values = jax.vmap(lambda p: jnp.sum(w * p**2))(points)
    region = types.SimpleNamespace(
        noise=jnp.asarray(level),
        fd_step=jnp.asarray(tau),
        fd_scale=jnp.ones(4),
        axis_curvature=jnp.zeros(4),
    )
    scale, curvature = noise_lib.coordinate_scales(region, jnp.sum(w * x**2), values, x, points)
    # Measured where the second difference stands above its noise 4 ε_f / τ² = 4.
    np.testing.assert_allclose(curvature, [0.0, 200.0, 2e4, 2e6], rtol=1e-6)
    expected = np.clip(np.cbrt(3 * level / np.maximum(2 * w, 4 * level / tau**2)) / tau, 1, 1e3)
    np.testing.assert_allclose(scale, expected, rtol=1e-6)


def test_a_rescaled_hessian_takes_the_measured_diagonal_and_stays_positive_definite():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 4))
    h = jnp.asarray(a @ a.T + 4.0 * np.eye(4))
    measured = jnp.asarray(np.diag(h) * np.array([1.0, 10.0, 0.05, 2.0]))
    measured = measured.at[3].set(0.0)  # not measured: kept
    out = np.asarray(noise_lib.rescaled_hessian(h, measured))
    # Off by more than 4×: H_jj becomes L_j; within 4× or unmeasured: unchanged.
    np.testing.assert_allclose(np.diag(out), [h[0, 0], measured[1], measured[2], h[3, 3]])
    np.testing.assert_allclose(out, out.T)
    assert np.all(np.linalg.eigvalsh(out) > 0)
    # Coupling kept: the correlation matrix of H is unchanged.
    corr = lambda m: m / np.sqrt(np.outer(np.diag(m), np.diag(m)))  # noqa: E731
    np.testing.assert_allclose(corr(out), corr(np.asarray(h)), rtol=1e-12)
