"""Lane overhead: the solver's per-iteration cost on 171 lanes against the calibration's iteration counts (python benchmarks/experiments/lane_overhead.py)."""
# ruff: noqa: E402, E501

# How much of the calibration's warm time is the solver's own per-iteration work on all
# lanes (what a lane refill could save), against the ODE solves?
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import trfd_jax
from trfd_jax.benchmarks import predator_prey as pp

problem = pp.calibration_problem()
starts = jnp.asarray(pp.starting_points(171))
opts = trfd_jax.Options()
cal = jax.jit(
    jax.vmap(
        lambda s: trfd_jax.minimize(problem.objective, s, bounds=problem.bounds, max_evals=700)
    )
)
r = jax.block_until_ready(cal(starts))
t = time.perf_counter()
r = jax.block_until_ready(cal(starts))
tc = time.perf_counter() - t
nit = np.asarray(r.nit)
print(
    f"calibration warm {tc:.2f}s, nit max {nit.max()} median {np.median(nit):.0f} mean {nit.mean():.1f}"
)
# the same loop length on a cheap objective: every lane iterates max_iter times
cheap = jax.jit(
    jax.vmap(
        lambda s: trfd_jax.minimize(
            lambda x: jnp.sum(jnp.cos(x) * x**2),
            s,
            bounds=problem.bounds,
            max_evals=700,
            options=trfd_jax.Options(max_iter=int(nit.max())),
        )
    )
)
q = jax.block_until_ready(cheap(starts))
t = time.perf_counter()
q = jax.block_until_ready(cheap(starts))
tq = time.perf_counter() - t
print(
    f"cheap objective, {int(np.asarray(q.nit).max())} iterations on 171 lanes: {tq:.2f}s "
    f"({1e3 * tq / max(1, int(np.asarray(q.nit).max())):.2f} ms per iteration)"
)
