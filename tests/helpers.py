"""Test problems with known minima, shared by the test modules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import trfd_jax


@jax.jit
def first_step(problem, x0):
    """``trfd_jax.step(problem, trfd_jax.init(problem, x0))``, compiled: an eager step
    dispatches its thousands of operations one by one (seconds per test)."""
    return trfd_jax.step(problem, trfd_jax.init(problem, x0))


def recording(fun_np, calls: list | None = None):
    """``fun_np`` as a JAX objective evaluated on the host one point at a time, with every
    point it was called at appended to ``calls`` (real calls, not the solver's count)."""
    calls = [] if calls is None else calls

    def host(x):
        calls.append(np.array(x))
        return np.asarray(fun_np(np.asarray(x)), np.float64)

    def wrapped(x):
        return jax.pure_callback(
            host, jax.ShapeDtypeStruct((), jnp.float64), x, vmap_method="sequential"
        )

    return wrapped, calls


def rosenbrock(x):
    """Chained Rosenbrock; minimum 0 at (1, …, 1)."""
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def extended_rosenbrock(x):
    """Extended (pairwise) Rosenbrock, Moré–Garbow–Hillstrom #21; minimum 0 at (1, …, 1)."""
    return jnp.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2)


def make_quadratic(n: int, seed: int = 0, cond: float = 10.0):
    """f(x) = ½ (x − x*)ᵀ A (x − x*) with A ≻ 0 of condition ``cond``; returns f, A, x*."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(np.geomspace(1.0, cond, n)) @ q.T
    a = 0.5 * (a + a.T)
    x_star = rng.standard_normal(n)
    a_j, x_j = jnp.asarray(a), jnp.asarray(x_star)

    def f(x):
        r = x - x_j
        return 0.5 * r @ (a_j @ r)

    return f, a, x_star


def sphere(x):
    """‖x − 1‖²; minimum 0 at (1, …, 1)."""
    return jnp.sum((x - 1.0) ** 2)
