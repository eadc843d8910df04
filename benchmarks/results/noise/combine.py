"""The noisy Moré–Wild results (first paper §4.1.2 and §4.2.2), and the noiseless check.

    python benchmarks/results/noise/combine.py

Every folder here is the output of one run (so f_L is the best value any solver of that
run reached), made with

    B="python -m trfd_jax.benchmarks run --no-plots --out benchmarks/results/noise"
    DEFAULT="radius_tol=None xtol=1e-8 ftol=1e-8 noise_level=auto"  # Options() on the
    # runner's paper base (which also keeps the whole history, as the profiles need)
    $B --set unconstrained --solvers trfd_jax newuoa pybobyqa --noise 1e-3 --trfd-option $DEFAULT
    $B --set bounded --solvers trfd_jax bobyqa pybobyqa --noise 1e-3 --trfd-option $DEFAULT
    (the same with --noise 1e-5 and 1e-1; without --noise for the noiseless runs, and with
    noise_level=None for the "smooth" ones, written to a folder smooth/)

and the two slower peers in separate runs, written to peers/ (their noise is seeded per
problem, so the runs combine; f_L of the five-solver table is over all five):

    P="python -m trfd_jax.benchmarks run --no-plots --out benchmarks/results/noise/peers"
    $P --set unconstrained --solvers dfols nomad --noise 1e-3   (and so on)

When only trfd_jax changed, its part is re-run alone and swapped into the committed
folders (the peers' histories do not depend on it; ``metadata.json`` records both git
states under ``merged``):

    $B ... --solvers trfd_jax --out NEW   (each of the 8 folders' commands)
    python benchmarks/results/noise/swap_trfd.py NEW

Noise: f + e, e uniform with standard deviation ξ max(1, |f(x₀)|), fresh for every point;
the histories are the noiseless f at each solver's best noisy point.
"""

from pathlib import Path

import numpy as np

from trfd_jax.benchmarks import profiles

HERE = Path(__file__).resolve().parent
NAMES = {
    "trfd_jax": "trfd_jax, default options",
    "newuoa": "NEWUOA (nlopt)",
    "bobyqa": "BOBYQA (nlopt)",
    "pybobyqa": "Py-BOBYQA (objfun_has_noise)",
    "dfols": "DFO-LS (residuals, objfun_has_noise)",
    "nomad": "NOMAD 4 (PyNomad)",
}


def table(runs: dict[str, tuple[Path, str]], informative_only: bool = False) -> None:
    """Areas at every τ.  ``informative_only``: without the problems where no solver of
    the run found a point better than x₀ (f(x₀) − f_L ≤ 1e-12 max(1, |f(x₀)|)), where
    the Moré–Wild test f(x₀) − f ≥ (1 − τ)(f(x₀) − f_L) degenerates to f ≤ f(x₀), which
    every solver passes at its first evaluation (x₀): they tell the solvers apart in
    nothing."""
    loaded = {name: np.load(folder / "histories.npz") for name, (folder, _) in runs.items()}
    first = next(iter(loaded.values()))
    f0, n = first["f0"], first["n"]
    hs = [loaded[name][f"history_{key}"] for name, (_, key) in runs.items()]
    width = max(h.shape[1] for h in hs)
    hs = [np.pad(h, ((0, 0), (0, width - h.shape[1])), constant_values=np.nan) for h in hs]
    per = [np.stack([h[p] for h in hs]) for p in range(len(f0))]
    keep = np.arange(len(f0))
    if informative_only:
        f_l = np.array([np.nanmin(h) for h in per])
        keep = np.flatnonzero(f0 - f_l > 1e-12 * np.maximum(1.0, np.abs(f0)))
        print(f"(without the {len(f0) - len(keep)} problems where f_L = f(x₀))")
    per = [per[p] for p in keep]
    rows = [
        profiles.data_profile_area(profiles.solve_evaluations(per, f0[keep], t), n[keep])
        for t in profiles.TOLERANCES
    ]
    print("| solver | " + " | ".join(f"τ={t:g}" for t in profiles.TOLERANCES) + " |")
    print("|---|" + "---|" * len(profiles.TOLERANCES))
    for s, name in enumerate(runs):
        print(f"| {name} | " + " | ".join(f"{r[s]:.3f}" for r in rows) + " |")


PEERS = {"unconstrained": "newuoa", "bounded": "bobyqa"}


def main() -> None:
    for set_name in ("unconstrained", "bounded"):
        for level in ("1e-01", "1e-03", "1e-05"):
            folder = HERE / f"{set_name}-noise-relative-{level}"
            if not folder.exists():
                continue
            solvers = np.load(folder / "histories.npz").files
            keys = [f[len("history_") :] for f in solvers if f.startswith("history_")]
            runs = {NAMES.get(k, k): (folder, k) for k in keys}
            print(f"\n{set_name}, relative noise ξ = {level}")
            table(runs)
            table(runs, informative_only=True)
            more = HERE / "peers" / folder.name
            if more.exists():
                print(f"\n{set_name}, relative noise ξ = {level}, with DFO-LS and NOMAD")
                extra = np.load(more / "histories.npz").files
                keys = [f[len("history_") :] for f in extra if f.startswith("history_")]
                table({**runs, **{NAMES.get(k, k): (more, k) for k in keys}})
            peer = {NAMES[k]: runs[NAMES[k]] for k in ("trfd_jax", PEERS[set_name])}
            print(f"\n{set_name}, relative noise ξ = {level}, f_L over the two only")
            table(peer)
            table(peer, informative_only=True)
        smooth = HERE / "smooth" / set_name
        if (HERE / set_name).exists() and smooth.exists():
            print(f"\n{set_name}, no noise")
            table(
                {
                    'trfd_jax, default options (noise_level="auto")': (HERE / set_name, "trfd_jax"),
                    "trfd_jax, noise_level=None": (smooth, "trfd_jax"),
                }
            )


if __name__ == "__main__":
    main()
