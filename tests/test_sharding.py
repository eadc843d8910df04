"""Starts sharded over devices: 8 virtual CPU devices in a fresh process (the device count
is fixed when JAX starts), the results against the unsharded run in the same process."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import AxisType, NamedSharding, PartitionSpec as P
    import trfd_jax

    jax.config.update("jax_enable_x64", True)
    assert jax.device_count() == 8, jax.devices()

    def rosenbrock(x, a):
        return jnp.sum(a * 100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    starts = jnp.asarray(np.random.default_rng(0).uniform(-2.0, 2.0, (32, 4)))
    scales = jnp.linspace(0.5, 1.5, 32)
    for options in (trfd_jax.Options(batch_chunk=1), trfd_jax.Options()):
        solve = jax.jit(jax.vmap(
            lambda x0, a: trfd_jax.minimize(rosenbrock, x0, args=a, max_evals=300,
                                            options=options)))
        plain = solve(starts, scales)
        for kind in (AxisType.Explicit, AxisType.Auto):
            mesh = jax.make_mesh((8,), ("starts",), axis_types=(kind,))
            sharding = NamedSharding(mesh, P("starts"))
            out = solve(jax.device_put(starts, sharding), jax.device_put(scales, sharding))
            assert out.x.sharding.spec[0] == "starts", out.x.sharding
            assert len(out.x.sharding.device_set) == 8
            np.testing.assert_array_equal(out.nfev, plain.nfev)
            np.testing.assert_array_equal(out.status, plain.status)
            if options.batch_chunk == 1:  # one start at a time: bitwise the same
                np.testing.assert_array_equal(out.x, plain.x)
                np.testing.assert_array_equal(out.f, plain.f)
            else:
                np.testing.assert_allclose(out.f, plain.f, rtol=1e-10, atol=1e-14)
    # A black box, sharded: one host callback per device and round, the same counts.
    calls = []
    def host(x):
        calls.append(1)
        return float(np.sum((x - 1.0) ** 2))
    box = trfd_jax.black_box(host)
    mesh = jax.make_mesh((8,), ("starts",))
    many = jax.device_put(starts[:16], NamedSharding(mesh, P("starts")))
    solve = jax.jit(jax.vmap(lambda x0: trfd_jax.minimize(box, x0, max_evals=100)))
    out = jax.block_until_ready(solve(many))  # (dispatch is asynchronous)
    assert len(calls) == box.host_evaluations == int(np.sum(out.nfev)), (len(calls), out.nfev)
    np.testing.assert_allclose(out.x, np.ones((16, 4)), atol=1e-5)
    print("sharded runs equal the unsharded run")
    """
)


def test_sharded_starts_equal_the_unsharded_run_on_8_cpu_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    env.pop("JAX_PLATFORMS", None)
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "sharded runs equal the unsharded run" in done.stdout
