"""Data profiles and performance profiles from per-evaluation histories.

Definitions (Moré & Wild 2009; Dolan & Moré 2002):

* For problem p and solver s, h_{p,s}(t) is the best value of f after t evaluations,
  t = 1, …, B_p (a history of length B_p, the budget of p).
* f_L(p) is the lowest value any solver found on p within the budget (and f(x₀) if that
  is lower still).  Problem p is *solved* by s at tolerance τ after

      t_{p,s} = min{ t : f(x₀) − h_{p,s}(t) ≥ (1 − τ)(f(x₀) − f_L) }

  evaluations (the convergence test of Moré & Wild 2009, eq. 2.2), +inf if no t qualifies.
* The **data profile** of s is d_s(κ) = |{p : t_{p,s} ≤ κ (n_p + 1)}| / |P|: the share of
  problems solved within κ simplex gradients (n_p + 1 evaluations each).
* The **area** under a data profile is ∫₀^κ_max d_s(κ) dκ / κ_max with κ_max = 100 (the
  budget of both papers), i.e. normalised by the area of a solver that solves every
  problem at κ = 0, so that it lies in [0, 1].  Since d_s is a step function this is exact:
  area = mean over p of max(0, 1 − t_{p,s} / ((n_p + 1) κ_max)).
* The **performance profile** of s (Dolan & Moré 2002) is ρ_s(α) = |{p : r_{p,s} ≤ α}| / |P|
  with r_{p,s} = t_{p,s} / min_s t_{p,s}; r = +inf when s does not solve p (and for every
  solver on a problem no solver solves).

Conventions (also in the docstrings below):

* The test is written h(t) ≤ f_L + τ (f(x₀) − f_L), which is the same inequality.  When no
  solver improves on f(x₀) (f(x₀) = f_L) the right-hand side is f(x₀), so every solver is
  solved at its first evaluation whose value is ≤ f(x₀) — at t = 1 when its first point is
  x₀.  This is the convention of Moré & Wild's ``data_profile.m``: such a problem counts the
  same for every solver and does not change any comparison.
* Non-finite entries of a history (NaN, ±inf) are never credited: they are read as +inf,
  so they can neither solve a problem nor lower f_L.
* Histories need not be monotone (noisy runs store the noiseless value at the point a
  solver holds as best, which can go up); the first t that passes the test counts.

Everything here is pure NumPy, except the plotting function (matplotlib, Agg backend).

References:
    J. J. Moré and S. M. Wild, "Benchmarking derivative-free optimization algorithms",
    SIAM J. Optim. 20(1):172–191, 2009.
    E. D. Dolan and J. J. Moré, "Benchmarking optimization software with performance
    profiles", Math. Program. 91(2):201–213, 2002.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "KAPPA_MAX",
    "TOLERANCES",
    "area_table",
    "data_profile",
    "data_profile_area",
    "format_area_table",
    "lowest_values",
    "performance_profile",
    "performance_ratios",
    "plot_profiles",
    "sanitize",
    "solve_evaluations",
]

TOLERANCES: tuple[float, ...] = (1e-1, 1e-3, 1e-5, 1e-7)
"""The four tolerances τ of the papers' figures."""

KAPPA_MAX: float = 100.0
"""Right end of the data profiles' κ axis: 100 simplex gradients, the budget 100 (n + 1)."""


def sanitize(history: ArrayLike) -> np.ndarray:
    """A history as float64 with every non-finite entry (NaN, ±inf) replaced by +inf."""
    h = np.array(history, dtype=np.float64)
    h[~np.isfinite(h)] = np.inf
    return h


def lowest_values(histories: Sequence[ArrayLike], f0: ArrayLike) -> np.ndarray:
    """f_L for every problem: the lowest finite value in any solver's history, or f(x₀).

    Args:
        histories: one array per problem, shape (S, B_p): the S solvers' histories.
        f0: f(x₀) per problem, shape (P,).

    Returns:
        f_L, shape (P,).
    """
    f0 = np.asarray(f0, dtype=np.float64)
    return np.array([min(f0[p], np.min(sanitize(h))) for p, h in enumerate(histories)])


def solve_evaluations(
    histories: Sequence[ArrayLike], f0: ArrayLike, tau: float, f_low: ArrayLike | None = None
) -> np.ndarray:
    """t_{p,s}: evaluations each solver needs to solve each problem at tolerance τ.

    The convergence test of Moré & Wild (2009, eq. 2.2), f(x₀) − h(t) ≥ (1 − τ)(f(x₀) − f_L),
    written h(t) ≤ f_L + τ (f(x₀) − f_L).  See the module docstring for the conventions when
    f(x₀) = f_L and for non-finite values.

    Args:
        histories: one array per problem p, shape (S, B_p): best value after each of the B_p
            evaluations, one row per solver.
        f0: f(x₀) per problem, shape (P,).
        tau: the tolerance τ ∈ (0, 1).
        f_low: f_L per problem; default :func:`lowest_values`.

    Returns:
        shape (P, S), float: t_{p,s} ∈ {1, …, B_p}, or +inf where s does not solve p.
    """
    f0 = np.asarray(f0, dtype=np.float64)
    f_low = lowest_values(histories, f0) if f_low is None else np.asarray(f_low, np.float64)
    rows = []
    for p, history in enumerate(histories):
        h = np.atleast_2d(sanitize(history))
        cutoff = f_low[p] + tau * (f0[p] - f_low[p])
        passed = h <= cutoff
        first = np.argmax(passed, axis=1) + 1.0
        rows.append(np.where(passed.any(axis=1), first, np.inf))
    return np.array(rows, dtype=np.float64)


def data_profile(evaluations: ArrayLike, n: ArrayLike, kappa: ArrayLike) -> np.ndarray:
    """d_s(κ) = share of problems with t_{p,s} ≤ κ (n_p + 1) (Moré & Wild 2009, eq. 2.4).

    Args:
        evaluations: t_{p,s}, shape (P, S) (+inf: not solved), from
            :func:`solve_evaluations`.
        n: problem dimensions n_p, shape (P,).
        kappa: the κ values (simplex gradients), shape (K,).

    Returns:
        shape (K, S), values in [0, 1].
    """
    gradients = np.asarray(evaluations, np.float64) / (np.asarray(n, np.float64)[:, None] + 1)
    kappa = np.asarray(kappa, np.float64)
    return np.mean(gradients[None, :, :] <= kappa[:, None, None], axis=1)


def data_profile_area(
    evaluations: ArrayLike, n: ArrayLike, kappa_max: float = KAPPA_MAX
) -> np.ndarray:
    """Area under each data profile on [0, κ_max], divided by κ_max (so in [0, 1]).

    d_s is a step function that jumps by 1/|P| at κ = t_{p,s} / (n_p + 1), so the integral
    is exact: area_s = mean_p max(0, 1 − t_{p,s} / ((n_p + 1) κ_max)).  1 would mean every
    problem solved at κ = 0; a problem solved after exactly κ_max simplex gradients, or not
    at all, adds 0.

    Args:
        evaluations: t_{p,s}, shape (P, S).
        n: problem dimensions, shape (P,).
        kappa_max: right end of the κ axis (100 simplex gradients by default).

    Returns:
        shape (S,).
    """
    gradients = np.asarray(evaluations, np.float64) / (np.asarray(n, np.float64)[:, None] + 1)
    return np.mean(np.clip(1.0 - gradients / kappa_max, 0.0, 1.0), axis=0)


def performance_ratios(evaluations: ArrayLike) -> np.ndarray:
    """r_{p,s} = t_{p,s} / min_s t_{p,s} (Dolan & Moré 2002).

    +inf where s does not solve p, and for every solver on a problem that no solver solves.

    Args:
        evaluations: t_{p,s}, shape (P, S).

    Returns:
        shape (P, S), values in [1, +inf].
    """
    t = np.asarray(evaluations, np.float64)
    best = np.min(t, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        ratios = t / best
    return np.where(np.isfinite(best) & np.isfinite(t), ratios, np.inf)


def performance_profile(ratios: ArrayLike, alpha: ArrayLike) -> np.ndarray:
    """ρ_s(α) = share of problems with r_{p,s} ≤ α (Dolan & Moré 2002).

    Args:
        ratios: r_{p,s}, shape (P, S), from :func:`performance_ratios`.
        alpha: the α values (≥ 1), shape (K,).

    Returns:
        shape (K, S), values in [0, 1].
    """
    r = np.asarray(ratios, np.float64)
    alpha = np.asarray(alpha, np.float64)
    return np.mean(r[None, :, :] <= alpha[:, None, None], axis=1)


def area_table(
    histories: Sequence[ArrayLike],
    f0: ArrayLike,
    n: ArrayLike,
    tolerances: Sequence[float] = TOLERANCES,
    kappa_max: float = KAPPA_MAX,
) -> np.ndarray:
    """Data-profile areas for every tolerance and solver, shape (len(tolerances), S)."""
    f_low = lowest_values(histories, f0)
    return np.array(
        [
            data_profile_area(solve_evaluations(histories, f0, tau, f_low), n, kappa_max)
            for tau in tolerances
        ]
    )


def format_area_table(
    areas: ArrayLike, solvers: Sequence[str], tolerances: Sequence[float] = TOLERANCES
) -> str:
    """A Markdown table of data-profile areas: one row per solver, one column per τ.

    The best area in each column is in bold.
    """
    areas = np.asarray(areas, np.float64)
    header = "| solver | " + " | ".join(f"τ = {tau:.0e}" for tau in tolerances) + " | mean |"
    lines = [header, "|---" * (len(tolerances) + 2) + "|"]
    best = areas.max(axis=1) if areas.size else []
    for s, name in enumerate(solvers):
        cells = [
            f"**{areas[k, s]:.3f}**" if areas[k, s] == best[k] else f"{areas[k, s]:.3f}"
            for k in range(len(tolerances))
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {areas[:, s].mean():.3f} |")
    return "\n".join(lines) + "\n"


def plot_profiles(
    histories: Sequence[ArrayLike],
    f0: ArrayLike,
    n: ArrayLike,
    solvers: Sequence[str],
    path: str | Path,
    *,
    kind: str = "data",
    tolerances: Sequence[float] = TOLERANCES,
    kappa_max: float = KAPPA_MAX,
    title: str = "",
) -> Path:
    """Draw data or performance profiles to a PNG, one panel per tolerance τ.

    Data profiles (Moré & Wild 2009, Fig. 3–7 style): d_s(κ) against κ ∈ [0, κ_max]
    simplex gradients, with each solver's area in the legend.  Performance profiles (Dolan &
    Moré 2002): ρ_s(α) against α on a log₂ axis, from 1 to the largest finite ratio.  The
    first solver is drawn with a thicker line.

    Args:
        histories: one array per problem, shape (S, B_p).
        f0: f(x₀) per problem, shape (P,).
        n: problem dimensions, shape (P,).
        solvers: the S solver names (legend).
        path: output PNG file.
        kind: ``"data"`` or ``"performance"``.
        tolerances: one panel per τ.
        kappa_max: right end of the κ axis of data profiles.
        title: figure title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if kind not in ("data", "performance"):
        raise ValueError(f"kind must be 'data' or 'performance', got {kind!r}")
    f_low = lowest_values(histories, f0)
    cols = min(2, len(tolerances))
    rows = -(-len(tolerances) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.0 * cols, 4.4 * rows), squeeze=False)
    styles = ["-", "--", "-.", ":"]
    for k, tau in enumerate(tolerances):
        ax = axes.flat[k]
        t = solve_evaluations(histories, f0, tau, f_low)
        if kind == "data":
            x = np.linspace(0.0, kappa_max, 2001)
            y = data_profile(t, n, x)
            areas = data_profile_area(t, n, kappa_max)
            labels = [f"{s} ({a:.3f})" for s, a in zip(solvers, areas, strict=True)]
            ax.set_xlim(0, kappa_max)
            ax.set_xlabel("κ (simplex gradients, n + 1 evaluations)")
            ax.set_ylabel("d_s(κ)")
        else:
            r = performance_ratios(t)
            finite = r[np.isfinite(r)]
            top = max(2.0, 1.05 * float(finite.max())) if finite.size else 2.0
            x = np.geomspace(1.0, top, 2001)
            y = performance_profile(r, x)
            labels = list(solvers)
            ax.set_xscale("log", base=2)
            ax.set_xlim(1.0, top)
            ax.set_xlabel("α (performance ratio)")
            ax.set_ylabel("ρ_s(α)")
        for s, label in enumerate(labels):
            ax.plot(
                x,
                y[:, s],
                drawstyle="steps-post",
                linestyle=styles[(s // 10) % 4],
                linewidth=2.6 if s == 0 else 1.5,
                label=label,
                zorder=3 if s == 0 else 2,
            )
        ax.set_ylim(0, 1.02)
        ax.set_title(f"τ = {tau:.0e}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    for ax in list(axes.flat)[len(tolerances) :]:
        ax.set_visible(False)
    name = "Data profiles" if kind == "data" else "Performance profiles"
    fig.suptitle(f"{name}{': ' + title if title else ''} ({len(histories)} problems)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
