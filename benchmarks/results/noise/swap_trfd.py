"""Put a new trfd_jax-only run in place of trfd_jax's part of the committed runs here.

    python benchmarks/results/noise/swap_trfd.py NEW [FOLDER ...]

NEW holds ``<set>[-noise-relative-<level>]/`` folders written by
``python -m trfd_jax.benchmarks run --solvers trfd_jax ...`` (the commands of
``combine.py`` with ``--solvers trfd_jax --out NEW``).  For each FOLDER (default: every
run folder here that NEW also has), trfd_jax's histories, per-problem records, wall time
and git state are replaced by NEW's; the peers' histories stay as committed — their code
and their seeded noise do not depend on trfd_jax, so re-running them gives the same
histories.  The folder's ``table.md`` and ``per_problem.csv`` are then rewritten (f_L over
every solver of the folder, as in a run of them all), and ``metadata.json`` records both
git states under ``merged``.
"""

import sys
from pathlib import Path

import numpy as np

from trfd_jax.benchmarks import runner

HERE = Path(__file__).resolve().parent
SOLVER = "trfd_jax"


def swap(folder: Path, new_folder: Path) -> None:
    base, new = runner.load(folder), runner.load(new_folder)
    if new.solvers != [SOLVER]:
        raise ValueError(f"{new_folder} should hold a {SOLVER}-only run, not {new.solvers}")
    for field in ("n", "budget"):
        if not np.array_equal(getattr(base, field), getattr(new, field)):
            raise ValueError(f"{folder} and {new_folder} differ in {field}")
    # f(x₀) is computed in NumPy, whose last bit may differ between machines; the folder
    # keeps its own.
    if not np.allclose(base.f0, new.f0, rtol=1e-14, atol=0.0):
        raise ValueError(f"{folder} and {new_folder} differ in f0")
    if base.problems != new.problems or base.metadata["noise"] != new.metadata["noise"]:
        raise ValueError(f"{folder} and {new_folder} are not runs of the same problems")
    base.histories[SOLVER] = new.histories[SOLVER]
    meta = base.metadata
    previous = meta.get("merged", {}).get("peers_git", meta["git"])
    meta["runs"][SOLVER] = new.metadata["runs"][SOLVER]
    meta["wall_s"][SOLVER] = new.metadata["wall_s"][SOLVER]
    meta["overshoots"][SOLVER] = new.metadata["overshoots"][SOLVER]
    meta["trfd_jax_options"] = new.metadata["trfd_jax_options"]
    meta["versions"] = meta["versions"] | new.metadata["versions"]
    meta["git"] = new.metadata["git"]
    meta["merged"] = {
        SOLVER: {"git": new.metadata["git"], "machine": new.metadata["machine"]},
        "peers_git": previous,
        "note": f"{SOLVER} re-run alone and swapped in (swap_trfd.py); peers as committed",
    }
    base.save(folder)
    runner.report(base, folder, plots=False)


def main(new: str, folders: list[str]) -> None:
    new_root = Path(new)
    names = folders or sorted(
        p.name
        for p in HERE.iterdir()
        if (p / "histories.npz").exists() and (new_root / p.name).exists()
    )
    for name in names:
        print(f"== {name}")
        swap(HERE / name, new_root / name)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
