"""Every boundary check (``checks.py``): bad input is a clear error before tracing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax
from trfd_jax import Options

from .helpers import sphere


@pytest.mark.parametrize(
    ("x0", "error", "match"),
    [
        (np.zeros((2, 2)), ValueError, "shape"),
        (np.zeros(0), ValueError, "at least one"),
        (np.array([1.0, np.nan]), ValueError, "non-finite"),
        (np.array([1.0, np.inf]), ValueError, "non-finite"),
        (np.array([1 + 1j, 0]), TypeError, "complex"),
        ("abc", TypeError, "x0"),
    ],
)
def test_bad_x0(x0, error, match):
    with pytest.raises(error, match=match):
        trfd_jax.minimize(sphere, x0)


def test_bad_objective_output():
    with pytest.raises(ValueError, match="scalar"):
        trfd_jax.minimize(lambda x: x**2, jnp.ones(3))
    with pytest.raises(TypeError, match="callable"):
        trfd_jax.minimize(3.0, jnp.ones(3))


def test_budget_too_small():
    with pytest.raises(ValueError, match="too small"):
        trfd_jax.minimize(sphere, jnp.ones(3), max_evals=4)
    with pytest.raises(ValueError, match="too small"):
        trfd_jax.minimize(sphere, jnp.ones(3), max_evals=7, options=Options(fd_scheme="central"))
    with pytest.raises(TypeError, match="int"):
        trfd_jax.minimize(sphere, jnp.ones(3), max_evals=10.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hessian": "newton"},
        {"fd_scheme": "backward"},
        {"eta": 1.5},
        {"radius_init": -1.0},
        {"radius_init": 10.0, "radius_max": 1.0},
        {"max_iter": 0},
    ],
)
def test_bad_options(kwargs):
    with pytest.raises(ValueError):
        trfd_jax.minimize(sphere, jnp.ones(2), options=Options(**kwargs))


def test_bad_input_raises_before_tracing_under_jit():
    with pytest.raises(ValueError, match="scalar"):
        jax.jit(lambda x: trfd_jax.minimize(lambda z: z, x).x)(jnp.ones(2))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_iter": 2.5}, TypeError),
        ({"subproblem_max_iter": 2.5}, TypeError),
        ({"eta": "0.1"}, TypeError),
        ({"radius_tol": "1e-8"}, TypeError),
        ({"radius_init": jnp.array(1.0)}, TypeError),
        ({"fd_step_init": 1.0, "radius_init": 0.1}, ValueError),  # τ₀√n > Δ₀
    ],
)
def test_bad_option_types(kwargs, error):
    with pytest.raises(error):
        trfd_jax.minimize(sphere, jnp.ones(2), options=Options(**kwargs))


def test_unknown_keyword_names_the_options():
    with pytest.raises(TypeError, match="max_eval"):
        trfd_jax.minimize(sphere, jnp.ones(2), max_eval=10)
    with pytest.raises(TypeError, match="tol"):
        trfd_jax.least_squares(lambda x: x, jnp.ones(2), tol=1e-3)


def test_options_are_resolved_once_into_the_problem():
    problem, _ = trfd_jax.make_problem(sphere, jnp.ones(4, jnp.float64))
    u = float(np.finfo(np.float64).eps)
    assert problem.parameters.fd_step == np.sqrt(u)
    assert problem.parameters.radius == 1.0 and problem.parameters.radius_max == 1000.0
    # Static configuration: equal inputs give equal (hashable) problems.
    again, _ = trfd_jax.make_problem(sphere, jnp.ones(4, jnp.float64))
    assert hash(jax.tree.structure(problem)) == hash(jax.tree.structure(again))


def test_a_pure_callback_without_vmap_method_is_named_before_tracing_the_solver():
    def f(x):
        shape = jax.ShapeDtypeStruct((), x.dtype)
        return jax.pure_callback(lambda v: np.sum(v**2), shape, x)

    with pytest.raises(TypeError, match="without vmap_method"):
        trfd_jax.minimize(f, jnp.ones(2))
    ok = jax.jit(
        lambda x: jax.pure_callback(  # inside a sub-program, with a method: fine
            lambda v: np.sum(v**2), jax.ShapeDtypeStruct((), x.dtype), x, vmap_method="sequential"
        )
    )
    assert float(trfd_jax.minimize(ok, jnp.ones(2), max_evals=40).f) < 1e-6


@pytest.mark.parametrize("flag", ["yes", 2, None])
def test_verbose_and_progress_are_true_or_false(flag):
    for name in ("verbose", "progress"):
        with pytest.raises(TypeError, match=f"{name} must be True or False"):
            trfd_jax.minimize(sphere, jnp.ones(2), **{name: flag})


def test_a_radius_tol_not_below_the_initial_radius_is_refused():
    # It stopped at x0 after 3 evaluations and called it converged (issue 32).
    with pytest.raises(ValueError, match=r"radius_tol .* must be below the initial radius"):
        trfd_jax.minimize(lambda x: jnp.sum(x**2), jnp.ones(2), options=Options(radius_tol=2.0))


def test_python_control_flow_on_x_is_named_with_the_fix():
    def branchy(x):
        if x[0] > 0:  # a Python `if` on a traced value
            return jnp.sum(x**2)
        return jnp.sum(x)

    with pytest.raises(TypeError, match=r"'branchy' cannot be traced.*jnp.where.*black_box"):
        trfd_jax.minimize(branchy, jnp.ones(2))


def test_differentiating_through_a_solve_is_a_clear_error_and_no_tangent_passes():
    def solve_x(a):
        return trfd_jax.minimize(lambda x, a: jnp.sum((x - a) ** 2), jnp.zeros(2), args=a).x

    with pytest.raises(TypeError, match=r"not differentiable.*implicit function theorem"):
        jax.grad(lambda a: solve_x(a)[0])(jnp.ones(2))
    with pytest.raises(TypeError, match="not differentiable"):
        jax.jvp(solve_x, (jnp.ones(2),), (jnp.ones(2),))
    # A derivative of something else around a solve is not refused.
    fixed = jnp.array([0.5, -0.5])
    value = jax.grad(lambda z: z * jnp.sum(solve_x(fixed)))(2.0)
    np.testing.assert_allclose(value, 0.0, atol=1e-6)
