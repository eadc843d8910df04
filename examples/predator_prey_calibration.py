"""Calibrate a predator–prey ODE (diffrax) from 171 starting points in one compiled call.

The first paper's §4.3: fit the six parameters θ = (r, K, a, h, e, m) of the
Rosenzweig–MacArthur model to noisy prey and predator counts, under unrelaxable bounds —
the ODE is only ever solved inside them.  The problem (ground truth, data, bounds, starts)
is :mod:`trfd_jax.benchmarks.predator_prey`; the solvers work on u = θ / ω, the parameters
in units of their order of magnitude ω, with bounds 1 ≤ u ≤ 10.

    pip install -e ".[examples]" && python examples/predator_prey_calibration.py

writes ``predator_prey_fit.png`` (observed vs fitted trajectories) to the current folder.
"""

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import trfd_jax  # noqa: E402
from trfd_jax.benchmarks import predator_prey as pp  # noqa: E402

QUICK = os.environ.get("TRFD_EXAMPLES_QUICK") == "1"  # CI runs a reduced size
STARTS = 8 if QUICK else 171
BUDGET = 700  # the paper's 100 simplex gradients, 100 (n + 1)

problem = pp.calibration_problem()
starts = jnp.asarray(pp.starting_points(STARTS))


@jax.jit
@jax.vmap
def fit(u0):
    return trfd_jax.minimize(problem.objective, u0, bounds=problem.bounds, max_evals=BUDGET)


t = time.perf_counter()
result = jax.block_until_ready(fit(starts))
print(f"{STARTS} starts in one jit(vmap) call: {time.perf_counter() - t:.1f} s (compile included)")

best = int(jnp.argmin(result.f))
theta = np.asarray(pp.parameters(result.x[best]))
at_best = np.asarray(result.f <= result.f[best] * (1 + 1e-6))
print(f"best f = {float(result.f[best]):.6g}; {at_best.sum()} of {STARTS} starts reached it")
truth = jnp.asarray(pp.THETA_TRUE) / jnp.asarray(pp.MAGNITUDE)
print(f"f at the ground truth = {float(problem.objective(truth)):.6g}")
print(f"{'':>3}{'truth':>10}{'fit':>10}")
for name, true, fitted in zip(pp.PARAMETER_NAMES, pp.THETA_TRUE, theta, strict=True):
    print(f"{name:>3}{true:>10.4g}{fitted:>10.4g}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: no figure")
else:
    times = np.asarray(pp.TIMES)
    fitted = np.asarray(problem.trajectories(result.x[best]))
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, (label, colour) in enumerate([("prey N", "tab:green"), ("predators P", "tab:red")]):
        ax.plot(times, problem.observations[:, k], "o", color=colour, label=f"{label}, observed")
        ax.plot(times, fitted[:, k], "-", color=colour, label=f"{label}, fitted")
    ax.set_xlabel("t (days)")
    ax.set_ylabel("population")
    ax.set_title(f"Rosenzweig–MacArthur fit, best of {STARTS} starts")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig("predator_prey_fit.png", dpi=120)
    print("wrote predator_prey_fit.png")
