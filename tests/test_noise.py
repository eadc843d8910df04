"""ECnoise (trfd_jax._src.noise): the estimate against the true noise level."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trfd_jax._src.noise import NoiseEstimate, ecnoise

M = 8


def _line(x):
    # A smooth f of order 1 along the line, with curvature: its 4th differences at h = 1e-2
    # are about 1e-8, far below the noise levels tested except the smallest.
    return 1.0 + 0.5 * jnp.sin(3.0 * x) + x**2


@pytest.mark.parametrize("kind", ["uniform", "gaussian"])
@pytest.mark.parametrize("level", [1e-2, 1e-5, 1e-8])
def test_the_estimate_is_within_a_factor_3_of_the_true_level(kind, level):
    h = 1e-2 if level > 1e-6 else 1e-3
    t = 0.3 + h * jnp.arange(M + 1.0)
    keys = jax.random.split(jax.random.key(0), 200)

    def estimate(key):
        if kind == "uniform":  # uniform on [−√3ξ, √3ξ]: standard deviation ξ
            noise = jax.random.uniform(key, t.shape, minval=-1.0, maxval=1.0) * np.sqrt(3.0)
        else:
            noise = jax.random.normal(key, t.shape)
        return ecnoise(_line(t) + level * noise)

    noise, inform = jax.jit(jax.vmap(estimate))(keys)
    ok = np.asarray(inform) == NoiseEstimate.OK
    ratio = np.asarray(noise)[ok] / level
    assert ok.mean() >= 0.9, ok.mean()
    within = (ratio >= 1 / 3) & (ratio <= 3)
    assert within.mean() >= 0.9, (within.mean(), np.quantile(ratio, [0.05, 0.5, 0.95]))


def test_a_smooth_function_has_rounding_noise_only():
    t = 0.3 + 1e-3 * jnp.arange(M + 1.0)
    noise, inform = ecnoise(_line(t))
    assert int(inform) != NoiseEstimate.OK or float(noise) < 1e-14


def test_a_constant_function_says_the_step_is_too_small():
    noise, inform = ecnoise(jnp.full(M + 1, 2.0))
    assert int(inform) == NoiseEstimate.STEP_TOO_SMALL and float(noise) == 0.0


def test_a_function_varying_by_more_than_ten_percent_says_the_step_is_too_large():
    t = jnp.arange(M + 1.0)
    noise, inform = ecnoise(1.0 + t)
    assert int(inform) == NoiseEstimate.STEP_TOO_LARGE and float(noise) == 0.0


def test_too_few_values_is_a_value_error():
    with pytest.raises(ValueError, match="m \\+ 1 ≥ 4"):
        ecnoise(jnp.ones(3))
