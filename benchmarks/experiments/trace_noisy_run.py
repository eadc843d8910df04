"""One noisy Moré–Wild run, iteration by iteration: what the noise handling did.

    python benchmarks/experiments/trace_noisy_run.py PROBLEM [XI] [--every K]

PROBLEM is a Moré–Wild problem number (1–53), XI the relative noise level of the noisy
benchmarks (default 1e-5; 0 for none).  The benchmarks' noisy objective and default
options (``noise_level="auto"``, ``radius_tol=None``), driven by hand with ``step``; one
line per K-th iteration (and every noise estimate, central switch and stop): evaluations,
the step's kind (``StepKind``), the noisy and the true f at x_k, Δ, τ and its floor, ε_f,
L̂, whether differences are central, ‖g‖ and the extreme eigenvalues of H.  (How the
Chebyquad runs were seen to stall on the floor with τ 4× too large: problem 34.)
"""

import argparse
import dataclasses

import jax
import jax.numpy as jnp

import trfd_jax
from trfd_jax._src.state import StepKind
from trfd_jax.benchmarks.more_wild import more_wild_53
from trfd_jax.benchmarks.peers import Noise
from trfd_jax.benchmarks.runner import _group_objectives, budget, start_point

jax.config.update("jax_enable_x64", True)
parser = argparse.ArgumentParser()
parser.add_argument("problem", type=int)
parser.add_argument("xi", type=float, nargs="?", default=1e-5)
parser.add_argument("--every", type=int, default=1)
args = parser.parse_args()

p = {q.index: q for q in more_wild_53()}[args.problem]
noise = Noise(args.xi) if args.xi > 0 else None
clean, noisy = _group_objectives([p], noise)
x0 = jnp.asarray(start_point(p, None))
f0 = float(p.objective(x0))
data = {
    "branch": jnp.asarray(0, jnp.int32),
    "index": jnp.asarray(p.index, jnp.int32),
    "sigma": jnp.asarray(0.0 if noise is None else noise.sigma(f0)),
}
# The noisy benchmarks' options: Options() on the runner's paper base.
options = dataclasses.replace(
    trfd_jax.Options.paper(), radius_tol=None, xtol=1e-8, ftol=1e-8, noise_level="auto"
)
problem, x = trfd_jax.make_problem(noisy, x0, max_evals=budget(p.n), options=options, args=data)
step = jax.jit(lambda s: trfd_jax.step(problem, s))
state = jax.jit(lambda x: trfd_jax.init(problem, x))(x)
print(f"{p}: f(x0) = {f0:.6e}, noise sigma = {float(data['sigma']):.1e}, budget {budget(p.n)}")
notable = {StepKind.NOISE_ESTIMATE, StepKind.CENTRAL_DIFFERENCES, StepKind.NOISE_FLOOR}
k = 0
while not bool(trfd_jax.terminate(problem, state)):
    state = step(state)
    k += 1
    if k % args.every and int(state.last_step) not in notable:
        continue
    r, m = state.region, state.model
    print(
        f"nfev {int(state.record.nfev):4d} {StepKind(int(state.last_step)).name:19s} "
        f"f~ {float(state.iterate.f):.6e} f {float(clean(state.iterate.x, data)):.6e} "
        f"D {float(r.radius):.2e} tau {float(r.fd_step):.2e} floor {float(r.fd_floor):.2e} "
        f"eps {float(r.noise):.1e} L {float(r.curvature):.3g} central {int(r.central)} "
        f"|g| {float(jnp.linalg.norm(m.gradient)):.2e} "
        f"eig H [{float(jnp.min(m.eigenvalues)):.3g}, {float(jnp.max(m.eigenvalues)):.3g}]"
    )
best = float(clean(state.record.best_x, data))
print(f"status {trfd_jax.Status(int(state.status)).name}, true f at the best point {best:.6e}")
