"""Data-profile areas of a trfd_jax-only noisy run against the committed three-solver runs.

    python benchmarks/experiments/compare_noisy.py OUT [1e-05 ...]

OUT holds ``<set>-noise-relative-<level>/histories.npz`` written by
``python -m trfd_jax.benchmarks run --solvers trfd_jax --noise <level> ...`` (the variant's
trfd_jax); each table row puts it in place of the committed trfd_jax history of
``benchmarks/results/noise`` (f_L recomputed over trfd_jax and the two peers of the run).
"""

import sys
from pathlib import Path

import numpy as np

from trfd_jax.benchmarks import profiles

RESULTS = Path(__file__).resolve().parents[1] / "results" / "noise"


def main(out: str, levels: list[str]) -> None:
    for name, peer in (("unconstrained", "newuoa"), ("bounded", "bobyqa")):
        for level in levels:
            folder = f"{name}-noise-relative-{level}"
            variant = Path(out) / folder / "histories.npz"
            if not variant.exists():
                continue
            new = np.load(variant)["history_trfd_jax"]
            base = np.load(RESULTS / folder / "histories.npz")
            f0, n = base["f0"], base["n"]
            row = []
            for trfd in (base["history_trfd_jax"], new):
                hs = [trfd, base[f"history_{peer}"], base["history_pybobyqa"]]
                width = max(h.shape[1] for h in hs)
                hs = [
                    np.pad(h, ((0, 0), (0, width - h.shape[1])), constant_values=np.nan) for h in hs
                ]
                per = [np.stack([h[p] for h in hs]) for p in range(len(f0))]
                row.append(
                    [
                        profiles.data_profile_area(profiles.solve_evaluations(per, f0, t), n)
                        for t in (1e-1, 1e-3)
                    ]
                )
            (old1, old3), (new1, new3) = row
            print(
                f"{name:14s} xi={level}: tau=1e-1 committed {old1[0]:.3f} variant {new1[0]:.3f} "
                f"{peer} {new1[1]:.3f} pybobyqa {new1[2]:.3f} | tau=1e-3 committed {old3[0]:.3f} "
                f"variant {new3[0]:.3f} {peer} {new3[1]:.3f} pybobyqa {new3[2]:.3f}"
            )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["1e-01", "1e-03", "1e-05"])
