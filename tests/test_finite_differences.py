"""Step 1: finite-difference gradients against jax.grad, within Lemma 2.4's bound."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trfd_jax._src import finite_differences as fd
from trfd_jax._src.objective import Objective

from .helpers import make_quadratic


def _gradient(f, x, tau, scheme):
    steps = jnp.full_like(x, tau)
    if scheme == "forward":
        points, active = fd.forward_points(x, steps)
        gradient = fd.forward_gradient
    else:
        points, active = fd.central_points(x, steps, steps)
        gradient = fd.central_gradient
    values = Objective(f).evaluate(points, active, None).values
    return gradient(f(x), values, x, points, active)


@pytest.mark.parametrize("tau", [1e-1, 1e-3, 1e-6])
def test_forward_difference_error_within_lemma_2_4(tau):
    n = 6
    f, a, _ = make_quadratic(n, seed=1, cond=50.0)
    lipschitz = np.linalg.eigvalsh(a).max()  # L = ‖A‖₂
    x = jnp.asarray(np.random.default_rng(2).standard_normal(n))
    g = _gradient(f, x, tau, "forward")
    error = np.linalg.norm(g - jax.grad(f)(x))
    bound = np.sqrt(n) * lipschitz * tau / 2
    assert error <= bound * (1 + 1e-6) + 1e-7  # + rounding of the quotient at tiny τ


def test_forward_difference_error_nonquadratic():
    # f = Σ sin(x_i): ∇²f = diag(−sin x) so L = 1.
    def f(x):
        return jnp.sum(jnp.sin(x))

    n, tau = 5, 1e-2
    x = jnp.linspace(-2.0, 2.0, n)
    g = _gradient(f, x, tau, "forward")
    assert np.linalg.norm(g - jax.grad(f)(x)) <= np.sqrt(n) * tau / 2


def test_central_differences_are_second_order():
    def f(x):
        return jnp.sum(jnp.exp(0.3 * x) * jnp.cos(x))

    x = jnp.linspace(-1.0, 1.0, 4)
    errors = [
        np.linalg.norm(_gradient(f, x, tau, "central") - jax.grad(f)(x)) for tau in (1e-2, 1e-3)
    ]
    assert errors[1] < errors[0] / 50  # O(τ²): a factor 10 in τ gives ~100 in error


def test_points_are_one_batch_along_coordinates():
    x = jnp.array([1.0, 2.0, 3.0])
    points, active = fd.forward_points(x, jnp.array([0.5, 0.0, -0.25]))
    np.testing.assert_allclose(points, [[1.5, 2, 3], [1, 2, 3], [1, 2, 2.75]])
    np.testing.assert_array_equal(active, [True, False, True])
    points, active = fd.central_points(x, jnp.full(3, 0.1), jnp.array([0.1, 0.0, 0.1]))
    assert points.shape == (6, 3)
    np.testing.assert_array_equal(active, [True, True, True, True, False, True])


def test_one_sided_central_differences_near_a_bound():
    # Only one side available: the entry falls back to a one-sided quotient.
    def f(x):
        return jnp.sum(x**3)

    x = jnp.array([1.0, 2.0])
    plus, minus = jnp.array([1e-6, 0.0]), jnp.array([0.0, 1e-6])
    points, active = fd.central_points(x, plus, minus)
    values = Objective(f).evaluate(points, active, None).values
    g = fd.central_gradient(f(x), values, x, points, active)
    np.testing.assert_allclose(g, [3.0, 12.0], rtol=1e-5)


def test_rounded_step_is_used():
    # x + τ is not representable exactly: the quotient divides by the step really taken.
    x = jnp.array([1.0 + 2.0**-30])
    tau = 1e-8

    def f(x):
        return 3.0 * x[0]

    g = _gradient(f, x, tau, "forward")
    np.testing.assert_allclose(g, [3.0], rtol=1e-7)


def test_zero_step_gives_zero_entry():
    x = jnp.array([1.0, 2.0])
    points, active = fd.forward_points(x, jnp.array([0.0, 1e-3]))
    values = Objective(lambda z: jnp.sum(z**2)).evaluate(points, active, None).values
    g = fd.forward_gradient(jnp.asarray(5.0), values, x, points, active)
    assert g[0] == 0.0 and abs(g[1] - 4.0) < 1e-2
