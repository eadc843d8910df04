"""The solver's small linear algebra: correct, and rounded alike in one start and in a
vmap of thousands (the batched program must not sum in another order)."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax
from trfd_jax._src import linalg

jax.config.update("jax_enable_x64", True)

BATCH = 4096  # XLA changes how it reduces from about a thousand rows on


def _operands(n: int, k: int = 5, batch: int = BATCH):
    rng = np.random.default_rng(n)
    return (
        jnp.asarray(rng.standard_normal((batch, n))),
        jnp.asarray(rng.standard_normal((batch, n))),
        jnp.asarray(rng.standard_normal((batch, k, n))),
        jnp.asarray(rng.standard_normal((batch, n, n))),
    )


_OPS = {
    "dot": lambda a, b, m, h: linalg.dot(a, b),
    "norm": lambda a, b, m, h: linalg.norm(a),
    "matvec": lambda a, b, m, h: linalg.matvec(m, a),
    "rmatvec": lambda a, b, m, h: linalg.rmatvec(m, m[:, 0]),
    "quadratic": lambda a, b, m, h: linalg.quadratic(h, a),
    "gram": lambda a, b, m, h: linalg.gram(m),
}


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
@pytest.mark.parametrize("name", list(_OPS))
def test_values_match_numpy(name, n):
    a, b, m, h = (np.asarray(x[0]) for x in _operands(n, batch=1))
    expected = {
        "dot": a @ b,
        "norm": np.linalg.norm(a),
        "matvec": m @ a,
        "rmatvec": m.T @ m[:, 0],
        "quadratic": a @ h @ a,
        "gram": m.T @ m,
    }[name]
    got = _OPS[name](*(jnp.asarray(x) for x in (a, b, m, h)))
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("n", [2, 3, 7, 10])
@pytest.mark.parametrize("name", list(_OPS))
def test_a_vmap_of_4096_rounds_as_one_at_a_time(name, n):
    # With `a @ b` (or jnp.sum) 11 to 36 of 64 rows differ in the last bit here.
    uses_xla_matvec = name in ("matvec", "rmatvec", "quadratic") and n > linalg.MATVEC_TREE_MAX
    if uses_xla_matvec and jax.default_backend() != "cpu":
        # On an H200, XLA's matrix–vector kernel rounded a batch differently (n = 10).
        pytest.skip("XLA's own matrix-vector kernel is batch-invariant on the CPU only")
    fn = _OPS[name]
    operands = _operands(n)
    batched = jax.jit(jax.vmap(fn))(*operands)
    single = jax.jit(fn)
    for i in range(0, BATCH, BATCH // 64):
        np.testing.assert_array_equal(batched[i], single(*(x[i] for x in operands)), err_msg=i)


def test_tree_sum_handles_empty_and_odd_lengths():
    assert float(linalg.tree_sum(jnp.zeros(0))) == 0.0
    for n in range(1, 12):
        x = jnp.arange(1.0, n + 1)
        assert float(linalg.tree_sum(x)) == n * (n + 1) / 2
    np.testing.assert_array_equal(linalg.tree_sum(jnp.ones((3, 5)), axis=0), jnp.full(5, 3.0))


def _rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@pytest.mark.parametrize("bounded", [False, True], ids=["unconstrained", "bounds"])
def test_4096_vmapped_starts_take_the_decisions_of_a_loop(bounded):
    # The scale of issue 14's benchmark (python -m trfd_jax.benchmarks.bounded_multistart):
    # before the tree reductions, 62 (unconstrained) and 32-37 (bounds) of 64 checked
    # starts ended with the nfev and status of the same start solved alone.
    kwargs = {"max_evals": 150}
    starts = np.random.default_rng(0).uniform(-2, 2, (BATCH, 2))
    if bounded:
        # Without the default noise handling: with it, the switchable finite-difference
        # stencil changes how XLA fuses the box subproblem, and 16 of 64 checked bounded
        # starts round differently from a loop (README, "jit, vmap and a Python loop").
        kwargs["bounds"] = (-1.5, 0.8)
        kwargs["options"] = trfd_jax.Options(noise_level=None)
        starts = np.clip(starts, -1.5, 0.8)

    def solve(x0):
        return trfd_jax.minimize(_rosenbrock, x0, **kwargs)

    batched = jax.vmap(solve)(jnp.asarray(starts))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(0, BATCH, BATCH // 8):
            single = solve(jnp.asarray(starts[k]))
            for field in ("x", "f", "nfev", "nit", "status", "history"):
                np.testing.assert_array_equal(
                    getattr(batched, field)[k], getattr(single, field), err_msg=f"{field}, {k}"
                )


@pytest.mark.parametrize(
    "index, options, bounded",
    [
        (9, None, False),  # helical valley: its own atan/sqrt round differently
        (27, trfd_jax.Options.paper(), False),  # Brown–Dennis: exp, sin, cos
        (42, trfd_jax.Options(subproblem="truncated_cg"), False),
        (27, None, True),
    ],
    ids=["default", "paper", "truncated_cg", "bounds"],
)
def test_own_compiler_options_round_the_solver_as_the_defaults_do(index, options, bounded):
    # A top-level call compiles with the solver's own CPU options, a call inside the
    # caller's jit with XLA's defaults.  With f evaluated on the host (the same bits either
    # way), the two programs take the same decisions to the bit: what may differ is only
    # the objective's own code, compiled into the program.
    from trfd_jax._src import checks, iterate
    from trfd_jax.benchmarks.more_wild import more_wild_53

    p = more_wild_53()[index - 1]
    f = jax.jit(p.objective)
    host = trfd_jax.black_box(lambda x: float(f(x)))
    x0, bounds = p.x0, None
    if bounded:
        x0, bounds = np.clip(p.x0, 0.1, 20.0), (np.full(p.n, 0.1), np.full(p.n, 20.0))
    problem, x = checks.make_problem(
        host, x0, max_evals=30 * (p.n + 1), options=options, bounds=bounds
    )
    own = iterate._run_jit_cpu(problem, x)
    default = iterate._run_jit_default(problem, x)
    assert int(own.nfev) == int(default.nfev)
    np.testing.assert_array_equal(own.x, default.x)
    np.testing.assert_array_equal(own.f, default.f)
