"""Noise level of f from a few values along a line: ECnoise (Moré & Wild 2011).

Moré & Wild, "Estimating computational noise", SIAM J. Sci. Comput. 33(3), 2011, §3–4.
For values fᵢ = f(x + i·h·p), i = 0, …, m, with i.i.d. noise εᵢ of standard deviation ε_f,
the k-th forward difference Δᵏεᵢ has variance C(2k, k)·ε_f², so

    σ_k = √(γ_k · mean_i (Δᵏfᵢ)²),    γ_k = (k!)² / (2k)!,

estimates ε_f once the smooth part of Δᵏf (about hᵏ·fᵏ⁾) is below the noise.  The level
accepted is the first σ_k, k ≤ m − 2, that agrees with σ_{k+1} and σ_{k+2} within a factor
4 and whose differences change sign (noise, not a smooth trend).  Otherwise the estimate
reports why: h too small (too few distinct values to tell noise apart) or h too large (f
varies by more than 10% along the line, or no level agreed).

In the solver (``Options.noise_level``): a known or estimated ε_f sets a floor under the
finite-difference step τ — the interval that balances truncation against noise (Gill,
Murray, Saunders & Wright 1983): 2 √(ε_f / L̂) for forward differences, (3 ε_f / L̂)^{1/3}
for central ones.  L̂, the curvature of f near x, is measured once, together with ε_f:
second differences f(x + 2w) − 2 f(x + w) + f(x) along two steps w of length about
max(1, ‖x‖∞)/10 (:func:`curvature_points`, :func:`curvature_scale`) — after Moré &
Wild, "Estimating derivatives of noisy simulations", ACM TOMS 38(3), 2012, who estimate
f'' the same way before choosing h.  (The curvature, not |f|, sets the balance: on the
noisy Moré–Wild problems, L̂ = max(1, |f|) made τ 30× too small where |f| ≫ f'' and
too large where f'' ≫ 1.)  The probe sees the curvature along two directions only; as the
quasi-Newton H_k learns it from reliable pairs, L̂ is raised to tr(H_k)/n and the floor,
with τ when τ sits on it, lowered to match (:func:`learned_floor`).  The noise level also
makes the ratio test noise-tolerant,

    ρ_k = (f(x_k) − f(x_k + d_k) + 2 ε_f) / (m_k(0) − m_k(d_k) + 2 ε_f)

(Sun & Nocedal, "A trust region method for noisy unconstrained optimization", Math.
Program. 2023).  With τ at the floor, a failed step whose sought decrease is below the
noise, or which would have halved τ (type II: Δ_{k+1} < τ √n, a step shorter than the
stencil), shows that the forward stencil resolves no more.  Forward differences then turn
into central ones, whose error O(ε_f/τ + τ²) allows a more accurate gradient (the
classical switch near a solution: Gill, Murray & Wright, *Practical Optimization*, §8.6),
at τ ≥ (3 ε_f / L̂)^{1/3}; when a failure with central differences shows both signs, the
run stops (``Status.NOISE_FLOOR``), so Δ is not driven far below τ √n.  With
``noise_level="auto"`` the estimate is made when the run shows evidence of noise — two
probe points at x₀ (:func:`probe_points`, :func:`probe_evidence`), or a recomputed
gradient that moved erratically (:func:`erratic`) — before the next gradient, from values
at :data:`POINTS` new points on a line through x_k inside the unrelaxable bounds.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax._src import linalg, stopping, subproblem
from trfd_jax._src.model import initial_hessian
from trfd_jax._src.state import StepKind, select

Array = jax.Array


class NoiseEstimate(enum.IntEnum):
    """How an ECnoise estimate ended (Moré & Wild's ``inform``)."""

    OK = 1
    STEP_TOO_SMALL = 2  # f takes too few distinct values along the line
    STEP_TOO_LARGE = 3  # f varies too much, or no level agreed


def ecnoise(values: Array, max_spread: float | None = 0.1) -> tuple[Array, Array]:
    """ε_f estimated from f at m + 1 equally spaced points on a line (m ≥ 3).

    Args:
        values: f(x + i·h·p) for i = 0, …, m, shape (m + 1,); every value finite.
        max_spread: h is too large when (max f − min f) / max |f| exceeds this (Moré &
            Wild's test); None leaves the test out (the solver does, as near f = 0 noise
            alone spreads the values by more than any fraction of |f|).

    Returns:
        ``(noise, inform)``: the estimated standard deviation of the noise (0 unless
        ``inform`` is :attr:`NoiseEstimate.OK`) and a :class:`NoiseEstimate` code.  A pure
        function of ``values``: works under ``jit`` and ``vmap``.
    """
    values = jnp.asarray(values)
    m = values.shape[0] - 1
    if values.ndim != 1 or m < 3:
        raise ValueError(f"ecnoise needs m + 1 ≥ 4 values in a vector, got shape {values.shape}.")
    dtype = values.dtype
    f_min, f_max = jnp.min(values), jnp.max(values)
    spread = (f_max - f_min) / jnp.maximum(
        jnp.maximum(jnp.abs(f_max), jnp.abs(f_min)), jnp.finfo(dtype).tiny
    )
    too_large = jnp.asarray(False) if max_spread is None else spread > max_spread

    # The difference table, level k = 1, …, m in row k − 1 (length m + 1 − k, padded with
    # zeros), reduced once for all levels: a reduction per level compiles to a kernel per
    # level, in every solver's program.  Differences, not a product with binomial weights,
    # so that the table is the same to the bit under vmap.
    table, rows = values, []
    for k in range(1, m + 1):
        table = jnp.diff(table)
        rows.append(jnp.pad(table, (0, k - 1)))
    table = jnp.stack(rows)  # (m, m)
    member = np.arange(m)[None, :] < np.arange(m, 0, -1)[:, None]  # the unpadded entries
    counts = np.arange(m, 0, -1)  # m + 1 − k differences at level k
    gamma = np.cumprod([k / (2.0 * (2 * k - 1)) for k in range(1, m + 1)])  # (k!)²/(2k)!
    squares = jnp.sum(table * table, axis=1)
    sigma = jnp.sqrt(jnp.asarray(gamma / counts, dtype) * squares)
    lowest = jnp.min(jnp.where(member, table, jnp.inf), axis=1)
    highest = jnp.max(jnp.where(member, table, -jnp.inf), axis=1)
    sign_change = (lowest < 0) & (highest > 0)

    # First k (1-based, k ≤ m − 2) whose level agrees with the next two.
    windows = jnp.stack([sigma[:-2], sigma[1:-1], sigma[2:]])
    agree = (jnp.max(windows, axis=0) <= 4 * jnp.min(windows, axis=0)) & sign_change[:-2]
    found = jnp.any(agree) & ~too_large
    noise = jnp.where(found, sigma[jnp.argmax(agree)], jnp.zeros((), dtype))

    # No level: too few distinct values means h was too small for the noise to show.  (A
    # value is a repeat when an earlier one equals it; no sort, which compiles slowly.)
    earlier = np.tril(np.ones((m + 1, m + 1), bool), -1)
    repeat = jnp.any((values[:, None] == values[None, :]) & earlier, axis=1)
    distinct = (m + 1) - jnp.sum(repeat)
    inform = jnp.where(
        found,
        NoiseEstimate.OK,
        jnp.where(
            ~too_large & (distinct <= m // 2 + 1),
            NoiseEstimate.STEP_TOO_SMALL,
            NoiseEstimate.STEP_TOO_LARGE,
        ),
    )
    return noise, inform.astype(jnp.int32)


# ---------------------------------------------------------------------------------------
# In the solver
# ---------------------------------------------------------------------------------------

POINTS = 8
"""m: an estimate evaluates f at m new points x + (i/m) v, i = 1, …, m (x itself is known)."""
MAX_TRIES = 2
"""Estimates a run makes at most (an inconclusive one may be repeated at the next
evidence); a conclusive one ends the checks."""
LINE_STEP = 1e-3
"""h: the spacing of the points along each coordinate j, relative to max(1, |x_j|)."""
LINE_SHRINK = 1e-2
"""An inconclusive estimate is tried again (up to MAX_TRIES) with h this much smaller: f
varied too much along the line (a badly scaled f, such as Meyer's)."""
ROUNDING = 100.0
"""An estimate below ROUNDING · u · max(1, |f|) is rounding error: no noise to handle."""


QUIET_STEPS = 3
"""With the last stencil (central differences at their floor), this many iterations in a
row whose sought decrease was below ε_f end the run (``NOISE_FLOOR``): the model expects
nothing the noise would not hide."""


def fd_floor(scheme: str, noise: Array, curvature: Array) -> Array:
    """The least τ that noise of level ε_f = ``noise`` allows: 2 √(ε_f / L̂) (forward) or
    (3 ε_f / L̂)^{1/3} (central, with L̂ standing in for the third derivative too), L̂ =
    ``curvature`` > 0; 0 when ε_f = 0."""
    if scheme == "central":
        return jnp.cbrt(3.0 * noise / curvature)
    return 2.0 * jnp.sqrt(noise / curvature)


SCALE_MAX = 1000.0
"""The most a coordinate's central step may exceed τ (``Region.fd_scale``)."""

FLOOR_RETRIES = 1
"""How many times the noise floor is retried with Δ restored before it ends the run
(``StepKind.FLOOR_RETRY``)."""

RESCALE_FACTOR = 4.0
"""H_jj is rescaled to the measured L_j when they differ by more than this factor."""


def coordinate_scales(
    region: Any, f_x: Array, values: Array, x: Array, points: Array
) -> tuple[Array, Array]:
    """Per-coordinate factors s_j ∈ [1, SCALE_MAX] on τ for the central stencil, from its
    own values (no extra evaluation).

    One τ serves every coordinate, and the noise floor sets it from L̂, the largest
    curvature measured.  Along a coordinate where f is far flatter, the central quotient's
    noise error ε_f / τ can exceed the derivative itself (weights 1 to 1e6: the flattest
    coordinate was left at 1.24 instead of 1 on some noise draws).  The second difference
    D_j = 2 (h⁻ f⁺ + h⁺ f⁻ − (h⁺ + h⁻) f) / (h⁺ h⁻ (h⁺ + h⁻)) measures the curvature along
    e_j up to its noise 4 ε_f / (h⁺ h⁻); the step balancing noise and truncation there is
    (3 ε_f / L_j)^{1/3} with L_j = max(|D_j|, 4 ε_f / (h⁺ h⁻)), the rule of
    :func:`fd_floor` per coordinate.  Where D_j is all noise, the step grows by
    (0.75 / h)^{1/3} per gradient until the curvature shows.  A coordinate without both
    points (a bound) or with a non-finite value keeps its factor.

    Returns:
        The factors s_j, and the curvatures L_j where the second difference stands above
        its noise (else 0): :func:`rescaled_hessian` uses them.
    """
    n = x.shape[0]
    h_plus = jnp.diagonal(points[:n]) - x
    h_minus = x - jnp.diagonal(points[n:])
    f_plus, f_minus = values[:n], values[n : 2 * n]
    both = (h_plus > 0) & (h_minus > 0) & jnp.isfinite(f_plus) & jnp.isfinite(f_minus)
    h_plus, h_minus = jnp.where(both, h_plus, 1.0), jnp.where(both, h_minus, 1.0)
    span = h_plus * h_minus
    second = (
        2.0
        * (h_minus * f_plus + h_plus * f_minus - (h_plus + h_minus) * f_x)
        / (span * (h_plus + h_minus))
    )
    second = jnp.abs(jnp.where(both, second, 0.0))
    noise_bound = 4.0 * region.noise / span
    curvature = jnp.maximum(second, noise_bound)
    best = jnp.cbrt(3.0 * region.noise / jnp.where(curvature > 0, curvature, 1.0))
    scale = jnp.clip(best / region.fd_step, 1.0, SCALE_MAX)
    known = both & (region.noise > 0)
    # L_j is kept where the second difference stands above its noise (0: not measured).
    measured = jnp.where(second > noise_bound, second, 0.0)
    return (
        jnp.where(known, scale, region.fd_scale),
        jnp.where(known, measured, region.axis_curvature),
    )


def rescaled_hessian(hessian: Array, curvature: Array) -> Array:
    """H rescaled to the measured axis curvatures: D H D with d_j = √(L_j / H_jj) where the
    central stencil measured L_j (> 0) and H_jj is off by more than RESCALE_FACTOR, else 1.

    H_jj is f's second derivative along e_j, which the second difference L_j measures; a
    BFGS matrix built from noisy gradients can hold one far too large along a flat axis,
    where the model then seeks less than ε_f while f still falls (weights 1 to 1e6: 13 of
    40 noise draws stopped above f = 1e-3).  The congruence keeps H's coupling and its
    definiteness, and sets H_jj = L_j where it acts.
    """
    diagonal = jnp.diagonal(hessian)
    ratio = curvature / jnp.where(diagonal > 0, diagonal, 1.0)
    off = (curvature > 0) & (diagonal > 0)
    off = off & ((ratio > RESCALE_FACTOR) | (ratio * RESCALE_FACTOR < 1.0))
    d = jnp.where(off, jnp.sqrt(jnp.where(off, ratio, 1.0)), 1.0)
    return linalg.as_rounded(d[:, None] * hessian) * d[None, :]


def gradient_error(region: Any, n: int) -> Array:
    """A bound on ‖g_k − ∇f(x_k)‖ from the noise and the truncation: √n (2 ε_f / τ + L̂ τ / 2)
    for forward differences (Lemma 2.4 plus the noise), √n (ε_f / τ + L̂ τ² / 6) for
    central ones (L̂ standing in for the third derivative)."""
    tau, level, scale = region.fd_step, region.noise, region.curvature
    forward = 2.0 * level / tau + 0.5 * scale * tau
    central = level / tau + scale * tau * tau / 6.0
    return math.sqrt(n) * jnp.where(region.central, central, forward)


def learned_floor(scheme: str, region: Any, hessian: Array, learned: Array) -> Any:
    """The region with L̂ raised to the curvature H_k has learned: tr(H_k)/n, the mean
    second derivative along the coordinate directions, is what the finite differences'
    truncation error sums over (Σ_j H_jj τ / 2 against Σ_j 2 ε_f / τ is balanced at
    τ = 2 √(ε_f n / tr H)).  The probe measures L̂ along two directions only, where it can
    be far below it (Chebyquad: L̂ = 6.5, H_jj up to 100).  ``learned``: H_k was just
    updated from a reliable pair.  τ at its floor follows the lower floor.
    """
    n = hessian.shape[0]
    mean = jnp.trace(hessian) / n
    curvature = jnp.where(learned & (mean > region.curvature), mean, region.curvature)
    curvature = curvature.astype(region.curvature.dtype)
    on = (region.noise > 0) & (curvature > region.curvature)
    floor = jnp.where(
        region.central,
        fd_floor("central", region.noise, jnp.where(on, curvature, 1.0)),
        fd_floor(scheme, region.noise, jnp.where(on, curvature, 1.0)),
    ).astype(region.fd_floor.dtype)
    at_floor = region.fd_step <= region.fd_floor
    return region._replace(
        curvature=jnp.where(on, curvature, region.curvature),
        fd_floor=jnp.where(on, floor, region.fd_floor),
        fd_step=jnp.where(on & at_floor, floor, region.fd_step),
    )


def reliable_pair(region: Any, s: Array, y: Array) -> Array:
    """Whether a quasi-Newton pair (s, y) carries curvature, not noise: both gradients in
    y = g_k − g_prev err by up to :func:`gradient_error`, so y is trusted only when it is
    larger than twice their sum, and sᵀy > 0 (a negative curvature seen through noise is
    more likely noise).  Always true without noise (ε_f = 0)."""
    bound = 4.0 * gradient_error(region, s.shape[0])
    signal = (linalg.norm(y) > bound) & (linalg.dot(s, y) > 0)
    return (region.noise == 0) | signal


CURVATURE_STEP = 0.5
"""c in the curvature probe's step s = c (ε_f / max(1, |f|))^{1/4} max(1, ‖x‖∞): the step
at which a second derivative of order |f| stands out of the noise by about 16 (Moré & Wild
2012 take h ∝ ε_f^{1/4} for the same reason); ξ = 1e-3 relative noise gives s ≈ 0.09,
1e-5 gives 0.03 (of max(1, ‖x‖∞))."""
CURVATURE_STEP_RANGE = (1e-3, 0.3)
"""s / max(1, ‖x‖∞) is kept in this range."""
CURVATURE_NOISE = 4.0
"""A second difference below CURVATURE_NOISE · ε_f is noise: L̂ is then taken as
CURVATURE_NOISE · ε_f / ‖w‖², so that τ = 2 √(ε_f / L̂) is at most the probe's ‖w‖."""


def _magnitude(f: Array) -> Array:
    """max(1, |f|), the scale of f the noise is relative to; 1 where f is not finite."""
    return jnp.where(jnp.isfinite(f), jnp.maximum(1.0, jnp.abs(f)), 1.0)


def curvature_count(n: int) -> int:
    """How many points the curvature probe evaluates: two per direction, two directions
    (the odd- and the even-numbered coordinates; one when n = 1)."""
    return 2 if n == 1 else 4


def curvature_points(constraint: Any, x: Array, f: Array, noise: Array) -> tuple[Array, Array]:
    """The probe's points x + w, x + 2w for w = w⊙m over two disjoint coordinate masks m.

    w are the signed steps of length s (:data:`CURVATURE_STEP`, from the noise level
    ``noise`` — known, or a rough value from the evidence) the feasible set allows towards
    its farther side (as the finite-difference steps, §3.4), halved from 2s so that x + 2w
    stays inside unrelaxable bounds.  Two directions, not one: along (1, …, 1) the
    off-diagonal curvature can cancel the diagonal.

    Returns:
        The points, shape (:func:`curvature_count`, n), and ‖w‖ per direction.
    """
    n = x.shape[0]
    scale = _magnitude(f)
    relative = CURVATURE_STEP * jnp.sqrt(jnp.sqrt(noise / scale))
    relative = jnp.clip(relative, *CURVATURE_STEP_RANGE)
    s = relative * jnp.maximum(1.0, jnp.abs(x))  # per coordinate, as badly scaled x need
    w = 2.0 * s if constraint is None else constraint.fd_steps(x, 2.0 * s)
    w = 0.5 * w
    odd = jnp.arange(n) % 2 == 0
    masks = [odd] if n == 1 else [odd, ~odd]
    directions = jnp.stack([jnp.where(m, w, 0.0) for m in masks])
    points = jnp.concatenate([x + directions, x + 2.0 * directions])
    return points, jax.vmap(linalg.norm)(directions)


def curvature_scale(f: Array, values: Array, lengths: Array, noise: Array) -> Array:
    """L̂ from the probe's values (:func:`curvature_points` order: all x + w, then all
    x + 2w): the largest |f(x + 2w) − 2 f(x + w) + f(x)| / ‖w‖² over the directions, each
    second difference taken as at least CURVATURE_NOISE · ε_f (below it, noise).  A
    direction of length 0 (every variable fixed) or with a non-finite value is left out;
    with none left, max(1, |f|), the scale of a well-scaled f."""
    k = lengths.shape[0]
    second = values[k:] - 2.0 * values[:k] + f
    usable = jnp.isfinite(second) & (lengths > 0)
    size = jnp.maximum(jnp.abs(second), CURVATURE_NOISE * noise)
    ratios = jnp.where(usable, size / jnp.where(usable, lengths * lengths, 1.0), 0.0)
    fallback = _magnitude(f)
    tiny = jnp.finfo(ratios.dtype).tiny
    return jnp.where(jnp.any(usable), jnp.maximum(jnp.max(ratios), tiny), fallback)


def erratic(g_before: Array, g_after: Array, fd_step: Array) -> Array:
    """Evidence of noise: the gradient at the same x, recomputed with half the step τ,
    moved by more than half its size.  Smooth truncation error changes it by O(L τ); noise
    of level ε_f by O(ε_f / τ), which grows as τ shrinks.

    Returns:
        A rough ε_f where there is evidence, else 0: each entry of the change is about
        ε_f (2/τ + 4/τ) in size, so ε_f ≈ ‖Δg‖ τ / (6 √n).
    """
    change = linalg.norm(g_after - g_before)
    size = jnp.maximum(linalg.norm(g_before), linalg.norm(g_after))
    evidence = jnp.all(jnp.isfinite(g_after)) & (change > 0.5 * size)
    hint = change * fd_step / (6.0 * math.sqrt(g_after.shape[0]))
    return jnp.where(evidence, hint, 0.0)


PROBE_FRACTION = 1e-3
"""The near probe point sits at this fraction of the far one's step."""
PROBE_COUNT = 2
"""Evaluations an ``"auto"`` run spends at x₀ on the evidence of noise."""
PROBE_RATIO = 0.01
"""The probe is evidence of noise when the near change exceeds this fraction of the far
one: PROBE_FRACTION (1/1000) or less for a smooth f.  Noise makes both changes differences
of two noise values; the near one falls below 1/100 of the far one by chance in under 1% of
runs (0.6% for uniform, Gaussian noise), where 1/10 missed the noise in 6%."""
PROBE_ROUNDING = 1e3
"""The far change must exceed PROBE_ROUNDING · u · max(1, |f|): the rounding error of the
near change (a few u · |f|, up to some 10 u · |f|) then stays below PROBE_RATIO of it."""


def probe_points(constraint: Any, x: Array, fd_step: Array) -> Array:
    """Two points on the first finite-difference segment from x₀: x + (h/2) e₁ (h the
    first forward-difference step, §3.4, so inside any box the stencil respects; half of
    it, so that the gradient does not evaluate the same point again) and
    x + (h/2000) e₁.  Shape (PROBE_COUNT, n)."""
    h = constraint.fd_steps(x, fd_step)[0] if constraint is not None else fd_step
    step = jnp.zeros_like(x).at[0].set(0.5 * h)
    return jnp.stack([x + step, x + PROBE_FRACTION * step])


def probe_evidence(f: Array, values: Array, probed: Array) -> Array:
    """Evidence of noise from :func:`probe_points`: a smooth f changes by about δ / 1000
    over the near step, where δ = f(far) − f(x); noise changes it by as much as δ itself.
    Evidence: the near change exceeds δ / 100 (``PROBE_RATIO``), with δ well above
    rounding error (``PROBE_ROUNDING``).

    Returns:
        A rough ε_f where there is evidence (the near change, a difference of two noise
        values, over √2), else 0.
    """
    delta, change = values[0] - f, values[1] - f
    rounding = PROBE_ROUNDING * jnp.finfo(f.dtype).eps * jnp.maximum(1.0, jnp.abs(f))
    finite = jnp.isfinite(delta) & jnp.isfinite(change)
    evidence = probed & finite & (jnp.abs(delta) > rounding)
    evidence = evidence & (jnp.abs(change) > PROBE_RATIO * jnp.abs(delta))
    return jnp.where(evidence, jnp.abs(change) / math.sqrt(2.0), 0.0)


def line_points(constraint: Any, x: Array, tries: Array) -> Array:
    """The m points x + (i/m) v, i = 1, …, m: v_j = m h_j, h_j = LINE_STEP ·
    LINE_SHRINK^tries · max(1, |x_j|), or the steps of that length the feasible set allows
    (inside an unrelaxable box: towards the farther bound, shortened to fit, none along a
    fixed variable), so every point is feasible."""
    shrink = jnp.asarray(LINE_SHRINK, x.dtype) ** tries.astype(x.dtype)
    h = LINE_STEP * shrink * jnp.maximum(1.0, jnp.abs(x))
    span = POINTS * h
    v = jnp.full_like(x, span) if constraint is None else constraint.fd_steps(x, span)
    fractions = jnp.arange(1, POINTS + 1, dtype=x.dtype) / POINTS
    return x + fractions[:, None] * v[None, :]


def estimate_due(problem: Any, state: Any, running: Array) -> Array:
    """Whether this iteration estimates ε_f in place of its gradient: a gradient is due,
    there is evidence of noise not yet estimated (``Options.noise_level="auto"``), and the
    estimate leaves room in the budget for the iteration after it."""
    region = state.region
    count = POINTS + curvature_count(state.iterate.x.shape[0])
    due = running & region.needs_gradient & (region.noise_hint > 0)
    due = due & (region.noise_tries < MAX_TRIES)
    return due & stopping.optional_evaluations_fit(problem, state, count)


def estimation_points(problem: Any, state: Any) -> tuple[Array, Array]:
    """The points of an estimate at x_k: the ECnoise line (:func:`line_points`), then the
    curvature probe (:func:`curvature_points`); and the probe's step lengths."""
    x, f, region = state.iterate.x, state.iterate.f, state.region
    probe, lengths = curvature_points(problem.constraint, x, f, region.noise_hint)
    line = line_points(problem.constraint, x, region.noise_tries)
    return jnp.concatenate([line, probe]), lengths


def apply_estimate(problem: Any, state: Any, values: Array, lengths: Array) -> Any:
    """The iteration that estimated ε_f (ECnoise) and the curvature L̂ from f at
    :func:`estimation_points` (``values``); its gradient is computed next iteration.

    A conclusive estimate above rounding sets ε_f and τ = τ's floor 2 √(ε_f / L̂) (raises
    Δ to at least 2 τ √n, as Algorithm 1 needs τ √n ≤ Δ) and drops the Hessian learned
    from noisy gradients.  A conclusive one (noise or rounding) ends the estimates; an
    inconclusive one keeps the evidence, and the next gradient tries again.
    """
    x, f, region = state.iterate.x, state.iterate.f, state.region
    n, dtype = x.shape[0], x.dtype
    line_values = jnp.concatenate([f[None], values[:POINTS]])
    finite = jnp.all(jnp.isfinite(line_values))
    level, inform = ecnoise(jnp.where(finite, line_values, 0.0), max_spread=None)
    rounding = ROUNDING * jnp.finfo(dtype).eps * jnp.maximum(1.0, jnp.abs(f))
    conclusive = finite & (inform == NoiseEstimate.OK)
    found = conclusive & (level > rounding)

    curvature = curvature_scale(f, values[POINTS:], lengths, level)
    floor = fd_floor(problem.options.fd_scheme, level, curvature).astype(dtype)
    fd_step = jnp.maximum(problem.parameters.fd_step, floor).astype(dtype)
    radius = jnp.maximum(region.radius, 2.0 * fd_step * jnp.sqrt(jnp.asarray(n, dtype)))
    hessian = initial_hessian(problem.options.hessian, n, dtype)
    eigenvalues, eigenvectors = subproblem.diagonal_eigh(problem, hessian)
    model = state.model._replace(
        hessian=hessian,
        eigenvalues=eigenvalues,
        eigenvectors=eigenvectors,
        has_prev=jnp.asarray(False),
    )
    checked = state._replace(
        region=region._replace(
            noise_tries=jnp.where(conclusive, MAX_TRIES, region.noise_tries + 1),
            noise_hint=jnp.where(conclusive, 0.0, region.noise_hint),
        ),
        counters=state.counters._replace(nit=state.counters.nit + 1),
        last_step=jnp.asarray(StepKind.NOISE_ESTIMATE, jnp.int32),
    )
    noisy = checked._replace(
        model=model,
        region=checked.region._replace(
            radius=radius,
            fd_step=fd_step,
            noise=level.astype(dtype),
            fd_floor=floor,
            curvature=curvature.astype(dtype),
        ),
    )
    return select(found, noisy, checked)
