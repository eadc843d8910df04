"""Data-profile areas of runs made separately, on one profile (f_L over all of them).

    python benchmarks/results/noise/combine.py

The runs (each writes histories.npz; the folders here are copies of their output):

    B="python -m trfd_jax.benchmarks run --set unconstrained --no-plots --out /tmp/nz"
    DEFAULT="radius_tol=None xtol=1e-8 ftol=1e-8"   # Options() on the runner's paper base
    # auto_newuoa_1e-03:
    $B --solvers trfd_jax newuoa --noise 1e-3 --trfd-option $DEFAULT noise_level=auto
    # none_1e-03:
    $B --solvers trfd_jax --noise 1e-3 --trfd-option $DEFAULT
    (the same with --noise 1e-5: auto_newuoa_1e-05, none_1e-05; without --noise:
    noiseless_auto, noiseless_none; and with --set bounded and bobyqa in place of newuoa:
    bounded_auto_bobyqa_1e-0k, bounded_none_1e-0k)
"""

from pathlib import Path

import numpy as np

from trfd_jax.benchmarks import profiles

HERE = Path(__file__).resolve().parent


def areas(runs: dict[str, tuple[str, str]]) -> None:
    loaded = {
        name: np.load(HERE / folder / "histories.npz", allow_pickle=True)
        for name, (folder, _) in runs.items()
    }
    first = next(iter(loaded.values()))
    f0, n = first["f0"], first["n"]
    hs = [loaded[name][f"history_{key}"] for name, (_, key) in runs.items()]
    per = [np.stack([h[p] for h in hs]) for p in range(len(f0))]
    print("| solver | " + " | ".join(f"τ={t:g}" for t in profiles.TOLERANCES) + " |")
    print("|---|" + "---|" * len(profiles.TOLERANCES))
    rows = [
        profiles.data_profile_area(profiles.solve_evaluations(per, f0, t), n)
        for t in profiles.TOLERANCES
    ]
    for s, name in enumerate(runs):
        print(f"| {name} | " + " | ".join(f"{r[s]:.3f}" for r in rows) + " |")


SETTINGS = (
    ("relative noise", "", "auto_newuoa", "NEWUOA (nlopt)", "newuoa"),
    (
        "bounds [0.1, 20], relative noise",
        "bounded_",
        "bounded_auto_bobyqa",
        "BOBYQA (nlopt)",
        "bobyqa",
    ),
)
for title, prefix, peer_folder, peer_name, peer in SETTINGS:
    for xi in ("1e-03", "1e-05"):
        print(f"\n{title} ξ = {xi}")
        areas(
            {
                'trfd_jax, noise_level="auto"': (f"{peer_folder}_{xi}", "trfd_jax"),
                "trfd_jax, default (no noise handling)": (f"{prefix}none_{xi}", "trfd_jax"),
                peer_name: (f"{peer_folder}_{xi}", peer),
            }
        )
print("\nno noise")
areas(
    {
        'trfd_jax, noise_level="auto"': ("noiseless_auto", "trfd_jax"),
        "trfd_jax, default": ("noiseless_none", "trfd_jax"),
    }
)
