"""The exact trust-region subproblem: KKT conditions and brute force on small instances."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax
from trfd_jax import solve_trust_region_subproblem

solve = jax.jit(solve_trust_region_subproblem)


def _instance(rng, n, kind):
    a = rng.standard_normal((n, n))
    h = a + a.T
    if kind == "definite":
        h = a @ a.T + 0.1 * np.eye(n)
    g = rng.standard_normal(n)
    if kind == "hard":
        _lam, q = np.linalg.eigh(h)
        g = g - q[:, 0] * (q[:, 0] @ g)  # g ⟂ eigenvector of λ_min
    radius = float(rng.uniform(0.2, 3.0))
    return g, h, radius


def _model(g, h, d):
    return g @ d + 0.5 * d @ h @ d


def _brute_force_min(rng, g, h, radius, samples=100_000):
    n = g.shape[0]
    z = rng.standard_normal((samples, n))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    inside = z * radius * rng.uniform(0, 1, (samples, 1)) ** (1 / n)
    pts = np.vstack([inside, z * radius])
    return np.min(pts @ g + 0.5 * np.einsum("ij,jk,ik->i", pts, h, pts))


@pytest.mark.parametrize("kind", ["indefinite", "definite", "hard"])
def test_kkt_conditions(kind):
    rng = np.random.default_rng({"indefinite": 1, "definite": 2, "hard": 3}[kind])
    for _ in range(40):
        n = int(rng.integers(1, 7))
        g, h, radius = _instance(rng, n, kind)
        d = np.asarray(solve(jnp.asarray(g), jnp.asarray(h), radius))
        norm = np.linalg.norm(d)
        assert norm <= radius * (1 + 1e-12)
        lam_min = np.linalg.eigvalsh(h)[0]
        # (H + μI) d = −g with μ ≥ max(0, −λ_min): recover μ by least squares.
        r = -g - h @ d
        mu = (r @ d) / (d @ d) if norm > 0 else 0.0
        scale = 1 + np.linalg.norm(g) + np.abs(h).max()
        assert np.linalg.norm((h + mu * np.eye(n)) @ d + g) <= 1e-8 * scale
        assert mu >= -1e-8 * scale and mu >= -lam_min - 1e-7 * scale
        # complementarity: μ > 0 only on the boundary
        assert mu * (radius - norm) <= 1e-8 * scale * radius


@pytest.mark.parametrize("kind", ["indefinite", "definite", "hard"])
def test_no_sampled_point_is_better(kind):
    rng = np.random.default_rng({"indefinite": 11, "definite": 12, "hard": 13}[kind])
    for _ in range(25):
        n = int(rng.integers(1, 5))
        g, h, radius = _instance(rng, n, kind)
        d = np.asarray(solve(jnp.asarray(g), jnp.asarray(h), radius))
        assert _model(g, h, d) <= _brute_force_min(rng, g, h, radius) + 1e-10


def test_hard_case_exact():
    # λ_min = −2 with g ⟂ its eigenvector and ‖(H + 2I)⁺ g‖ < Δ: d = p + t e₁, ‖d‖ = Δ.
    h = np.diag([-2.0, 1.0, 3.0])
    g = np.array([0.0, 1.0, -1.0])
    radius = 2.0
    d = np.asarray(solve(jnp.asarray(g), jnp.asarray(h), radius))
    p = np.array([0.0, -1.0 / 3.0, 1.0 / 5.0])
    t = np.sqrt(radius**2 - p @ p)
    np.testing.assert_allclose(np.abs(d), np.abs(p + t * np.array([1.0, 0, 0])), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(d), radius, rtol=1e-12)


def test_interior_newton_step():
    h = np.diag([2.0, 4.0])
    g = np.array([1.0, 1.0])
    d = np.asarray(solve(jnp.asarray(g), jnp.asarray(h), 10.0))
    np.testing.assert_allclose(d, [-0.5, -0.25], rtol=1e-13)


def test_zero_gradient_and_zero_hessian():
    d = solve(jnp.zeros(3), jnp.eye(3), 1.0)
    np.testing.assert_array_equal(d, np.zeros(3))
    # H = 0: the Cauchy step −Δ g / ‖g‖.
    d = solve(jnp.array([3.0, 4.0]), jnp.zeros((2, 2)), 2.0)
    np.testing.assert_allclose(d, [-1.2, -1.6], rtol=1e-13)


def test_nonfinite_input_gives_zero_step():
    d = solve(jnp.array([jnp.nan, 1.0]), jnp.eye(2), 1.0)
    np.testing.assert_array_equal(d, np.zeros(2))


def test_float32():
    rng = np.random.default_rng(5)
    g, h, radius = _instance(rng, 4, "indefinite")
    d = solve(jnp.asarray(g, jnp.float32), jnp.asarray(h, jnp.float32), jnp.float32(radius))
    assert d.dtype == jnp.float32
    d64 = np.asarray(solve(jnp.asarray(g), jnp.asarray(h), radius))
    assert _model(g, h, np.asarray(d, np.float64)) <= _model(g, h, d64) + 1e-4


def test_vmap_matches_loop():
    rng = np.random.default_rng(6)
    inst = [_instance(rng, 3, "indefinite") for _ in range(8)]
    g = jnp.asarray(np.stack([i[0] for i in inst]))
    h = jnp.asarray(np.stack([i[1] for i in inst]))
    r = jnp.asarray([i[2] for i in inst])
    batched = jax.vmap(solve)(g, h, r)
    for k in range(8):
        np.testing.assert_allclose(batched[k], solve(g[k], h[k], r[k]), rtol=1e-10, atol=1e-12)


def test_truncated_cg_beats_the_cauchy_step_and_is_exact_inside():
    from trfd_jax._src.model import model_value
    from trfd_jax._src.subproblem.truncated_cg import solve_truncated_cg

    cg = jax.jit(solve_truncated_cg, static_argnums=(3, 4))
    rng = np.random.default_rng(8)
    for kind in ("indefinite", "definite"):
        for _ in range(20):
            n = int(rng.integers(1, 7))
            g, h, radius = _instance(rng, n, kind)
            g, h = jnp.asarray(g), jnp.asarray(h)
            d = cg(g, h, radius, 2 * n, 1e-12)
            assert float(jnp.linalg.norm(d)) <= radius * (1 + 1e-12)
            # Cauchy step: minimize the model along −g inside the region.
            gn = float(jnp.linalg.norm(g))
            curvature = float(g @ h @ g)
            t = radius / gn
            if curvature > 0:
                t = min(t, gn**2 / curvature)
            cauchy = -t * g
            assert float(model_value(g, h, d)) <= float(model_value(g, h, cauchy)) + 1e-12
    # Positive definite with the Newton step inside: CG finds it.
    h = jnp.diag(jnp.array([2.0, 4.0, 8.0]))
    g = jnp.array([1.0, 1.0, 1.0])
    np.testing.assert_allclose(cg(g, h, 10.0, 6, 1e-14), -g / jnp.diag(h), rtol=1e-10)


def test_truncated_cg_option_solves_a_problem():
    import trfd_jax

    def f(x):
        return jnp.sum((x - 1.0) ** 2 * jnp.arange(1.0, 6.0)) + 0.1 * jnp.sum(x**4)

    exact = trfd_jax.minimize(f, jnp.zeros(5), max_evals=400)
    cg = trfd_jax.minimize(
        f, jnp.zeros(5), max_evals=400, options=trfd_jax.Options(subproblem="truncated_cg")
    )
    np.testing.assert_allclose(cg.x, exact.x, atol=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_box_active_set_step_is_feasible_and_near_optimal(seed):
    from trfd_jax._src.projections import project_box_ball
    from trfd_jax._src.subproblem.constrained import (
        box_active_set_step,
        generalized_cauchy_step,
        projected_fista,
    )

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    h = jnp.asarray(q @ np.diag(np.geomspace(1e-2, 1e2, n)) @ q.T)
    g = jnp.asarray(rng.standard_normal(n) * 3)
    lower = jnp.asarray(-rng.uniform(0, 1, n) * (rng.uniform(size=n) < 0.8))  # some at 0
    upper = jnp.asarray(rng.uniform(0, 1, n))
    radius = jnp.asarray(rng.uniform(0.1, 2.0))
    norm = jnp.max(jnp.abs(jnp.linalg.eigvalsh(h)))

    def project(z):
        return project_box_ball(z, lower, upper, radius)

    def m(d):
        return float(g @ d + 0.5 * d @ (h @ d))

    cauchy = generalized_cauchy_step(g, h, radius, project, 50)
    d = box_active_set_step(g, h, norm, radius, lower, upper, cauchy, n + 1, 50)
    assert bool(jnp.all((d >= lower) & (d <= upper)))
    assert float(jnp.sqrt(d @ d)) <= float(radius) * (1 + 1e-12)
    assert m(d) <= m(cauchy)
    # Against a long FISTA run (the global minimum of the convex subproblem, to 1e-9):
    reference = projected_fista(g, h, norm, project, cauchy, 200_000, jnp.asarray(1e-15))
    polished = projected_fista(g, h, norm, project, d, 500, 1e-12 * radius)
    best = min(m(d), m(polished))
    assert best <= m(reference) + 1e-9 * (1 + abs(m(reference)))


@pytest.mark.parametrize("far", [np.inf, 1e300, 1e10])
@pytest.mark.parametrize("side", ["lower", "upper"])
def test_box_active_set_step_with_a_far_side_holds_nothing_interior(far, side):
    # A one-sided (or very wide) box whose near side is inactive: the step is the
    # unconstrained trust-region solution.  Each side's rounding tolerance once scaled
    # with |lower| + |upper|, so an infinite side held every coordinate at the other.
    from trfd_jax._src.projections import project_box_ball
    from trfd_jax._src.subproblem.constrained import box_active_set_step, generalized_cauchy_step
    from trfd_jax._src.subproblem.exact import solve_trust_region_subproblem

    rng = np.random.default_rng(3)
    n = 4
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    h = jnp.asarray(q @ np.diag(np.geomspace(1e-1, 1e1, n)) @ q.T)
    g = jnp.asarray(rng.standard_normal(n))
    radius = jnp.asarray(10.0)
    near = jnp.full(n, 1e3)  # inactive
    lower, upper = (-jnp.full(n, far), near) if side == "lower" else (-near, jnp.full(n, far))
    norm = jnp.max(jnp.abs(jnp.linalg.eigvalsh(h)))
    cauchy = generalized_cauchy_step(
        g, h, radius, lambda z: project_box_ball(z, lower, upper, radius), 50
    )
    d = box_active_set_step(g, h, norm, radius, lower, upper, cauchy, n + 1, 50)
    exact = solve_trust_region_subproblem(g, h, radius, 50)
    np.testing.assert_allclose(d, exact, rtol=1e-10, atol=1e-12)


def test_auto_picks_the_exact_solver_up_to_500_and_truncated_cg_above():
    # Issue 31, item 11: at n = 2,000 one eigendecomposition per iteration took seconds
    # against milliseconds for CG (python -m trfd_jax.benchmarks.scale).
    from trfd_jax._src.options import EXACT_MAX_N

    assert trfd_jax.Options().subproblem == "auto"
    resolved = trfd_jax.Options().resolved
    assert resolved(EXACT_MAX_N, np.float64).subproblem == "exact"
    assert resolved(EXACT_MAX_N + 1, np.float64).subproblem == "truncated_cg"
    assert trfd_jax.Options.paper().resolved(5000, np.float64).subproblem == "exact"
    chosen = trfd_jax.Options(subproblem="truncated_cg").resolved(3, np.float64)
    assert chosen.subproblem == "truncated_cg"


@pytest.mark.parametrize("seed", range(5))
def test_the_norm_bound_without_eigenvalues_is_an_upper_bound(seed):
    from trfd_jax._src.subproblem import hessian_norm_bound

    a = np.random.default_rng(seed).normal(size=(7, 7)) * 10.0 ** np.arange(-3, 4)
    h = a + a.T
    norm = np.max(np.abs(np.linalg.eigvalsh(h)))
    bound = float(hessian_norm_bound(jnp.asarray(h)))
    assert norm <= bound <= np.sqrt(7) * norm * (1 + 1e-12)


def test_truncated_cg_with_bounds_needs_no_eigendecomposition():
    # Large n with a box: no n × n eigenvectors are kept, FISTA's step from a norm bound.
    def f(x):
        return jnp.sum((x - jnp.arange(4.0)) ** 2) + 0.1 * jnp.sum(x**4)

    options = trfd_jax.Options(subproblem="truncated_cg", noise_level=None)
    problem, x0 = trfd_jax.make_problem(f, jnp.ones(4), bounds=(0.5, 2.0), options=options)
    state = trfd_jax.init(problem, x0)
    assert state.model.eigenvectors.shape == (0, 4)
    r = trfd_jax.minimize(f, jnp.ones(4), bounds=(0.5, 2.0), options=options)
    options = trfd_jax.Options(subproblem="exact", noise_level=None)
    exact = trfd_jax.minimize(f, jnp.ones(4), bounds=(0.5, 2.0), options=options)
    assert bool(r.success)
    np.testing.assert_allclose(r.x, exact.x, atol=1e-5)
