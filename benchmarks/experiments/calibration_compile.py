"""The calibration program's trace/lower and compile time (python benchmarks/experiments/calibration_compile.py 171 none; the second argument is Options.batch_chunk)."""
# ruff: noqa: E402, E501

import sys
import time

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)
import trfd_jax
from trfd_jax.benchmarks import predator_prey as pp

problem = pp.calibration_problem()
B = int(sys.argv[1])
chunk = None if sys.argv[2] == "none" else int(sys.argv[2])
starts = jnp.asarray(pp.starting_points(B))
budget = pp.BUDGET_GRADIENTS * (problem.n + 1)
opts = trfd_jax.Options(batch_chunk=chunk)
f = jax.jit(
    jax.vmap(
        lambda s: trfd_jax.minimize(
            problem.objective, s, bounds=problem.bounds, max_evals=budget, options=opts
        )
    )
)
t = time.perf_counter()
lowered = f.lower(starts)
t1 = time.perf_counter() - t
t = time.perf_counter()
comp = lowered.compile()
t2 = time.perf_counter() - t
hlo = comp.as_text()
print(
    f"B={B} chunk={chunk} lower {t1:.1f}s compile {t2:.1f}s hlo lines {len(hlo.splitlines())} whiles {hlo.count(' while(')}"
)
t = time.perf_counter()
r = jax.block_until_ready(comp(starts))
print(f"run {time.perf_counter() - t:.2f}s nfev {int(r.nfev.sum())}")
# objective alone
g = jax.jit(jax.vmap(problem.objective))
t = time.perf_counter()
g.lower(starts).compile()
print(f"objective alone vmapped compile {time.perf_counter() - t:.1f}s")
