"""Tests for the Moré–Wild (2009) benchmark problems in ``trfd_jax.benchmarks.more_wild``."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from trfd_jax.benchmarks.more_wild import LeastSquaresProblem, more_wild_53  # noqa: E402

PROBLEMS = more_wild_53()
IDS = [f"p{p.index:02d}-{p.name}-n{p.n}-f{p.factor:g}" for p in PROBLEMS]


def _reference_points(prob: LeastSquaresProblem):
    n = prob.n
    return {
        "f_x0": prob.x0,
        "f_x0_box": np.clip(prob.x0, 0.1, 20.0),
        "f_xt": prob.x0 + 0.1 * np.arange(1, n + 1) / n,
    }


def test_table():
    assert len(PROBLEMS) == 53
    assert [p.index for p in PROBLEMS] == list(range(1, 54))
    assert sorted({p.nprob for p in PROBLEMS}) == list(range(1, 23))
    assert more_wild_53()[0] is PROBLEMS[0]  # cached
    assert len({hash(p) for p in PROBLEMS}) == 53


@pytest.mark.parametrize("prob", PROBLEMS, ids=IDS)
def test_reference_values(prob):
    assert prob.x0.shape == (prob.n,)
    assert prob.x0.dtype == np.float64
    points = _reference_points(prob)
    fs = jax.jit(jax.vmap(prob.objective))(jnp.asarray(np.stack(list(points.values()))))
    assert fs.dtype == jnp.float64
    for key, f in zip(points, fs.tolist(), strict=True):
        ref = getattr(prob, key)
        assert f == pytest.approx(ref, rel=1e-10), f"{key}: got {f!r}, expected {ref!r}"


@pytest.mark.parametrize("prob", PROBLEMS, ids=IDS)
def test_plain_call_matches_jit_vmap(prob):
    xs = np.stack(list(_reference_points(prob).values()))  # (3, n)
    plain = [prob.residuals(x) for x in xs]  # eager, on NumPy input
    assert all(r.shape == (prob.m,) and r.dtype == jnp.float64 for r in plain)
    plain = np.stack(plain)
    batched = jax.jit(jax.vmap(prob.residuals))(jnp.asarray(xs))
    assert batched.shape == (3, prob.m)
    np.testing.assert_allclose(batched, plain, rtol=1e-12, atol=1e-12 * np.abs(plain).max())


@pytest.mark.parametrize("prob", PROBLEMS, ids=IDS)
def test_float32(prob):
    x32 = jnp.asarray(prob.x0, dtype=jnp.float32)
    out = jax.eval_shape(prob.residuals, x32)
    assert (out.shape, out.dtype) == ((prob.m,), jnp.float32)
    f32 = jax.jit(prob.objective)(x32)
    assert f32.dtype == jnp.float32
    np.testing.assert_allclose(float(f32), prob.f_x0, rtol=1e-3)
