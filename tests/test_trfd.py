"""Steps 1–4 traced by hand: every update of x, Δ, τ, g and H against a plain NumPy trace.

The NumPy trace below re-implements the rules of Algorithm 1 from the spec, one line per
rule, and the solver's state is compared with it after every iteration.  Large τ₀ makes the
finite-difference gradients poor, so that type I and type II iterations both happen.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax
from trfd_jax import Options, StepKind
from trfd_jax._src.subproblem.exact import solve_trust_region_subproblem

ALPHA = 0.01


def f_np(x):
    return (x[0] - 1.0) ** 2 + 4.0 * (x[1] - 0.5 * x[0] ** 2) ** 2


def f_jax(x):
    return (x[0] - 1.0) ** 2 + 4.0 * (x[1] - 0.5 * x[0] ** 2) ** 2


def _bfgs(h, s, y):
    hs = h @ s
    if s @ y == 0 or s @ hs == 0:
        return h
    return h + np.outer(y, y) / (s @ y) - np.outer(hs, hs) / (s @ hs)


def _reference_trace(x0, tau, radius, radius_max, iterations):
    """Algorithm 1 in plain NumPy, recording (kind, x, f, Δ, τ, nfev) per iteration."""
    n = x0.size
    x, fx, nfev = x0.copy(), f_np(x0), 1
    g, h = np.zeros(n), np.eye(n)
    x_prev, g_prev, has_prev, needs_gradient = x0.copy(), np.zeros(n), False, True
    trace = []
    for _ in range(iterations):
        if needs_gradient:  # Step 1
            g = np.empty(n)
            for j in range(n):
                e = np.zeros(n)
                e[j] = tau
                xp = x + e
                g[j] = (f_np(xp) - fx) / (xp[j] - x[j])
            nfev += n
            if has_prev:
                h = _bfgs(h, x - x_prev, g - g_prev)
        d = np.asarray(solve_trust_region_subproblem(jnp.asarray(g), jnp.asarray(h), radius))
        predicted = -(g @ d + 0.5 * d @ h @ d)  # Step 2 (model decrease)
        f_trial = f_np(x + d)  # Step 3
        nfev += 1
        rho = (fx - f_trial) / predicted
        if rho >= ALPHA:
            kind = StepKind.SUCCESSFUL
            x_prev, g_prev, has_prev = x, g, True
            x, fx = x + d, f_trial
            radius = min(2 * radius, radius_max)
            needs_gradient = True
        else:  # Step 4
            radius = radius / 2
            if tau * math.sqrt(n) <= radius:
                kind, needs_gradient = StepKind.TYPE_I, False
            else:
                kind, needs_gradient = StepKind.TYPE_II, True
                tau = tau / 2
        trace.append((kind, x.copy(), fx, radius, tau, nfev, h.copy()))
    return trace


def test_every_update_matches_the_hand_trace():
    x0 = np.array([-1.5, 2.0])
    tau0, radius0 = 0.4, 1.0
    # The hand trace counts an evaluation for every trial point, as the paper does: here
    # repeated trial points are evaluated again (reuse_evaluations=False).
    options = Options(
        fd_step_init=tau0,
        radius_init=radius0,
        radius_tol=0.0,
        reuse_evaluations=False,
        noise_level=None,  # the paper's algorithm, traced by hand
    )
    problem, x0_j = trfd_jax.make_problem(f_jax, x0, max_evals=2000, options=options)
    iterations = 60
    trace = _reference_trace(x0, tau0, radius0, 1000.0, iterations)
    step = jax.jit(trfd_jax.step)
    state = trfd_jax.init(problem, x0_j)
    kinds = []
    for kind, x, fx, radius, tau, nfev, h in trace:
        state = step(problem, state)
        kinds.append(kind)
        assert int(state.last_step) == kind
        np.testing.assert_allclose(state.iterate.x, x, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(state.iterate.f, fx, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(state.region.radius, radius, rtol=1e-15)
        np.testing.assert_allclose(state.region.fd_step, tau, rtol=1e-15)
        assert int(state.record.nfev) == nfev
        np.testing.assert_allclose(state.model.hessian, h, rtol=1e-7, atol=1e-8)
    assert {StepKind.SUCCESSFUL, StepKind.TYPE_I, StepKind.TYPE_II} <= set(kinds)
    assert int(state.counters.n_successful) == kinds.count(StepKind.SUCCESSFUL)
    assert int(state.counters.n_type_i) == kinds.count(StepKind.TYPE_I)
    assert int(state.counters.n_type_ii) == kinds.count(StepKind.TYPE_II)


def test_first_iteration_by_hand():
    # f(x) = x₁² + 10 x₂², x₀ = (1, 1), τ = 0.5, Δ₀ = 1, H = I:
    # g = ((f(1.5, 1) − 11)/0.5, (f(1, 1.5) − 11)/0.5) = (2.5, 25); d = −g/‖g‖ (boundary);
    # f(x₀ + d) ≈ 0.8112, m(0) − m(d) = ‖g‖ − ½ so ρ ≈ 0.414 ≥ α: successful, Δ₁ = 2.
    def f(x):
        return x[0] ** 2 + 10.0 * x[1] ** 2

    options = Options(fd_step_init=0.5, radius_init=1.0, hessian="identity", noise_level=None)
    problem, x0 = trfd_jax.make_problem(f, jnp.array([1.0, 1.0]), max_evals=50, options=options)
    state = trfd_jax.step(problem, trfd_jax.init(problem, x0))
    g = np.array([2.5, 25.0])
    np.testing.assert_allclose(state.model.gradient, g, rtol=1e-14)
    d = -g / np.linalg.norm(g)
    np.testing.assert_allclose(state.iterate.x, np.array([1.0, 1.0]) + d, rtol=1e-12)
    assert int(state.last_step) == StepKind.SUCCESSFUL
    assert float(state.region.radius) == 2.0 and float(state.region.fd_step) == 0.5
    assert int(state.record.nfev) == 1 + 2 + 1
    assert bool(state.region.needs_gradient)


def test_step_after_termination_is_a_no_op():
    options = Options(max_iter=3)
    problem, x0 = trfd_jax.make_problem(f_jax, jnp.array([0.0, 0.0]), options=options)
    state, step = trfd_jax.init(problem, x0), jax.jit(trfd_jax.step)
    while not bool(trfd_jax.terminate(problem, state)):
        state = step(problem, state)
    assert int(state.status) == trfd_jax.Status.MAX_ITER
    again = step(problem, state)
    jax.tree.map(np.testing.assert_array_equal, again, state)


@pytest.mark.parametrize("kind", ["bfgs", "sr1", "scaled_identity", "identity", "zero"])
def test_manual_loop_equals_minimize(kind):
    options = Options(hessian=kind)
    x0 = jnp.array([-1.0, 1.5])
    problem, x0p = trfd_jax.make_problem(f_jax, x0, max_evals=120, options=options)
    state = trfd_jax.init(problem, x0p)
    step = jax.jit(trfd_jax.step)
    while not bool(trfd_jax.terminate(problem, state)):
        state = step(problem, state)
    manual = trfd_jax.result(problem, state)
    auto = trfd_jax.minimize(f_jax, x0, max_evals=120, options=options)
    np.testing.assert_allclose(manual.x, auto.x, rtol=1e-12)
    assert int(manual.nfev) == int(auto.nfev) and int(manual.status) == int(auto.status)
    assert float(auto.f) < float(f_jax(x0))
