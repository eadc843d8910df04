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

This module only estimates; the solver does not call it yet (issue 12).
"""

from __future__ import annotations

import enum

import jax
import jax.numpy as jnp

Array = jax.Array


class NoiseEstimate(enum.IntEnum):
    """How an ECnoise estimate ended (Moré & Wild's ``inform``)."""

    OK = 1
    STEP_TOO_SMALL = 2  # f takes too few distinct values along the line
    STEP_TOO_LARGE = 3  # f varies too much, or no level agreed


def ecnoise(values: Array) -> tuple[Array, Array]:
    """ε_f estimated from f at m + 1 equally spaced points on a line (m ≥ 3).

    Args:
        values: f(x + i·h·p) for i = 0, …, m, shape (m + 1,); every value finite.

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
    too_large = spread > 0.1

    # The difference table, one level per k = 1, …, m (lengths m, m − 1, …, 1).
    sigma, sign_change = [], []
    table, gamma = values, 1.0
    for k in range(1, m + 1):
        table = jnp.diff(table)
        gamma *= k / (2.0 * (2 * k - 1))  # γ_k = γ_{k−1}·k² / ((2k − 1)·2k), γ_0 = 1
        sigma.append(jnp.sqrt(gamma * jnp.mean(table * table)))
        sign_change.append((jnp.min(table) < 0) & (jnp.max(table) > 0))
    sigma, sign_change = jnp.stack(sigma), jnp.stack(sign_change)

    # First k (1-based, k ≤ m − 2) whose level agrees with the next two.
    windows = jnp.stack([sigma[:-2], sigma[1:-1], sigma[2:]])
    agree = (jnp.max(windows, axis=0) <= 4 * jnp.min(windows, axis=0)) & sign_change[:-2]
    found = jnp.any(agree) & ~too_large
    noise = jnp.where(found, sigma[jnp.argmax(agree)], jnp.zeros((), dtype))

    # No level: too few distinct values means h was too small for the noise to show.
    distinct = jnp.sum(jnp.diff(jnp.sort(values)) != 0) + 1
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
