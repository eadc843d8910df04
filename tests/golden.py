"""Bit-for-bit regression guard: Moré–Wild histories against stored ones.

The restructuring of issue 9 had to leave every run unchanged to the last bit.  This
module recomputes the histories (best value after each evaluation), nfev, status and final
f of trfd_jax on the Moré–Wild problems — unconstrained and with the bounds [0.1, 20], for
plain TRFD-S, the Gauss–Newton search on the residuals and ``ModelSearch`` — and compares
them with ``tests/data/golden_histories.npz`` using exact equality.

    python -m tests.golden            # compare all 318 runs with the stored file
    python -m tests.golden --write    # store the current behaviour (after an intended change)

Stored histories change only with an intended change of the algorithm, said in the commit
that rewrites them: the bounded ones were rewritten for the box subproblem's subspace
refinement (issue 14; data-profile areas within 0.01, see that commit); both sets again when
the batched program was made to round as the unbatched one (reciprocals in BFGS, points
reaching f as stored; 153 of 1272 arrays, areas within 0.002); the bounded ones once more
for ``cauchy_max_iter`` 50 → 5 (areas identical); all of them when every small reduction
became a fixed tree of additions and products stopped fusing into sums (``linalg.py``, so
that 4,096 vmapped starts round as a loop) and the box ∩ ball projection became closed-form
(725 of 1272 arrays; areas within 0.01, bounded Gauss–Newton +0.019 at every τ); all of
them when the batched program began to compute the objective only for the starts that need
it, in chunks of starts (``schedule.py``: XLA rounds some objectives otherwise in that
layout; 394 of 1272 arrays; trfd_jax-only areas, f_L the lower of the two final values,
within 0.001 at τ = 1e-1 … 1e-5 and within 0.016 at 1e-7, where ModelSearch gained 0.016
unconstrained and 0.011 bounded, plain TRFD-S −0.006 unconstrained and +0.010 bounded);
all of them when the chunks became B/4 starts then an eighth of that, and Step 0 one chunk
of all starts (the layout again; 91 of 1272 arrays, problems 9, 10 and 18–24, in groups of
more starts; areas identical to three decimals at τ = 1e-1, 1e-3, 1e-5, 1e-7).

``tests/test_golden.py`` runs a CI-sized subset (and the whole set under ``-m slow``).
Runs go through the benchmark runner (one ``jit(vmap)`` call per dimension), so this also
guards the batched path.  The runs use ``Options(reuse_evaluations=False)``: the stored
histories predate the reuse of repeated points (issue 10), which keeps every iterate but
saves evaluations, so it changes when each evaluation happens; with it off the solver must
still do exactly what it did.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import trfd_jax  # noqa: E402
from trfd_jax.benchmarks.more_wild import more_wild_53  # noqa: E402
from trfd_jax.benchmarks.runner import BOX, run_trfd_jax  # noqa: E402

PATH = Path(__file__).parent / "data" / "golden_histories.npz"
VARIANTS = ("trfd_jax", "trfd_jax_gn", "trfd_jax_model")
SETS = {"unconstrained": None, "bounded": BOX}
OPTIONS = trfd_jax.Options.paper(reuse_evaluations=False)


def compute(
    problems: Sequence[int] | None = None,
    variants: Sequence[str] = VARIANTS,
    sets: Sequence[str] = tuple(SETS),
) -> dict[str, np.ndarray]:
    """Arrays keyed ``"{set}/{variant}/{problem}/{field}"`` (fields: history, nfev,
    status, f) for the selected Moré–Wild problems (1-based numbers; None: all 53)."""
    chosen = [p for p in more_wild_53() if problems is None or p.index in problems]
    out = {}
    for set_name in sets:
        for variant in variants:
            histories, runs = run_trfd_jax(
                chosen, bounds=SETS[set_name], variant=variant, options=OPTIONS
            )
            for index, history in histories.items():
                key = f"{set_name}/{variant}/{index}"
                out[f"{key}/history"] = np.asarray(history)
                for field in ("nfev", "status", "f"):
                    out[f"{key}/{field}"] = np.asarray(runs[index][field])
    return out


def stored() -> dict[str, np.ndarray]:
    with np.load(PATH) as data:
        return {key: data[key] for key in data.files}


def differences(new: dict[str, np.ndarray], old: dict[str, np.ndarray]) -> list[str]:
    """Keys of ``new`` whose arrays are not bitwise equal to the stored ones."""
    bad = []
    for key, value in new.items():
        if key not in old:
            bad.append(f"{key}: not stored")
        elif value.tobytes() != old[key].tobytes() or value.shape != old[key].shape:
            bad.append(f"{key}: differs")
    return bad


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="store the current behaviour")
    args = parser.parse_args(argv)
    new = compute()
    if args.write:
        PATH.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(PATH, **new)
        print(f"wrote {len(new)} arrays to {PATH}")
        return 0
    bad = differences(new, stored())
    runs = len(new) // 4
    if bad:
        print("\n".join(bad))
        print(f"{len(bad)} of {len(new)} arrays differ ({runs} runs)")
        return 1
    print(f"all {runs} runs identical to the bit ({len(new)} arrays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
