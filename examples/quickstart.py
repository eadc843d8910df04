"""Quickstart: minimize a 2-D and a 10-D function with TRFD-S, then a multi-start batch.

Run with ``make demo`` (see the README).
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)  # finite differences want float64

import trfd_jax  # noqa: E402


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def extended_rosenbrock(x):
    return jnp.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2)


def show(title, result, x0_value):
    print(f"{title}")
    print(f"  f(x0) = {x0_value:.6g}  ->  f = {float(result.f):.3e}")
    print(f"  x     = {np.array2string(np.asarray(result.x), precision=6)}")
    print(
        f"  nfev  = {int(result.nfev)},  iterations = {int(result.nit)} "
        f"({int(result.n_successful)} successful, {int(result.n_type_i)} type I, "
        f"{int(result.n_type_ii)} type II)"
    )
    print(f"  status: {result.message}\n")


def main():
    x0 = jnp.array([-1.2, 1.0])
    result = trfd_jax.minimize(rosenbrock, x0, max_evals=300)
    show("Rosenbrock, n = 2, budget 300", result, float(rosenbrock(x0)))

    x0 = jnp.tile(jnp.array([-1.2, 1.0]), 5)
    result = trfd_jax.minimize(extended_rosenbrock, x0)  # default budget 100 (n + 1)
    show("Extended Rosenbrock, n = 10, budget 1100", result, float(extended_rosenbrock(x0)))

    starts = jnp.asarray(np.random.default_rng(0).uniform(-2.0, 2.0, (256, 10)))
    solve = jax.jit(jax.vmap(lambda s: trfd_jax.minimize(extended_rosenbrock, s)))
    solve(starts).f.block_until_ready()  # compile once
    t = time.perf_counter()
    batch = solve(starts)
    batch.f.block_until_ready()
    elapsed = time.perf_counter() - t
    solved = float(jnp.mean(batch.f < 1e-6))
    print("Multi-start: 256 random starts in [-2, 2]^10, one vmapped call")
    print(f"  {elapsed:.2f} s after compilation, {100 * solved:.0f}% reached f < 1e-6")
    print(f"  best f over starts = {float(batch.f.min()):.3e}")


if __name__ == "__main__":
    main()
