"""Search steps (second paper) and least squares with the Gauss–Newton search."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax
from trfd_jax import GaussNewtonSearch, Options, SearchStep, Status, StepKind
from trfd_jax._src.search import view as search_view

from .helpers import first_step, make_quadratic


def rosenbrock_residuals(x):
    return jnp.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def rosenbrock(x):
    r = rosenbrock_residuals(x)
    return r @ r


@dataclasses.dataclass(frozen=True)
class FixedPoint(SearchStep):
    """Always proposes the same point (for tests)."""

    point: tuple = (0.0, 0.0)

    def propose(self, view):
        return jnp.asarray(self.point, view.x.dtype)[None]


@dataclasses.dataclass(frozen=True)
class Worse(SearchStep):
    """Proposes x_k + Δ e₁ scaled up: always worse on a convex bowl around x_k's minimizer."""

    def propose(self, view):
        return (view.x + 1e6 * jnp.ones_like(view.x))[None]


def _problem(fun, x0, search, **kwargs):
    return trfd_jax.make_problem(fun, jnp.asarray(x0), search=search, **kwargs)


def test_acceptance_rule_and_radius_on_a_hand_built_case():
    # f = ‖x‖², x₀ = (1, 1), Δ₀ = 1: after the gradient the search proposes c.
    def f(x):
        return x @ x

    options = Options(radius_init=1.0, noise_level=None)  # counted by hand
    rho = 1e-5  # c Δ² with Δ = 1
    # f(c) = f(x₀) − ρ exactly fails? Use a clear pass and a clear fail around the threshold.
    good = FixedPoint(point=(0.9, 0.9))  # f = 1.62 ≤ 2 − 1e-5
    problem, x0 = _problem(f, [1.0, 1.0], good, options=options, max_evals=50)
    state = first_step(problem, x0)
    assert int(state.last_step) == StepKind.SEARCH
    np.testing.assert_allclose(state.iterate.x, [0.9, 0.9])
    assert float(state.region.radius) == 2.0  # Δ doubled
    assert int(state.record.nfev) == 1 + 2 + 1  # f(x₀), gradient, one candidate; no trial point
    assert int(state.counters.n_search) == 1 and int(state.counters.n_search_successful) == 1
    assert int(state.counters.nit) == 1 and bool(state.region.needs_gradient)

    # Just short of sufficient decrease: f(c) = f(x₀) − ρ/2 is rejected, the rigorous
    # step runs in the same iteration.
    target = 2.0 - rho / 2
    c = np.sqrt(target / 2)
    problem, x0 = _problem(f, [1.0, 1.0], FixedPoint(point=(c, c)), options=options)
    state = first_step(problem, x0)
    assert int(state.last_step) == StepKind.SUCCESSFUL
    assert int(state.counters.n_search) == 1 and int(state.counters.n_search_successful) == 0
    assert int(state.record.nfev) == 1 + 2 + 1 + 1 and int(state.counters.nit) == 1


def test_linear_decrease_option():
    def f(x):
        return x @ x

    # ρ(Δ) = c Δ with c = 0.5, Δ = 1: f(c) must be ≤ 2 − 0.5 = 1.5.
    for point, accepted in (((0.86, 0.86), True), ((0.87, 0.87), False)):
        search = FixedPoint(point=point, decrease=0.5, power=1)
        problem, x0 = _problem(f, [1.0, 1.0], search, options=Options(radius_init=1.0))
        state = first_step(problem, x0)
        assert bool(state.counters.n_search_successful == 1) == accepted


def test_worse_search_leaves_the_trajectory_unchanged():
    f, _, _ = make_quadratic(3, seed=5)
    options = Options.paper()  # no convergence test: 15 iterations of the same path
    plain, x0 = _problem(f, np.ones(3), None, max_evals=400, options=options)
    searched, _ = _problem(f, np.ones(3), Worse(), max_evals=400, options=options)
    a, b = trfd_jax.init(plain, x0), trfd_jax.init(searched, x0)
    step = jax.jit(trfd_jax.step)
    for _ in range(15):
        a, b = step(plain, a), step(searched, b)
        np.testing.assert_array_equal(a.iterate.x, b.iterate.x)
        np.testing.assert_array_equal(a.region.radius, b.region.radius)
        np.testing.assert_array_equal(a.region.fd_step, b.region.fd_step)
        assert int(a.last_step) == int(b.last_step)
    assert int(b.counters.n_search) == 15 and int(b.counters.n_search_successful) == 0
    assert int(b.record.nfev) == int(a.record.nfev) + 15  # search evaluations count


def test_exact_minimizer_ends_the_run_in_one_step():
    f, _, x_star = make_quadratic(3, seed=6)
    search = FixedPoint(point=tuple(float(v) for v in x_star), theta=100.0)
    r = trfd_jax.minimize(
        f, jnp.zeros(3), search=search, options=Options(f_target=1e-20), max_evals=100
    )
    assert int(r.status) == Status.TARGET_REACHED and int(r.nit) == 1
    np.testing.assert_allclose(r.x, x_star, atol=1e-12)


def test_candidates_respect_the_ball_and_unrelaxable_bounds():
    seen = []

    def fn(x):
        seen.append(np.array(x))
        return float(np.sum((x - 3.0) ** 2))

    far = FixedPoint(point=(50.0, -50.0))
    r = trfd_jax.minimize(
        trfd_jax.black_box(fn), np.zeros(2), bounds=(-1.0, 2.0), search=far, max_evals=60
    )
    seen = np.array(seen)
    assert np.all(seen >= -1.0) and np.all(seen <= 2.0)
    assert int(r.n_search) > 0


def test_candidates_stay_within_theta_radius():
    def f(x):
        return jnp.sum((x - 5.0) ** 2)

    search = FixedPoint(point=(100.0, 100.0), theta=2.0)
    problem, x0 = _problem(f, [0.0, 0.0], search, options=Options(radius_init=1.0))
    state = first_step(problem, x0)
    # The candidate was moved to the sphere of radius θΔ₀ = 2 towards (100, 100).
    np.testing.assert_allclose(state.iterate.x, [np.sqrt(2), np.sqrt(2)], rtol=1e-12)


def test_search_budget_never_exceeded():
    wrapped_calls = []

    def fn(x):
        wrapped_calls.append(1)
        return float(np.sum((x - 1.0) ** 2))

    for budget in (5, 6, 7, 23):
        wrapped_calls.clear()
        bb = trfd_jax.black_box(fn)
        r = trfd_jax.minimize(bb, np.zeros(2), search=Worse(), max_evals=budget)
        assert len(wrapped_calls) == int(r.nfev) <= budget


# ------------------------------------------------------------------------- least squares


def test_least_squares_gauss_newton_beats_plain_on_zero_residual_problem():
    x0 = jnp.array([-1.2, 1.0])

    def evals_to(result, tol=1e-10):
        h = np.asarray(result.history)
        return int(np.argmax(h < tol)) + 1 if np.any(h < tol) else np.inf

    plain = trfd_jax.minimize(rosenbrock, x0, max_evals=300)
    gn = trfd_jax.least_squares(rosenbrock_residuals, x0, max_evals=300)
    assert float(gn.f) < 1e-12
    assert int(gn.n_search_successful) > 0
    assert evals_to(gn) < 0.7 * evals_to(plain)


def test_least_squares_gradient_is_two_j_transpose_f():
    problem, x0 = trfd_jax.make_problem(
        rosenbrock_residuals, jnp.array([0.5, 0.2]), residuals=True, max_evals=20
    )
    state = first_step(problem, x0)
    residuals, jacobian = state.iterate.residuals, state.model.jacobian
    np.testing.assert_allclose(jacobian, jax.jacfwd(rosenbrock_residuals)(x0), atol=1e-5)
    np.testing.assert_allclose(state.model.gradient, 2 * jacobian.T @ residuals, rtol=1e-12)


def test_gauss_newton_hessian_option():
    options = Options(hessian="gauss_newton")
    r = trfd_jax.least_squares(
        rosenbrock_residuals, jnp.array([-1.2, 1.0]), options=options, max_evals=200
    )
    assert float(r.f) < 1e-12
    with pytest.raises(ValueError, match="least_squares"):
        trfd_jax.minimize(rosenbrock, jnp.zeros(2), options=options)


def test_black_box_residuals_match_jax_native():
    def fn(x):
        return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])

    bb = trfd_jax.black_box(fn, residuals=2)
    options = Options(fd_step_init=1e-5)
    host = trfd_jax.least_squares(bb, np.array([-1.2, 1.0]), max_evals=80, options=options)
    native = trfd_jax.least_squares(
        rosenbrock_residuals, jnp.array([-1.2, 1.0]), max_evals=80, options=options
    )
    assert int(host.nfev) == int(native.nfev) == bb.host_evaluations
    np.testing.assert_allclose(host.x, native.x, rtol=1e-6, atol=1e-9)


def test_least_squares_with_bounds_and_vmap():
    starts = jnp.array([[-1.2, 1.0], [0.5, 0.5], [1.5, 1.8]])
    r = jax.vmap(
        lambda x: trfd_jax.least_squares(rosenbrock_residuals, x, bounds=(-2.0, 0.8), max_evals=150)
    )(starts)
    assert np.all(np.asarray(r.x) <= 0.8) and np.all(np.asarray(r.x) >= -2.0)
    # Constrained minimizer: x₁ = 0.8 (active), x₂ = 0.64, ‖F‖² = 0.04: the cost ½‖F‖² = 0.02.
    np.testing.assert_allclose(r.f, 0.02, atol=1e-8)


def test_bad_least_squares_input():
    with pytest.raises(ValueError, match="shape"):
        trfd_jax.least_squares(lambda x: jnp.sum(x), jnp.zeros(2))
    with pytest.raises(ValueError, match="residuals"):
        trfd_jax.minimize(rosenbrock, jnp.zeros(2), search=GaussNewtonSearch())
    with pytest.raises(TypeError, match="SearchStep"):
        trfd_jax.minimize(rosenbrock, jnp.zeros(2), search="gauss_newton")
    with pytest.raises(TypeError, match="residuals"):
        trfd_jax.least_squares(trfd_jax.black_box(lambda x: 1.0), np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        trfd_jax.least_squares(trfd_jax.black_box(lambda x: np.ones(3), residuals=2), np.zeros(2))
    with pytest.raises(ValueError):
        GaussNewtonSearch(power=3)


def test_gauss_newton_search_before_the_gradient_skips_it():
    # Linear residuals: after the first FD Jacobian, Broyden's update keeps J exact, so the
    # search at each new iterate succeeds without paying n evaluations for a gradient.
    a = jnp.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    b = jnp.array([1.0, -2.0, 0.5, 3.0])

    def residuals(x):
        return a @ x - b

    x0 = jnp.zeros(3)
    # Small steps: several moves are needed; counted by hand (no noise probe).
    options = Options(radius_init=0.01, noise_level=None)
    problem, x0 = trfd_jax.make_problem(
        residuals, x0, residuals=True, search=GaussNewtonSearch(), options=options
    )
    state = trfd_jax.init(problem, x0)
    step = jax.jit(trfd_jax.step)
    kinds, nfev = [], [int(state.record.nfev)]
    for _ in range(6):
        state = step(problem, state)
        kinds.append(int(state.last_step))
        nfev.append(int(state.record.nfev))
    # First iteration: f(x0) + gradient (3) + search (1); later searches cost 1 each.
    assert kinds[0] == StepKind.SEARCH and nfev[1] == 1 + 3 + 1
    assert all(k == StepKind.SEARCH for k in kinds[1:])
    assert np.all(np.diff(nfev[1:]) == 1)
    np.testing.assert_allclose(state.model.jacobian, a, atol=1e-6)
    plain = GaussNewtonSearch(before_gradient=False)
    problem2, _ = trfd_jax.make_problem(
        residuals, jnp.zeros(3), residuals=True, search=plain, options=options
    )
    state2 = trfd_jax.init(problem2, x0)
    for _ in range(6):
        state2 = step(problem2, state2)
    assert int(state2.record.nfev) > int(state.record.nfev)  # pays 3 evaluations per new iterate


def _eigh_calls(problem, x0):
    """eigh primitives in the jaxpr of one iteration."""
    state = trfd_jax.init(problem, x0)
    return str(jax.make_jaxpr(trfd_jax.step)(problem, state)).count("eigh[")


@pytest.mark.parametrize(("subproblem", "expected"), [("exact", 1), ("truncated_cg", 0)])
def test_searches_use_the_one_step_2_dispatch(subproblem, expected):
    # The rigorous step and ModelSearch share Step 2: the exact solver decomposes H once per
    # iteration (the cached decomposition serves the search), and truncated CG never does.
    for search in (None, trfd_jax.ModelSearch()):
        problem, x0 = trfd_jax.make_problem(
            lambda x: jnp.sum((x - 1.0) ** 2),
            jnp.zeros(3),
            options=Options(subproblem=subproblem),
            search=search,
        )
        assert _eigh_calls(problem, x0) == expected


def test_model_search_proposes_the_step_2_solution_over_theta_radius():
    f, _, _ = make_quadratic(3, seed=4)
    problem, x0 = trfd_jax.make_problem(f, jnp.array([2.0, -1.0, 0.5]), max_evals=50)
    state = first_step(problem, x0)
    view = search_view(problem, state)
    proposed = trfd_jax.ModelSearch(theta=3.0).propose(view)
    expected = view.x + trfd_jax.solve_trust_region_subproblem(
        view.gradient, view.hessian, 3.0 * view.radius
    )
    np.testing.assert_allclose(proposed[0], expected, rtol=1e-10, atol=1e-12)


@dataclasses.dataclass(frozen=True)
class Recorder(SearchStep):
    """Proposes x_k and records what the view offered (for the test below)."""

    def propose(self, view):
        assert isinstance(view, trfd_jax.SearchView)
        assert view.residuals is not None and view.jacobian is not None
        assert view.jacobian.shape == (view.residuals.shape[0], view.x.shape[0])
        return view.x[None]


def test_the_view_carries_least_squares_data():
    r = trfd_jax.least_squares(rosenbrock_residuals, jnp.array([-1.2, 1.0]), search=Recorder())
    assert int(r.n_search) > 0 and int(r.n_search_successful) == 0  # x_k never decreases f


def test_a_custom_search_of_the_wrong_shape_is_refused_at_trace_time():
    # (1, 1) candidates for n = 3 would broadcast silently into (1, 3): one point on the
    # diagonal that the strategy never proposed.
    @dataclasses.dataclass(frozen=True)
    class Squashed(SearchStep):
        def propose(self, view):
            return jnp.zeros((1, 1), view.x.dtype)

    with pytest.raises(ValueError, match=r"Squashed.propose must return candidates of shape"):
        trfd_jax.minimize(lambda x: jnp.sum(x**2), jnp.ones(3), search=Squashed())
