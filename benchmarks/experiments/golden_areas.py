"""Golden histories recomputed against the stored ones: arrays that differ, and trfd_jax-only
data-profile areas (f_L the lower of the two final values) before -> after.  Run from the
repository root: python benchmarks/experiments/golden_areas.py (about 13 minutes)."""

import sys

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from tests import golden

new = golden.compute()
old = golden.stored()
bad = golden.differences(new, old)
print(f"{len(bad)} of {len(new)} arrays differ")
np.savez_compressed("golden_new.npz", **new)
# data-profile style comparison: per set/variant, share of runs whose history reaches
# f0 - (1 - tau)(f0 - fL) within k evaluations, averaged over k (area), with fL = min(old, new)
for s in golden.SETS:
    for v in golden.VARIANTS:
        keys = sorted({k.rsplit("/", 2)[1] for k in new if k.startswith(f"{s}/{v}/")}, key=int)
        line = f"{s:<14}{v:<16}"
        nf_diff = sum(int(new[f"{s}/{v}/{p}/nfev"]) != int(old[f"{s}/{v}/{p}/nfev"]) for p in keys)
        for tau in (1e-1, 1e-3, 1e-5, 1e-7):
            areas = []
            for data in (old, new):
                hits = []
                for p in keys:
                    ho, hn = old[f"{s}/{v}/{p}/history"], new[f"{s}/{v}/{p}/history"]
                    f0 = ho[0]
                    fl = min(ho.min(), hn.min())
                    h = data[f"{s}/{v}/{p}/history"]
                    ok = np.flatnonzero(h <= f0 - (1 - tau) * (f0 - fl))
                    hits.append(ok[0] + 1 if ok.size else np.inf)
                hits = np.asarray(hits, float)
                budget = max(len(old[f"{s}/{v}/{p}/history"]) for p in keys)
                grid = np.arange(1, budget + 1)
                areas.append(np.mean([(hits <= g).mean() for g in grid]))
            line += f"  tau={tau:.0e} {areas[0]:.3f}->{areas[1]:.3f}"
        print(line + f"  nfev differ {nf_diff}/{len(keys)}", flush=True)
