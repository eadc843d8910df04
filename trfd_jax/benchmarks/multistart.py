"""Multi-start wall-clock benchmark: one vmapped TRFD-S call against a loop of NEWUOA.

S uniform starts in [−2, 2]ⁿ on extended Rosenbrock (Moré–Garbow–Hillstrom #21), budget
100 (n + 1).  trfd_jax solves all starts in one ``jax.vmap(minimize)`` call (also inside
the caller's ``jax.jit``, where XLA's default compiler options apply); the
peer is a Python loop of nlopt's NEWUOA (LN_NEWUOA, maxeval = budget, nlopt's default
initial step and no other stopping test) on the same starts, with the objective written in
NumPy.  Reported: medians over ``--repeats`` runs of the wall time with and without
compilation, the share of starts solved (f < 1e-6), and the ratio of wall times.

    python -m trfd_jax.benchmarks.multistart [--starts 1024] [--n 10] [--repeats 5]

Needs the ``bench`` extra (nlopt).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax.benchmarks.machine import machine_info, save_json

SOLVED = 1e-6


def extended_rosenbrock(x):
    """Σ 100 (x₂ᵢ − x₂ᵢ₋₁²)² + (1 − x₂ᵢ₋₁)²; minimum 0 at (1, …, 1); n even."""
    return jnp.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2)


def extended_rosenbrock_np(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2))


FORMS = (
    "vmap",
    "jit(vmap)",
    "vmap, noise_level=None",
    "vmap, truncated_cg",
    "vmap, truncated_cg, noise_level=None",
)
"""How trfd_jax is called: eagerly vmapped (the solver compiles its program with its own
CPU compiler options) or inside the caller's jit (XLA's defaults), with the default
options, without the noise handling, with the truncated-CG subproblem (no eigh), or with
both (the smallest program: for a smooth objective, whose only noise is rounding)."""


def _options(form: str):
    import trfd_jax

    parts = form.split(", ")[1:]
    if not parts:
        return None
    kwargs = {}
    if "noise_level=None" in parts:
        kwargs["noise_level"] = None
    if "truncated_cg" in parts:
        kwargs["subproblem"] = "truncated_cg"
    return trfd_jax.Options(**kwargs)


def run_trfd(starts: np.ndarray, budget: int, repeats: int, form: str = "vmap") -> dict:
    """``form``: ``vmap`` calls ``jax.vmap(minimize)`` eagerly (the solver compiles its own
    program, with its own compiler options); ``jit(vmap)`` wraps it in the caller's jit
    (XLA's default options); ``..., noise_level=None`` turns
    the default noise handling off (the paper's algorithm, a smaller program);
    ``..., truncated_cg`` solves the trust-region subproblem by Steihaug–Toint CG instead of
    the eigendecomposition; both together, the smallest program (:data:`FORMS`)."""
    import trfd_jax

    x0 = jnp.asarray(starts)
    options = _options(form)

    def make():
        solve = jax.vmap(
            lambda s: trfd_jax.minimize(extended_rosenbrock, s, max_evals=budget, options=options)
        )
        return jax.jit(solve) if form.startswith("jit(vmap)") else solve

    with_compile, without_compile = [], []
    for _ in range(repeats):
        jax.clear_caches()
        solve = make()
        t = time.perf_counter()
        result = solve(x0)
        result.f.block_until_ready()
        with_compile.append(time.perf_counter() - t)
        t = time.perf_counter()
        result = solve(x0)
        result.f.block_until_ready()
        without_compile.append(time.perf_counter() - t)
    f = np.asarray(result.f)
    nfev = np.asarray(result.nfev)
    assert nfev.max() <= budget
    return {
        "wall_with_compile_s": statistics.median(with_compile),
        "wall_s": statistics.median(without_compile),
        "solved": float(np.mean(f < SOLVED)),
        "median_f": float(np.median(f)),
        "evaluations": int(nfev.sum()),
    }


def run_newuoa(starts: np.ndarray, budget: int, repeats: int) -> dict:
    import nlopt

    n = starts.shape[1]
    times, best, evaluations = [], None, 0
    for _ in range(repeats):
        best, evaluations = [], 0
        t = time.perf_counter()
        for x0 in starts:
            seen = [np.inf, 0]  # best value, evaluations: recorded here, not trusted to nlopt

            def objective(x, grad, seen=seen):
                value = extended_rosenbrock_np(x)
                seen[0] = min(seen[0], value)
                seen[1] += 1
                return value

            opt = nlopt.opt(nlopt.LN_NEWUOA, n)
            opt.set_min_objective(objective)
            opt.set_maxeval(budget)
            try:
                opt.optimize(x0)
            except (nlopt.RoundoffLimited, RuntimeError):
                pass  # keep the best value seen
            best.append(seen[0])
            evaluations += seen[1]
        times.append(time.perf_counter() - t)
    best = np.asarray(best)
    return {
        "wall_s": statistics.median(times),
        "solved": float(np.mean(best < SOLVED)),
        "median_f": float(np.median(best)),
        "evaluations": evaluations,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=1024)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON here")
    args = parser.parse_args(argv)
    if args.n % 2:
        parser.error("extended Rosenbrock needs an even n")
    jax.config.update("jax_enable_x64", True)
    budget = 100 * (args.n + 1)
    starts = np.random.default_rng(args.seed).uniform(-2.0, 2.0, (args.starts, args.n))
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, jax {info['jax']} ({info['backend']})")
    print(
        f"extended Rosenbrock n={args.n}, {args.starts} starts in [-2,2]^n, budget {budget}, "
        f"medians of {args.repeats}"
    )
    trfd = {form: run_trfd(starts, budget, args.repeats, form) for form in FORMS}
    newuoa = run_newuoa(starts, budget, args.repeats)
    print(f"{'solver':<46}{'wall [s]':>10}{'w/ compile':>12}{'solved':>9}{'median f':>12}")
    for form, r in trfd.items():
        print(
            f"{'trfd_jax, ' + form + ' (one call)':<46}{r['wall_s']:>10.3f}"
            f"{r['wall_with_compile_s']:>12.3f}{r['solved']:>9.1%}{r['median_f']:>12.2e}"
        )
    print(
        f"{'nlopt NEWUOA (Python loop)':<46}{newuoa['wall_s']:>10.3f}{'':>12}"
        f"{newuoa['solved']:>9.1%}{newuoa['median_f']:>12.2e}"
    )
    speedup = {}
    for form, r in trfd.items():
        speedup[form] = {
            "warm": newuoa["wall_s"] / r["wall_s"],
            "with_compile": newuoa["wall_s"] / r["wall_with_compile_s"],
        }
        print(
            f"speed-up, {form}: {speedup[form]['warm']:.1f}x without compile, "
            f"{speedup[form]['with_compile']:.1f}x with compile"
        )
    results = {
        "machine": info,
        "config": vars(args) | {"budget": budget, "out": str(args.out)},
        "trfd_jax": trfd,
        "newuoa": newuoa,
        "speedup": speedup,
    }
    save_json(args.out, results)
    return results


if __name__ == "__main__":
    main()
