"""A per-iteration trace of one Moré–Wild run: what Δ, τ, the model and the subproblem do.

    python -m trfd_jax.benchmarks.trace 29 --bounded --last 60

One line per iteration: nfev, f(x_k), Δ, τ, the step kind, the stationarity measure π at
x_k with the true gradient (``jax.grad``) and with the finite-difference gradient g_k, the
gradient error ‖g_k − ∇f(x_k)‖, the model decrease of Step 2's step against that of the
Generalized Cauchy step (constrained runs), and the subproblem's KKT residual over
Ω ∩ B(x_k, Δ_k) as a fixed point, ‖d − P_D(d − ∇m(d)/‖H‖)‖ / Δ (0 at the minimizer of a
convex model).  This is the evidence behind issue 10's diagnosis.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

from trfd_jax.benchmarks.more_wild import more_wild_53  # noqa: E402
from trfd_jax.benchmarks.runner import BOX, budget, start_point  # noqa: E402


def trace(index: int, bounded: bool) -> tuple[list[dict], object]:
    """Run problem ``index`` step by step; returns the rows and the final state."""
    import trfd_jax
    from trfd_jax._src import subproblem
    from trfd_jax._src.model import model_value
    from trfd_jax._src.subproblem.constrained import generalized_cauchy_step

    problem = {p.index: p for p in more_wild_53()}[index]
    bounds = BOX if bounded else None
    x0 = start_point(problem, bounds)
    setup, x0 = trfd_jax.make_problem(
        problem.objective, x0, max_evals=budget(problem.n), bounds=bounds
    )
    grad = jax.grad(problem.objective)
    constraint = setup.constraint
    opts = setup.options

    @jax.jit
    def diagnose(state):
        x, model, radius = state.iterate.x, state.model, state.region.radius
        g, h = model.gradient, model.hessian
        d = subproblem.solve(setup, x, g, h, radius, (model.eigenvalues, model.eigenvectors))
        true = grad(x)
        row = {
            "pi": trfd_jax.stationarity(true, x, constraint),
            "pi_g": trfd_jax.stationarity(g, x, constraint),
            "g_error": jnp.linalg.norm(g - true),
            "decrease": -model_value(g, h, d),
            "step": jnp.linalg.norm(d),
        }
        if constraint is not None:
            project = constraint.step_projection(x, radius, opts.dykstra_max_iter, opts.dykstra_tol)
            cauchy = generalized_cauchy_step(g, h, radius, project, opts.cauchy_max_iter)
            lipschitz = jnp.max(jnp.abs(model.eigenvalues))
            fixed = project(d - (g + h @ d) / jnp.where(lipschitz > 0, lipschitz, 1.0))
            row["cauchy_decrease"] = -model_value(g, h, cauchy)
            row["kkt"] = jnp.linalg.norm(fixed - d) / radius
        return row

    step = jax.jit(trfd_jax.step)
    state = trfd_jax.init(setup, x0)
    rows = []
    while not bool(trfd_jax.terminate(setup, state)):
        state = step(setup, state)
        row = {key: float(value) for key, value in diagnose(state).items()}
        row.update(
            nit=int(state.counters.nit),
            nfev=int(state.record.nfev),
            f=float(state.iterate.f),
            radius=float(state.region.radius),
            fd_step=float(state.region.fd_step),
            kind=trfd_jax.StepKind(int(state.last_step)).name,
        )
        rows.append(row)
    return rows, state


def main(argv: Sequence[str] | None = None) -> None:
    import trfd_jax

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("problem", type=int, help="Moré–Wild number, 1..53")
    parser.add_argument("--bounded", action="store_true", help="bounds [0.1, 20]")
    parser.add_argument("--last", type=int, default=0, help="only the last K iterations")
    args = parser.parse_args(argv)
    rows, state = trace(args.problem, args.bounded)
    status = trfd_jax.Status(int(state.status)).name
    print(
        f"status {status}, nfev {int(state.record.nfev)}, best f {float(state.record.best_f):.16e},"
        f" reused {int(state.record.n_reused)}"
    )
    bounded = args.bounded
    head = f"{'nit':>4} {'nfev':>5} {'f':>23} {'radius':>9} {'fd_step':>9} {'kind':>15} "
    head += f"{'pi':>9} {'pi_g':>9} {'|g-grad|':>9} {'decrease':>9} {'|d|':>9}"
    if bounded:
        head += f" {'GCP decr.':>9} {'KKT res.':>9}"
    print(head)
    for r in rows[-args.last :] if args.last else rows:
        line = (
            f"{r['nit']:>4} {r['nfev']:>5} {r['f']:>23.16e} {r['radius']:>9.2e} "
            f"{r['fd_step']:>9.2e} {r['kind']:>15} {r['pi']:>9.2e} {r['pi_g']:>9.2e} "
            f"{r['g_error']:>9.2e} {r['decrease']:>9.2e} {r['step']:>9.2e}"
        )
        if bounded:
            line += f" {r['cauchy_decrease']:>9.2e} {r['kkt']:>9.2e}"
        print(line)


if __name__ == "__main__":
    main()
