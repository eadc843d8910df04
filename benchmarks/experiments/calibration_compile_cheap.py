"""The calibration's solver with a cheap objective: its own trace/lower and compile time, batched and not (python benchmarks/experiments/calibration_compile_cheap.py)."""
# ruff: noqa: E402, E501

import time

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)
import trfd_jax
from trfd_jax.benchmarks import predator_prey as pp

problem = pp.calibration_problem()
B = 171
starts = jnp.asarray(pp.starting_points(B))
budget = 700
f = jax.jit(
    jax.vmap(
        lambda s: trfd_jax.minimize(
            lambda x: jnp.sum((x - 3.0) ** 2), s, bounds=problem.bounds, max_evals=budget
        )
    )
)
t = time.perf_counter()
lowered = f.lower(starts)
t1 = time.perf_counter() - t
t = time.perf_counter()
comp = lowered.compile()
t2 = time.perf_counter() - t
print(f"cheap objective: lower {t1:.1f}s compile {t2:.1f}s")
g = jax.jit(
    lambda s: trfd_jax.minimize(
        lambda x: jnp.sum((x - 3.0) ** 2), s, bounds=problem.bounds, max_evals=budget
    )
)
t = time.perf_counter()
lowered = g.lower(starts[0])
t1 = time.perf_counter() - t
t = time.perf_counter()
comp = lowered.compile()
t2 = time.perf_counter() - t
print(f"cheap objective unbatched: lower {t1:.1f}s compile {t2:.1f}s")
