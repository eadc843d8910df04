"""The model: quasi-Newton updates of H (spec, "Hessian approximation") and the
Gauss–Newton model of least squares (g = 2JᵀF, H = 2JᵀJ, Broyden's update of J)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trfd_jax._src.model import gauss_newton
from trfd_jax._src.model.quasi_newton import initial_hessian, update_hessian


def _data(seed=0, n=4):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    h = a @ a.T + np.eye(n)
    s = rng.standard_normal(n)
    y = h @ s + 0.1 * rng.standard_normal(n)
    return jnp.asarray(h), jnp.asarray(s), jnp.asarray(y)


@pytest.mark.parametrize("kind", ["bfgs", "sr1"])
def test_secant_condition(kind):
    _h, s, y = _data()
    new = update_hessian(kind, jnp.eye(4), s, y, convex=False)
    np.testing.assert_allclose(new @ s, y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(new, new.T, atol=1e-14)


def test_bfgs_formula():
    h, s, y = _data(1)
    hs = h @ s
    expected = h + jnp.outer(y, y) / (s @ y) - jnp.outer(hs, hs) / (s @ hs)
    np.testing.assert_allclose(update_hessian("bfgs", h, s, y, convex=True), expected, rtol=1e-12)


def test_bfgs_negative_curvature():
    h, s, _ = _data(2)
    y = -s  # sᵀy < 0
    # Constrained (convex) rule: no update; unconstrained rule: update (H may turn indefinite).
    np.testing.assert_array_equal(update_hessian("bfgs", h, s, y, convex=True), h)
    new = update_hessian("bfgs", h, s, y, convex=False)
    np.testing.assert_allclose(new @ s, y, rtol=1e-10)
    assert np.linalg.eigvalsh(np.asarray(new)).min() < 0


def test_skipped_when_degenerate():
    h = jnp.eye(3)
    zero = jnp.zeros(3)
    for kind in ("bfgs", "sr1", "scaled_identity"):
        np.testing.assert_array_equal(update_hessian(kind, h, zero, zero, convex=False), h)
    s = jnp.array([1.0, 0.0, 0.0])
    y = jnp.array([0.0, 1.0, 0.0])  # sᵀy = 0
    np.testing.assert_array_equal(update_hessian("bfgs", h, s, y, convex=False), h)


def test_scaled_identity_and_fixed_models():
    _, s, y = _data(3)
    new = update_hessian("scaled_identity", jnp.eye(4), s, y, convex=False)
    np.testing.assert_allclose(new, (s @ y) / (s @ s) * np.eye(4), rtol=1e-12)
    assert np.all(update_hessian("identity", jnp.eye(4), s, y, convex=False) == jnp.eye(4))
    zero = initial_hessian("zero", 4, jnp.float64)
    assert np.all(update_hessian("zero", zero, s, y, convex=False) == 0)


def test_broyden_update_satisfies_the_secant_equation():
    rng = np.random.default_rng(5)
    jac, f_old, f_new = rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal(4)
    s = rng.standard_normal(3)
    new = gauss_newton.broyden_update(
        jnp.asarray(jac), jnp.asarray(f_old), jnp.asarray(f_new), jnp.asarray(s), jnp.asarray(True)
    )
    np.testing.assert_allclose(new @ s, f_new - f_old, rtol=1e-12)  # J⁺ s = F⁺ − F
    # Least change: J⁺ − J has rank one along s, so directions ⟂ s are untouched.
    t = rng.standard_normal(3)
    t -= (t @ s) / (s @ s) * s
    np.testing.assert_allclose(new @ t, jac @ t, rtol=1e-10, atol=1e-12)
    kept = gauss_newton.broyden_update(
        jnp.asarray(jac), jnp.asarray(f_old), jnp.asarray(f_new), jnp.zeros(3), jnp.asarray(True)
    )
    np.testing.assert_array_equal(kept, jac)  # s = 0: no update


def test_gauss_newton_gradient_and_hessian_of_a_linear_residual():
    a = jnp.asarray(np.random.default_rng(6).standard_normal((5, 3)))
    b = jnp.arange(5.0)

    def f(x):
        r = a @ x - b
        return r @ r

    x = jnp.array([0.3, -0.2, 1.0])
    np.testing.assert_allclose(gauss_newton.gradient(a, a @ x - b), jax.grad(f)(x), rtol=1e-12)
    np.testing.assert_allclose(gauss_newton.hessian(a), jax.hessian(f)(x), rtol=1e-12)
