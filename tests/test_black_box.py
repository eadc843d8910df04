"""The black-box bridge: host objectives under jit and vmap, masks, faults, executors."""

import concurrent.futures
import multiprocessing

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax
from trfd_jax import Options, Status

from .helpers import make_quadratic

W = np.array([1.0, 3.0, 7.0])
C = np.array([0.5, -1.0, 2.0])


def quadratic_np(x):
    """Module level, so that process pools can pickle it."""
    return float(np.sum(W * (x - C) ** 2))


def quadratic_jax(x):
    return jnp.sum(jnp.asarray(W) * (x - jnp.asarray(C)) ** 2)


OPTIONS = Options(fd_step_init=1e-5)  # small amplification of rounding differences


def test_matches_jax_native_objective():
    bb = trfd_jax.black_box(quadratic_np)
    x0 = jnp.array([2.0, 2.0, -1.0])
    host = trfd_jax.minimize(bb, x0, max_evals=60, options=OPTIONS)
    native = trfd_jax.minimize(quadratic_jax, x0, max_evals=60, options=OPTIONS)
    assert int(host.nfev) == int(native.nfev) and int(host.nit) == int(native.nit)
    np.testing.assert_allclose(host.x, native.x, rtol=1e-7, atol=1e-9)
    assert bb.host_evaluations == int(host.nfev)


def test_under_jit():
    bb = trfd_jax.black_box(quadratic_np)
    x = jax.jit(lambda x0: trfd_jax.minimize(bb, x0, max_evals=60).x)(jnp.zeros(3))
    np.testing.assert_allclose(x, C, atol=1e-5)


def test_vmap_four_starts_equals_native_and_counts_exactly():
    bb = trfd_jax.black_box(quadratic_np)
    starts = jnp.asarray(np.random.default_rng(0).uniform(-3, 3, (4, 3)))

    def solve(fun):
        return jax.vmap(lambda x: trfd_jax.minimize(fun, x, max_evals=50, options=OPTIONS))(starts)

    host, native = solve(bb), solve(quadratic_jax)
    np.testing.assert_array_equal(host.nfev, native.nfev)
    np.testing.assert_array_equal(host.status, native.status)
    np.testing.assert_allclose(host.x, native.x, rtol=1e-7, atol=1e-9)
    # Finished starts and lanes without a gradient due were never evaluated on the host.
    assert bb.host_evaluations == int(host.nfev.sum())


def test_one_callback_per_gradient_and_per_multistart_batch():
    sizes = []

    def fn(points):
        sizes.append(points.shape[0])
        return np.sum((points - 1.0) ** 2, axis=1)

    bb = trfd_jax.black_box(fn, vectorized=True)
    trfd_jax.minimize(bb, jnp.zeros(5), max_evals=30)
    assert 5 in sizes and set(sizes) <= {1, 3, 5}  # x0 and 2 noise probes: 3; a trial: 1; n = 5
    sizes.clear()
    bb.reset_count()
    starts = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (4, 5)))
    jax.vmap(lambda x: trfd_jax.minimize(bb, x, max_evals=30))(starts)
    assert max(sizes) == 4 * 5  # the gradients of all 4 starts in one callback
    assert sum(sizes) == bb.host_evaluations


def test_fixed_variables_are_not_evaluated_on_the_host():
    bb = trfd_jax.black_box(quadratic_np)
    r = trfd_jax.minimize(bb, np.zeros(3), bounds=([-5, 0, -5], [5, 0, 5]), max_evals=40)
    assert bb.host_evaluations == int(r.nfev)
    assert float(r.x[1]) == 0.0


def test_exception_reaches_the_caller_as_itself():
    class SimulatorCrashed(Exception):
        pass

    def fn(x):
        if x[0] > 1.0:
            raise SimulatorCrashed(f"diverged at {x[0]:.3f}")
        return quadratic_np(x)

    with pytest.raises(SimulatorCrashed, match="diverged at"):
        trfd_jax.minimize(trfd_jax.black_box(fn), np.zeros(3), max_evals=100)


def test_exception_under_user_jit_keeps_the_original():
    def fn(x):
        raise ZeroDivisionError("no")

    bb = trfd_jax.black_box(fn)
    with pytest.raises(jax.errors.JaxRuntimeError, match="ZeroDivisionError"):
        jax.jit(lambda x: trfd_jax.minimize(bb, x).f)(jnp.zeros(2)).block_until_ready()
    assert isinstance(bb.pop_error(), ZeroDivisionError)


def test_nan_from_the_objective_is_a_rejected_step():
    def fn(x):
        return np.nan if x[0] < -0.5 else (x[0] + 3.0) ** 2 + x[1] ** 2

    bb = trfd_jax.black_box(fn)
    r = trfd_jax.minimize(bb, np.zeros(2), max_evals=100)
    assert np.isfinite(float(r.f)) and float(r.x[0]) >= -0.5
    assert float(r.f) < 9.0


def test_nan_at_x0_is_a_status():
    r = trfd_jax.minimize(trfd_jax.black_box(lambda x: float("inf")), np.zeros(2))
    assert int(r.status) == Status.NONFINITE_X0


@pytest.mark.parametrize(
    ("fn", "kwargs", "error", "match"),
    [
        (lambda x: np.ones(2), {}, ValueError, "scalar"),
        (lambda x: "abc", {}, TypeError, "non-numeric"),
        (lambda x: None, {}, TypeError, "non-numeric"),
        (lambda x: np.complex128(1.0 + 5j), {}, TypeError, "non-numeric"),  # not cut to 1.0
        (lambda x: "1.5", {}, TypeError, "non-numeric"),  # not parsed
        (lambda p: np.ones(p.shape[0]) * 1j, {"vectorized": True}, TypeError, "non-numeric"),
        (lambda p: np.ones(p.shape[0] + 1), {"vectorized": True}, ValueError, "shape"),
    ],
)
def test_bad_return_values_name_the_objective(fn, kwargs, error, match):
    bb = trfd_jax.black_box(fn, name="my_sim", **kwargs)
    with pytest.raises(error, match=match) as info:
        trfd_jax.minimize(bb, np.zeros(2))
    assert "my_sim" in str(info.value)


def test_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        trfd_jax.black_box(3)
    with pytest.raises(TypeError, match="Executor"):
        trfd_jax.black_box(quadratic_np, executor=object())
    with pytest.raises(TypeError, match="args"):
        trfd_jax.minimize(trfd_jax.black_box(quadratic_np), np.zeros(3), args=1.0)


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_executors_give_the_serial_result(kind):
    if kind == "threads":
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    else:  # spawn: forking a process that runs JAX's threads may deadlock
        context = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context)
    serial = trfd_jax.minimize(trfd_jax.black_box(quadratic_np), np.ones(3), max_evals=40)
    with pool:
        bb = trfd_jax.black_box(quadratic_np, executor=pool)
        parallel = trfd_jax.minimize(bb, np.ones(3), max_evals=40)
    jax.tree.map(np.testing.assert_array_equal, serial, parallel)
    assert bb.host_evaluations == int(parallel.nfev)


def test_dask_local_cluster():
    distributed = pytest.importorskip("distributed", reason="distributed is not installed")
    serial = trfd_jax.minimize(trfd_jax.black_box(quadratic_np), np.ones(3), max_evals=40)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        bb = trfd_jax.black_box(quadratic_np, executor=client.get_executor())
        on_cluster = trfd_jax.minimize(bb, np.ones(3), max_evals=40)
    jax.tree.map(np.testing.assert_array_equal, serial, on_cluster)


# ------------------------------------------------------------------ verbose and callback


def test_verbose_log(capsys):
    trfd_jax.minimize(quadratic_jax, jnp.zeros(3), max_evals=20, verbose=True)
    out = capsys.readouterr().out
    assert "nfev" in out.splitlines()[0]
    assert "SUCCESSFUL" in out


def test_callback_sees_each_iteration_and_can_stop():
    seen = []

    def callback(summary):
        seen.append(summary)
        return summary.nfev >= 9

    r = trfd_jax.minimize(quadratic_jax, jnp.zeros(3), max_evals=100, callback=callback)
    assert int(r.status) == Status.USER_STOP
    assert [s.nit for s in seen] == list(range(1, int(r.nit) + 1))
    assert seen[-1].nfev >= 9 and seen[-1].radius > 0


def test_callback_under_vmap_stops_each_start():
    f, _, _ = make_quadratic(2, seed=1)
    starts = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, (3, 2)))
    r = jax.vmap(lambda x: trfd_jax.minimize(f, x, max_evals=100, callback=lambda s: s.nit >= 2))(
        starts
    )
    assert list(np.asarray(r.status)) == [Status.USER_STOP] * 3
    assert list(np.asarray(r.nit)) == [2, 2, 2]


def test_new_host_functions_share_one_compiled_solver():
    # The host function is data of the solver's program (a handle), not part of it: ten
    # black boxes over new data compile one program, and each run answers for its own fn.
    from trfd_jax._src.iterate import compiled_programs

    rng = np.random.default_rng(7)
    before = compiled_programs()
    for _ in range(10):
        c = rng.standard_normal(3)
        bb = trfd_jax.black_box(lambda x, c=c: float(np.sum((x - c) ** 2)))
        r = trfd_jax.minimize(bb, np.zeros(3), max_evals=80)
        np.testing.assert_allclose(r.x, c, atol=1e-6)
        assert bb.host_evaluations == int(r.nfev)
    assert compiled_programs() <= before + 1  # 0 where an earlier test compiled it
    # Another value shape (residuals) is another program.
    bb = trfd_jax.black_box(lambda x: x - 1.0, residuals=3)
    r = trfd_jax.least_squares(bb, np.zeros(3), max_evals=80)
    np.testing.assert_allclose(r.x, np.ones(3), atol=1e-6)


def test_a_black_box_made_inside_a_jit_outlives_its_trace():
    # The caller's program holds the black box's handle; the black box itself is only
    # referenced during tracing.  It must still be there when the program runs again.
    import gc

    @jax.jit
    def solve(x0):
        bb = trfd_jax.black_box(lambda x: float(np.sum((x - 2.0) ** 2)))
        return trfd_jax.minimize(bb, x0, max_evals=60).x

    first = solve(jnp.zeros(2))
    gc.collect()
    np.testing.assert_allclose(solve(jnp.ones(2)), [2.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(first, [2.0, 2.0], atol=1e-6)
