"""Where runs stop, and what each evaluation buys: π at the returned point, before/after.

For every Moré–Wild problem, unconstrained and with the bounds [0.1, 20], this runs
trfd_jax (plain TRFD-S, the Gauss–Newton search on the residuals and ``ModelSearch``)
twice: with ``reuse_evaluations=False`` — exactly the solver before repeated points were
reused (``tests/golden.py`` pins it to the bit) — and with the default ``True``.  It
reports, per problem, the status, nfev, final f and the stationarity measure π of the
returned point (true gradient by ``jax.grad``; spec "Stationarity"), the evaluations saved,
the runs that stop on ``RADIUS_TOL`` while π > 1e-6 max(1, |f|), and which runs reach f
within 1e-9 (relative) of the best value any solver found (the peers' f_L from
``benchmarks/results/morewild/<set>/per_problem.csv`` when present, and these runs).

    python -m trfd_jax.benchmarks.stationarity --out benchmarks/results/stationarity
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)


from trfd_jax.benchmarks.machine import machine_info  # noqa: E402
from trfd_jax.benchmarks.more_wild import more_wild_53  # noqa: E402
from trfd_jax.benchmarks.peers import numpy_objective  # noqa: E402
from trfd_jax.benchmarks.runner import BOX, budget, run_trfd_jax, start_point  # noqa: E402

VARIANTS = ("trfd_jax", "trfd_jax_gn", "trfd_jax_model")
SETS = {"unconstrained": None, "bounded": BOX}
RADIUS_TOL = 1  # Status.RADIUS_TOL
PI_TOL = 1e-6  # relative to max(1, |f|)
F_TOL = 1e-9  # τ of the data-profile test, see reaches_best


def stops_early(run: dict) -> bool:
    """A RADIUS_TOL stop (budget left) at a point that is not stationary."""
    return run["status"] == RADIUS_TOL and run["pi"] > PI_TOL * max(1.0, abs(run["f"]))


def reaches_best(f: float, f_best: float, f0: float) -> bool:
    """Solved at τ = 1e-9 in the data-profile sense: f(x₀) − f ≥ (1 − τ)(f(x₀) − f_best)."""
    return f0 - f >= (1.0 - F_TOL) * (f0 - f_best)


def _peer_best(set_name: str) -> dict[int, float]:
    path = Path("benchmarks/results/morewild") / set_name / "per_problem.csv"
    if not path.exists():
        return {}
    with path.open() as handle:
        return {int(row["p"]): float(row["f_L"]) for row in csv.DictReader(handle)}


def run(problems: Sequence[int] | None = None) -> dict:
    """All runs: ``out[set][variant][reuse][problem] = run info``."""
    import trfd_jax

    chosen = [p for p in more_wild_53() if problems is None or p.index in problems]
    out: dict = {}
    for set_name, bounds in SETS.items():
        out[set_name] = {}
        for variant in VARIANTS:
            out[set_name][variant] = {}
            for reuse in (False, True):
                options = trfd_jax.Options.paper(reuse_evaluations=reuse)
                _, runs = run_trfd_jax(chosen, bounds, options=options, variant=variant)
                out[set_name][variant][reuse] = runs
                total = sum(r["nfev"] for r in runs.values())
                print(f"{set_name} {variant} reuse={reuse}: {total} evaluations")
    return out


def report(results: dict, folder: Path | None) -> str:
    """The markdown report (and ``results.json`` in ``folder``)."""
    catalogue = {p.index: p for p in more_wild_53()}
    lines = ["# Stationarity at the returned point, and evaluations saved by reuse", ""]
    lines += [
        "π(x) = |min{∇f(x)ᵀd : x + d ∈ Ω, ‖d‖ ≤ 1}| at the returned point, ∇f by jax.grad. "
        "'before' = reuse_evaluations=False (the solver before repeats were reused; "
        "pinned to the bit by tests/golden.py), 'after' = the default. "
        f"'early stops' = RADIUS_TOL with π > {PI_TOL:g}·max(1, |f|). "
        f"'best' = f(x₀) − f ≥ (1 − {F_TOL:g})(f(x₀) − f_best), f_best the best value "
        "any solver found "
        "(peers' f_L from benchmarks/results/morewild, and these runs).",
        "",
    ]
    for set_name, by_variant in results.items():
        peer = _peer_best(set_name)
        problems = sorted(next(iter(next(iter(by_variant.values())).values())))
        f0 = {
            p: float(numpy_objective(catalogue[p])(start_point(catalogue[p], SETS[set_name])))
            for p in problems
        }
        best = {
            p: min(
                [peer.get(p, math.inf)]
                + [r[p]["f"] for v in by_variant.values() for r in v.values()]
            )
            for p in problems
        }
        lines += [f"## {set_name}", ""]
        lines += [
            "| variant | reuse | evaluations | reused (saved) | RADIUS_TOL stops | early stops "
            "| best |",
            "|---|---|---|---|---|---|---|",
        ]
        for variant, by_reuse in by_variant.items():
            for reuse, runs in by_reuse.items():
                total = sum(r["nfev"] for r in runs.values())
                saved = sum(r["n_reused"] for r in runs.values())
                radius = sum(r["status"] == RADIUS_TOL for r in runs.values())
                early = [p for p, r in runs.items() if stops_early(r)]
                good = sum(reaches_best(runs[p]["f"], best[p], f0[p]) for p in problems)
                lines.append(
                    f"| {variant} | {'after' if reuse else 'before'} | {total} | {saved} | "
                    f"{radius} | {len(early)} {early if early else ''} | {good}/{len(problems)} |"
                )
        lines += ["", f"Per problem, plain trfd_jax ({set_name}):", ""]
        lines += [
            "| p | name | n | budget | status before | nfev before | f before | π before | "
            "status after | nfev after | f after | π after | best |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        plain = by_variant["trfd_jax"]
        for p in problems:
            b, a = plain[False][p], plain[True][p]
            name = catalogue[p].name
            lines.append(
                f"| {p} | {name} | {catalogue[p].n} | {budget(catalogue[p].n)} | "
                f"{_status(b)} | {b['nfev']} | {b['f']:.12g} | {b['pi']:.2e} | "
                f"{_status(a)} | {a['nfev']} | {a['f']:.12g} | {a['pi']:.2e} | "
                f"{'yes' if reaches_best(a['f'], best[p], f0[p]) else 'no'} |"
            )
        lines.append("")
    text = "\n".join(lines)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "table.md").write_text(text + "\n")
        serial = {
            s: {v: {str(k): runs for k, runs in by_r.items()} for v, by_r in by_v.items()}
            for s, by_v in results.items()
        }
        payload = {"machine": machine_info(), "results": serial}
        (folder / "results.json").write_text(json.dumps(payload, indent=1, default=str))
    return text


def _status(run: dict) -> str:
    import trfd_jax

    return trfd_jax.Status(run["status"]).name


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for table.md")
    parser.add_argument("--problems", type=int, nargs="*", default=None)
    args = parser.parse_args(argv)
    print(report(run(args.problems), args.out))


if __name__ == "__main__":
    main()
