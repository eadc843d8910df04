"""The JAX boundary (issue 11): closures over traced data, pytrees, every bounds form."""

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trfd_jax

from .helpers import make_quadratic


def test_closure_over_a_vmapped_value():
    # The form a user writes first: the objective closes over the batched value c.
    solve = jax.vmap(
        lambda c: trfd_jax.minimize(lambda x: jnp.sum((x - c) ** 2), jnp.zeros(2), max_evals=60)
    )
    r = solve(jnp.arange(3.0))
    np.testing.assert_allclose(r.x, np.repeat(np.arange(3.0)[:, None], 2, axis=1), atol=1e-6)


def test_an_eager_vmap_over_a_closure_compiles_once():
    # The closed-over batched value is data: calling the same code again with new values
    # traces the objective once more (the boundary's shape check), not the whole solver.
    traces = []

    def solve(centers):
        def one(c):
            def f(x):
                traces.append(None)
                return jnp.sum((x - c) ** 2)

            return trfd_jax.minimize(f, jnp.zeros(2), max_evals=60).x

        return jax.vmap(one)(centers)

    first = solve(jnp.arange(3.0))
    count = len(traces)
    second = solve(jnp.arange(3.0) + 1.0)
    assert len(traces) == count + 1
    np.testing.assert_allclose(first[:, 0], [0.0, 1.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(second[:, 0], [1.0, 2.0, 3.0], atol=1e-6)


def test_closure_over_jitted_data_and_an_integer_tracer():
    @jax.jit
    def fit(data, k):
        return trfd_jax.minimize(
            lambda x: jnp.sum((x - data * k) ** 2), jnp.zeros(3), max_evals=100
        ).x

    np.testing.assert_allclose(fit(jnp.array([1.0, 2.0, 3.0]), 2), [2.0, 4.0, 6.0], atol=1e-6)


def test_every_nesting_compiles_and_agrees():
    # At the top level (and under an eager vmap) the solver compiles with its own CPU
    # compiler options; inside a caller's jit (even one whose inputs are all constants) or
    # lax.map it must not, and the decisions and values are the same either way.
    from trfd_jax._src import iterate

    def solve(c):
        return trfd_jax.minimize(lambda x: jnp.sum((x - c) ** 2), np.zeros(3), max_evals=60)

    def compiled():
        return iterate._run_jit_cpu._cache_size(), iterate._run_jit_default._cache_size()

    centers = jnp.arange(3.0)
    own, default = compiled()
    eager = [solve(c) for c in centers]  # three constants c, data of one program
    after = compiled()
    assert own <= after[0] <= own + 1 and after[1] == default  # (0: an earlier test's)
    constant = jax.jit(lambda: solve(1.0))()
    assert compiled() == after  # inlined into the caller's program
    forms = {
        "vmap": jax.vmap(solve)(centers),
        "jit(vmap)": jax.jit(jax.vmap(solve))(centers),
        "lax.map": jax.lax.map(solve, centers),
    }
    # (An eager vmap's batched program keeps the jit's options; JAX compiles it outside
    # the jit's own cache, so it is not counted here.)
    assert compiled() == after
    assert int(constant.nfev) == int(eager[1].nfev)
    np.testing.assert_allclose(constant.x, eager[1].x, rtol=0, atol=1e-12)
    for name, batch in forms.items():
        np.testing.assert_array_equal(batch.nfev, [int(r.nfev) for r in eager], err_msg=name)
        np.testing.assert_allclose(batch.x, np.stack([r.x for r in eager]), atol=1e-12)


def test_closure_equals_args_under_vmap():
    f, _, _ = make_quadratic(3, seed=3)
    centers = jnp.asarray(np.random.default_rng(0).standard_normal((4, 3)))
    options = trfd_jax.Options(fd_step_init=1e-5)

    def by_closure(c):
        return trfd_jax.minimize(lambda x: f(x - c), jnp.zeros(3), max_evals=80, options=options)

    def by_args(c):
        return trfd_jax.minimize(
            lambda x, c: f(x - c), jnp.zeros(3), args=c, max_evals=80, options=options
        )

    a, b = jax.vmap(by_closure)(centers), jax.vmap(by_args)(centers)
    np.testing.assert_array_equal(a.nfev, b.nfev)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-9, atol=1e-12)


def test_pytree_round_trip_dict_with_mixed_shapes():
    x0 = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(3), "s": jnp.asarray(0.0)}

    def f(p):
        return jnp.sum((p["w"] - 1.0) ** 2) + jnp.sum((p["b"] + 2.0) ** 2) + (p["s"] - 0.5) ** 2

    r = trfd_jax.minimize(f, x0, max_evals=400)
    assert jax.tree.structure(r.x) == jax.tree.structure(x0)
    assert r.x["w"].shape == (2, 2) and r.x["b"].shape == (3,) and r.x["s"].shape == ()
    assert jax.tree.structure(r.gradient) == jax.tree.structure(x0)
    np.testing.assert_allclose(r.x["w"], np.ones((2, 2)), atol=1e-6)
    np.testing.assert_allclose(r.x["b"], -2 * np.ones(3), atol=1e-6)


class Params(NamedTuple):
    a: jax.Array
    s: jax.Array


def test_pytree_namedtuple_with_pytree_bounds_under_vmap():
    def f(p, target):
        return jnp.sum((p.a - target) ** 2) + (p.s - 0.5) ** 2

    lower, upper = Params(jnp.zeros(2), 0.0), Params(jnp.full(2, 2.0), 1.0)

    def solve(target):
        x0 = Params(jnp.ones(2), jnp.asarray(0.2))
        return trfd_jax.minimize(f, x0, args=target, bounds=(lower, upper), max_evals=120)

    r = jax.vmap(solve)(jnp.array([3.0, 1.0]))
    assert isinstance(r.x, Params)
    np.testing.assert_allclose(r.x.a, [[2.0, 2.0], [1.0, 1.0]], atol=1e-6)  # bound active
    np.testing.assert_allclose(r.x.s, [0.5, 0.5], atol=1e-6)


@pytest.mark.parametrize(
    "bounds",
    [
        (jnp.array([-1.0, -1.0, 0.0]), jnp.array([1.0, 2.0, 3.0])),
        [(-1, 1), (-1, 2), (0, 3)],
        trfd_jax.Box(jnp.array([-1.0, -1.0, 0.0]), jnp.array([1.0, 2.0, 3.0])),
        "scipy",
    ],
)
def test_every_bounds_form(bounds):
    if bounds == "scipy":
        scipy_optimize = pytest.importorskip("scipy.optimize")
        bounds = scipy_optimize.Bounds([-1, -1, 0], [1, 2, 3])
    r = trfd_jax.minimize(lambda x: jnp.sum((x - 5.0) ** 2), jnp.zeros(3), bounds=bounds)
    np.testing.assert_allclose(r.x, [1.0, 2.0, 3.0])


def test_scipy_pairs_with_none_are_infinite():
    r = trfd_jax.minimize(
        lambda x: jnp.sum((x - 5.0) ** 2), jnp.zeros(3), bounds=[(None, 1), (-1, None), (0, 3)]
    )
    np.testing.assert_allclose(r.x, [1.0, 5.0, 3.0], atol=1e-6)


def test_ambiguous_pairs_for_n_2_are_an_error_naming_both_readings():
    with pytest.raises(ValueError, match=r"ambiguous.*pairs.*lower"):
        trfd_jax.minimize(lambda x: x @ x, jnp.zeros(2), bounds=[(-2, 2), (-1, 3)])
    # Arrays are (lower, upper): not ambiguous.
    r = trfd_jax.minimize(
        lambda x: jnp.sum((x - 5.0) ** 2),
        jnp.zeros(2),
        bounds=(jnp.array([-2.0, -1.0]), jnp.array([2.0, 3.0])),
    )
    np.testing.assert_allclose(r.x, [2.0, 3.0])


def test_bad_bounds_forms():
    with pytest.raises(TypeError, match="bounds"):
        trfd_jax.minimize(lambda x: x @ x, jnp.zeros(3), bounds=[(0, 1)] * 2 + [0])
    with pytest.raises(TypeError, match="bounds"):
        trfd_jax.minimize(lambda x: x @ x, jnp.zeros(3), bounds="box")


# ------------------------------------------------------------- stopping, status, results


def test_success_on_converged_runs_and_the_paper_setting():
    def f(x):
        return jnp.sum((x - 1.0) ** 2 * jnp.arange(1.0, 4.0))

    r = trfd_jax.minimize(f, jnp.zeros(3))
    assert int(r.status) == trfd_jax.Status.CONVERGED and bool(r.success)
    assert int(r.nfev) < 400 and float(r.f) < 1e-12
    # Without the xtol/ftol test, the relative radius test ends it, a little later.
    radius = trfd_jax.minimize(f, jnp.zeros(3), options=trfd_jax.Options(xtol=None))
    assert int(radius.status) == trfd_jax.Status.RADIUS_TOL and bool(radius.success)
    assert int(r.nfev) <= int(radius.nfev) < 400
    # The paper's absolute Δ_tol = 1e-13 goes on until the budget is spent.
    paper = trfd_jax.minimize(f, jnp.zeros(3), options=trfd_jax.Options.paper())
    assert int(paper.nfev) > int(r.nfev)
    assert trfd_jax.Options.paper().radius_tol == 1e-13


def test_multistart_reports_success_for_converged_starts():
    def rosenbrock(x):
        return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    starts = jax.random.uniform(jax.random.key(0), (16, 2), minval=-2, maxval=2)
    r = jax.vmap(lambda x0: trfd_jax.minimize(rosenbrock, x0))(starts)
    solved = np.asarray(r.f) < 1e-8
    assert solved.mean() > 0.9
    assert np.all(np.asarray(r.success)[solved])  # a solved start says so


def test_throw_raises_with_the_result_outside_vmap_and_returns_the_code_inside():
    with pytest.raises(trfd_jax.SolverError, match="budget") as info:
        trfd_jax.minimize(lambda x: jnp.sum(x**2), jnp.ones(3), max_evals=10, throw=True)
    assert int(info.value.result.status) == trfd_jax.Status.MAX_EVALS
    r = jax.vmap(lambda x: trfd_jax.minimize(lambda z: jnp.sum(z**2), x, max_evals=10, throw=True))(
        jnp.ones((2, 3))
    )
    assert np.all(np.asarray(r.status) == trfd_jax.Status.MAX_EVALS)
    ok = trfd_jax.minimize(lambda x: jnp.sum((x - 1.0) ** 2), jnp.zeros(2), throw=True)
    assert bool(ok.success)


def test_callback_exception_reaches_the_caller_as_itself():
    def callback(summary):
        if summary.nit == 2:
            raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        trfd_jax.minimize(lambda x: jnp.sum(x**2), jnp.ones(2), callback=callback)
    # The next run is not affected by the earlier failure.
    r = trfd_jax.minimize(lambda x: jnp.sum(x**2), jnp.ones(2), callback=lambda s: None)
    assert bool(r.success)


def test_callback_summaries_carry_the_start_index_under_vmap(capsys):
    seen = []

    def callback(summary):
        seen.append(summary.start)

    jax.vmap(
        lambda x: trfd_jax.minimize(
            lambda z: jnp.sum((z - 1) ** 2), x, max_evals=12, callback=callback, verbose=True
        )
    )(jnp.zeros((3, 2)))
    assert sorted(set(seen)) == [0, 1, 2]
    out = capsys.readouterr().out
    for start in range(3):
        assert f"trfd_jax start {start}: " in out  # the closing summary lines


def test_least_squares_reports_the_cost_residuals_and_jacobian():
    def residuals(x):
        return jnp.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0], 0.5])

    r = trfd_jax.least_squares(residuals, jnp.array([-1.2, 1.0]))
    np.testing.assert_allclose(r.residuals, residuals(r.x), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(r.f, 0.5 * (r.residuals @ r.residuals), rtol=1e-14)  # ½‖F‖²
    np.testing.assert_allclose(r.f, 0.125, rtol=1e-10)
    np.testing.assert_allclose(r.jacobian, jax.jacfwd(residuals)(r.x), atol=1e-5)
    assert float(r.history[-1]) == float(r.f)
    plain = trfd_jax.minimize(lambda x: jnp.sum((x - 1.0) ** 2), jnp.zeros(2))
    assert plain.residuals is None and plain.jacobian is None


def test_has_aux_returns_aux_at_the_best_point():
    def f(x, scale):
        r = x - jnp.array([1.0, 2.0])
        return scale * (r @ r), {"r": r, "scale": scale}

    r = trfd_jax.minimize(f, jnp.zeros(2), args=2.0, has_aux=True)
    np.testing.assert_allclose(r.aux["r"], r.x - jnp.array([1.0, 2.0]), rtol=0, atol=0)
    assert float(r.aux["scale"]) == 2.0
    batched = jax.vmap(
        lambda c: trfd_jax.minimize(lambda x: f(x - c, 1.0), jnp.zeros(2), has_aux=True)
    )(jnp.arange(3.0))
    assert batched.aux["r"].shape == (3, 2)
    with pytest.raises(TypeError, match="pair"):
        trfd_jax.minimize(lambda x: x @ x, jnp.zeros(2), has_aux=True)


def test_progress_bar_under_jit_and_vmap(capsys):
    pytest.importorskip("tqdm")
    from trfd_jax._src.observe import PROGRESS

    def f(x):
        return jnp.sum((x - 1.0) ** 2)

    r = jax.jit(jax.vmap(lambda s: trfd_jax.minimize(f, s, max_evals=40, progress=True)))(
        jnp.zeros((3, 2))
    )
    err = capsys.readouterr().err
    assert "trfd_jax" in err and "3/3 starts done" in err
    assert PROGRESS.bar is None  # closed once every start finished
    plain = jax.vmap(lambda s: trfd_jax.minimize(f, s, max_evals=40))(jnp.zeros((3, 2)))
    np.testing.assert_array_equal(r.nfev, plain.nfev)  # the bar changes nothing


def test_pytree_bounds_are_never_left_counting_every_evaluation():
    seen = []

    def record(flat):
        seen.append(np.array(flat))
        return np.asarray(0.0)

    def f(p):
        flat = jnp.concatenate([p.a, p.s[None]])
        jax.debug.callback(record, flat)  # every evaluated point, on the host
        return jnp.sum((p.a - 3.0) ** 2) + (p.s + 1.0) ** 2

    lower, upper = Params(jnp.zeros(2), 0.0), Params(jnp.full(2, 2.0), 1.0)
    x0 = Params(jnp.full(2, 2.0), jnp.asarray(0.0))  # starts on active bounds
    r = trfd_jax.minimize(f, x0, bounds=(lower, upper), max_evals=60)
    points = np.stack(seen)
    assert len(points) >= int(r.nfev)  # inactive rows of a batch are computed too
    assert np.all(points[:, :2] >= 0.0) and np.all(points[:, :2] <= 2.0)
    assert np.all(points[:, 2] >= 0.0) and np.all(points[:, 2] <= 1.0)
    np.testing.assert_allclose(r.x.a, [2.0, 2.0])
    np.testing.assert_allclose(r.x.s, 0.0)


def _recording(f):
    """``f`` and the list of every point it was evaluated at (host side, per row)."""
    seen = []

    def wrapped(p):
        jax.debug.callback(lambda a: seen.append(np.asarray(a, np.float64).reshape(-1)), p["a"])
        return f(p)

    return wrapped, seen


@pytest.mark.parametrize("mixed", [False, True], ids=["float32", "float32+float64"])
def test_a_float32_leaf_never_crosses_its_unrelaxable_bounds(mixed):
    # The bound 0.3 has no float32 number: the leaf must stay at or below the float32 just
    # under it.  The pytree path once cast the bounds to the leaf dtype before the box's
    # inward rounding ran (0.30000001 evaluated); with a float64 leaf beside it, the run is
    # float64 and each evaluation cast x back to float32, rounding up across the bound.
    x0 = {"a": jnp.full(2, 0.5, jnp.float32)}
    if mixed:
        x0["b"] = jnp.full(2, 0.1)
    f, seen = _recording(
        lambda p: sum(jnp.sum((v.astype(jnp.float64) - 1.0) ** 2) for v in p.values())
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the float32 and x0-projected warnings
        r = trfd_jax.minimize(f, x0, bounds=(0.0, 0.3), max_evals=40)
    points = np.concatenate(seen)
    assert points.size > 0
    assert points.max() <= 0.3
    assert float(jnp.max(r.x["a"])) <= 0.3
    # ...and a lower bound 0.7 is not crossed from above either.
    seen.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trfd_jax.minimize(f, jax.tree.map(lambda v: v * 0, x0), bounds=(0.7, 2.0), max_evals=40)
    assert np.concatenate(seen).min() >= 0.7


def test_a_float32_pytree_leaf_fixed_between_unrepresentable_bounds_is_refused():
    # As for a flat float32 x0: no float32 number lies in [0.1, 0.1] (float64 bounds).
    with pytest.raises(ValueError, match="No float32 number lies in the unrelaxable bounds"):
        trfd_jax.minimize(
            lambda p: jnp.sum(p["a"] ** 2), {"a": jnp.full(2, 0.2, jnp.float32)}, bounds=(0.1, 0.1)
        )


@pytest.mark.parametrize(
    "bounds, expected",
    [
        ((0.0, None), [1.0, 0.0]),
        ((None, 0.5), [0.5, -1.0]),
        ((jnp.zeros(2), [None, 0.5]), [1.0, 0.0]),
        (({"a": 0.0, "b": None}, {"a": None, "b": 0.5}), [1.0, -1.0]),
    ],
    ids=["upper-None", "lower-None", "entry-None", "leaf-None"],
)
def test_none_in_bounds_means_unbounded(bounds, expected):
    # scipy's convention, per side, per coordinate and per leaf (minimizer (1, -1)).
    tree = isinstance(bounds[0], dict)
    x0 = {"a": jnp.full(1, 0.2), "b": jnp.full(1, 0.2)} if tree else jnp.full(2, 0.2)

    def f(x):
        v = jnp.concatenate([x["a"], x["b"]]) if tree else x
        return jnp.sum((v - jnp.array([1.0, -1.0])) ** 2)

    r = trfd_jax.minimize(f, x0, bounds=bounds, max_evals=100)
    x = np.concatenate([r.x["a"], r.x["b"]]) if tree else np.asarray(r.x)
    np.testing.assert_allclose(x, expected, atol=1e-6)
