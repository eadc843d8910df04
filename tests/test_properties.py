"""Property sweeps of the core promises (issue 14), with a host recorder.

Each case is a static configuration — an entry point (``minimize`` or ``least_squares``),
a search, a finite-difference scheme, a model Hessian, a set or composition of sets
(bounds two-sided, one-sided with ``None``, to inf or to 1e300; balls; the simplex), a
dimension, a dtype, a flat x₀ or a pytree of float32/float64 leaves, and whether ``vmap``
is checked against a loop — with free data (x₀, bounds, a budget, rates of NaN/±inf
values), run on an objective that records every point it is called at on the host.  The
invariants, checked against that record:

* the budget: host calls = ``nfev`` ≤ ``max_evals`` (too small a budget: ValueError) for
  a black box; a JAX objective may be computed at rows the record does not count (whole
  blocks: one ``vmap`` over a batch of points), never outside the bounds;
* unrelaxable bounds: every evaluated point lies in the box, exactly;
* the returned x lies in Ω; ``Result.f`` is the best finite value the host returned at a
  feasible point, and x is a point where the host returned it;
* NaN and ±inf are never accepted; the history is nonincreasing and ends at ``Result.f``;
* determinism: the same case run twice gives the same result, bit for bit;
* ``vmap`` = loop: two starts under ``jax.vmap`` give the two single runs, bit for bit
  (in the long profile, on the first 4 cases of each configuration that checks it).

The configurations are a fixed sample of the product of the axes (``CONFIGURATIONS``,
every value of every axis in it).  The CI profile draws 12 cases in three seeded shards
(``TRFD_PROPERTY_CI_CASES``); ``pytest -m slow -k long_profile`` runs the long profile:
``TRFD_PROPERTY_CASES`` cases (10,000 by default) spread over the configurations, one
configuration after the other so that each compiles once (``TRFD_PROPERTY_SHARDS=k`` and
``TRFD_PROPERTY_SEED=j`` run the j-th of k shards of them).
"""

from __future__ import annotations

import itertools
import os
import random
import warnings
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import trfd_jax
from trfd_jax import (
    Box,
    GaussNewtonSearch,
    HalfSpace,
    Intersection,
    L1Ball,
    L2Ball,
    ModelSearch,
    Simplex,
)

COMPOSITIONS = (
    "none",
    "bounds",
    "lower_only",  # (lower, None): scipy's None is unbounded
    "upper_only",  # (None, upper)
    "lower_to_inf",
    "lower_to_huge",  # (lower, 1e300), 1e30 in float32
    "box_in_intersection",
    "nested_intersection",
    "bounds_with_intersection",
    "bounds_with_l1_ball",
    "ball",
    "l1_ball",
    "simplex",
)
# The compositions whose box is unrelaxable: every evaluated point lies in it, exactly.
BOXED = {
    "bounds",
    "lower_only",
    "upper_only",
    "lower_to_inf",
    "lower_to_huge",
    "box_in_intersection",
    "nested_intersection",
    "bounds_with_intersection",
    "bounds_with_l1_ball",
}
HESSIANS = ("bfgs", "sr1", "scaled_identity", "identity", "zero")


def _configurations(count: int = 256) -> list[dict]:
    """A fixed sample of the product of the static axes that holds every value of every
    axis; each configuration compiles its own solver."""
    product = []
    for n, entry, scheme, kind, dtype, form, batched in itertools.product(
        (1, 2, 3, 4),
        ("minimize", "least_squares"),
        ("forward", "central"),
        COMPOSITIONS,
        ("float64", "float32", "mixed"),
        ("flat", "pytree"),
        (False, True),
    ):
        if form == "pytree" and (n < 2 or entry != "minimize"):
            continue  # two leaves; least squares takes flat x₀ here
        if dtype == "mixed" and form != "pytree":
            continue
        for search, hessian in itertools.product(
            ("none", "model_before", "model_after", "gauss_newton", "gauss_newton_after"),
            (*HESSIANS, "gauss_newton"),
        ):
            least_squares = entry == "least_squares"
            if search.startswith("gauss_newton") != least_squares and search != "none":
                continue
            if hessian == "gauss_newton" and not least_squares:
                continue
            product.append(
                dict(
                    n=n,
                    entry=entry,
                    search=search,
                    scheme=scheme,
                    kind=kind,
                    dtype=dtype,
                    form=form,
                    hessian=hessian,
                    vmap=batched,
                )
            )
    rng = random.Random(20261208)
    while True:  # redraw until the sample holds every value of every axis
        sample = rng.sample(product, count)
        if all({c[axis] for c in sample} == {c[axis] for c in product} for axis in product[0]):
            return sample


CONFIGURATIONS = _configurations()


# The per-case data the objectives read, and every point and value of their calls.
HOST: dict = {"case": {}, "points": [], "values": []}


def _value(x: np.ndarray, residuals: bool):
    case = HOST["case"]
    r = np.sqrt(case["weights"]) * (x - case["center"])
    r = np.append(r, 0.5 * np.prod(np.tanh(x)))  # a coupling term
    # Deterministic faults: NaN or ±inf at points picked by a hash of their bits.
    u = zlib.crc32(np.ascontiguousarray(x).tobytes()) / 2**32
    fault = None
    if u < case["nan_rate"]:
        fault = np.nan
    elif u < case["nan_rate"] + case["inf_rate"]:
        fault = np.inf if u * 1e6 % 2 < 1 else -np.inf
    HOST["points"].append(np.array(x))
    if residuals:
        out = r if fault is None else np.full_like(r, fault)
        HOST["values"].append(0.5 * float(np.sum(out**2)) if fault is None else np.nan)
        return out
    value = float(np.sum(r**2)) if fault is None else fault
    HOST["values"].append(value)
    return value


_OBJECTIVES: dict = {}


def _split(n: int) -> int:
    return n // 2  # leaf "a" holds x[:n // 2], leaf "b" the rest


def _leaf_dtypes(case: dict) -> tuple[str, str]:
    return ("float32", "float64") if case["dtype"] == "mixed" else (case["dtype"],) * 2


def _objective(case: dict):
    """One objective per static configuration, so that cases share a compiled solver: a
    black box for a flat x₀, a JAX function with a host callback for a pytree."""
    n, residuals = case["n"], case["entry"] == "least_squares"
    key = (n, residuals, case["dtype"], case["form"])
    if key in _OBJECTIVES:
        return _OBJECTIVES[key]
    if case["form"] == "flat":
        fun = trfd_jax.black_box(
            lambda x: _value(x, residuals), residuals=n + 1 if residuals else None,
            dtype=case["dtype"],
        )  # fmt: skip
    else:
        # The host sees the leaves widened to float64 (exactly), in x's order.
        out_dtype = jnp.float64 if "float64" in _leaf_dtypes(case) else jnp.float32

        def host(x):  # one callable: a pure_callback target is part of the program's key
            return np.asarray(_value(np.asarray(x), False), out_dtype)

        def fun(tree):
            flat = jnp.concatenate([tree["a"].astype(jnp.float64), tree["b"].astype(jnp.float64)])
            return jax.pure_callback(
                host,
                jax.ShapeDtypeStruct((), out_dtype),
                flat,
                vmap_method="sequential",
            )

    _OBJECTIVES[key] = fun
    return fun


def _tree(case: dict, v: np.ndarray):
    """``v`` (n,) as the case's x₀ form: flat, or two leaves of the case's dtypes."""
    a, b = _leaf_dtypes(case)
    if case["form"] == "flat":
        return jnp.asarray(v, a)
    k = _split(case["n"])
    return {"a": jnp.asarray(v[:k], a), "b": jnp.asarray(v[k:], b)}


def _bound_tree(case: dict, v: np.ndarray):
    if case["form"] == "flat":
        return v
    k = _split(case["n"])
    return {"a": v[:k], "b": v[k:]}


def _constraint(case: dict) -> dict:
    n, kind = case["n"], case["kind"]
    lower, upper = _bound_tree(case, case["lower"]), _bound_tree(case, case["upper"])
    huge = 1e30 if "float32" in _leaf_dtypes(case) else 1e300
    ball = L2Ball(4.0)
    half = HalfSpace(jnp.ones(n), 2.0 * n)
    box = Box(jnp.asarray(case["lower"]), jnp.asarray(case["upper"]))
    return {
        "none": {},
        "bounds": dict(bounds=(lower, upper)),
        "lower_only": dict(bounds=(lower, None)),
        "upper_only": dict(bounds=(None, upper)),
        "lower_to_inf": dict(bounds=(lower, np.inf)),
        "lower_to_huge": dict(bounds=(lower, huge)),
        "box_in_intersection": dict(constraint=Intersection((box, ball))),
        "nested_intersection": dict(constraint=Intersection((Intersection((box, half)), ball))),
        "bounds_with_intersection": dict(
            bounds=(lower, upper), constraint=Intersection((ball, half))
        ),
        # |x_j| ≤ 2 in the box (lower ≥ −2, width ≤ 3): the ball of radius 2n + 1 meets it.
        "bounds_with_l1_ball": dict(bounds=(lower, upper), constraint=L1Ball(2.0 * n + 1.0)),
        "ball": dict(constraint=ball),
        "l1_ball": dict(constraint=L1Ball(3.0)),
        "simplex": dict(constraint=Simplex(0.5 * n)),
    }[kind]


def _box_limits(case: dict) -> tuple[np.ndarray, np.ndarray]:
    """The box every evaluated point must lie in, for the compositions in ``BOXED``."""
    lower, upper = case["lower"], case["upper"]
    inf = np.full_like(lower, np.inf)
    return {"lower_only": (lower, inf), "upper_only": (-inf, upper)}.get(
        case["kind"], (lower, inf if case["kind"].startswith("lower_to") else upper)
    )


def _working_dtype(case: dict) -> str:
    return "float64" if "float64" in _leaf_dtypes(case) else "float32"


def make_case(config: dict, rng: np.random.Generator) -> dict:
    """The free data of a case of ``config``."""
    n, dtype = config["n"], _working_dtype(config)
    lower = rng.uniform(-2.0, 0.0, n)
    # A fixed variable must be a number of the working dtype, and a bound must not be
    # subnormal in it (else: a ValueError, tested in test_promises.py and
    # test_constraints.py).
    lower = lower.astype(np.float32 if "float32" in _leaf_dtypes(config) else dtype)
    lower = lower.astype(np.float64)
    width = rng.choice([0.0, 0.5, 1.0, 3.0], n)
    if not width.any():
        width[0] = 1.0  # at least one free variable
    return dict(
        config,
        lower=lower,
        upper=lower + width,
        x0=rng.uniform(-3.0, 3.0, n),
        x0_other=rng.uniform(-3.0, 3.0, n),
        center=rng.uniform(-3.0, 3.0, n),
        weights=rng.choice([1.0, 10.0, 100.0], n),
        budget=int(rng.integers(1, 65)),  # one size class of the history: one program
        nan_rate=float(rng.choice([0.0, 0.0, 0.05, 0.3])),
        inf_rate=float(rng.choice([0.0, 0.0, 0.05])),
    )


def _solve(case: dict):
    """The solver and its keyword arguments for ``case``."""
    residuals = case["entry"] == "least_squares"
    kwargs = dict(
        max_evals=case["budget"],
        options=trfd_jax.Options(fd_scheme=case["scheme"], hessian=case["hessian"]),
        **_constraint(case),
    )
    kwargs["search"] = {
        "none": None,
        "model_before": ModelSearch(before_gradient=True),
        "model_after": ModelSearch(),
        "gauss_newton": GaussNewtonSearch(),
        "gauss_newton_after": GaussNewtonSearch(before_gradient=False),
    }[case["search"]]
    solve = trfd_jax.least_squares if residuals else trfd_jax.minimize
    return solve, kwargs


def _run(case: dict, x0: np.ndarray | None = None):
    HOST.update(case=case, points=[], values=[])
    solve, kwargs = _solve(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # x0 projected onto Ω; float32
        return solve(_objective(case), _tree(case, case["x0"] if x0 is None else x0), **kwargs)


def _flat(x) -> np.ndarray:
    if isinstance(x, dict):
        return np.concatenate([np.asarray(x["a"], np.float64), np.asarray(x["b"], np.float64)])
    return np.asarray(x)


def _check_vmap_equals_loop(case: dict) -> None:
    solve, kwargs = _solve(case)
    fun = _objective(case)
    starts = [_tree(case, case["x0"]), _tree(case, case["x0_other"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        HOST.update(case=case, points=[], values=[])
        batched = jax.vmap(lambda x: solve(fun, x, **kwargs))(
            jax.tree.map(lambda *leaves: jnp.stack(leaves), *starts)
        )
        single = [solve(fun, x, **kwargs) for x in starts]
    for i, one in enumerate(single):
        for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(batched), strict=True):
            np.testing.assert_array_equal(np.asarray(b)[i], np.asarray(a))


def check_case(case: dict) -> None:
    n = case["n"]
    minimum = 2 + n * (2 if case["scheme"] == "central" else 1)
    if case["budget"] < minimum:
        with pytest.raises(ValueError, match="too small"):
            _run(case)
        return
    r = _run(case)
    points, values = np.array(HOST["points"]), np.array(HOST["values"])
    x = _flat(r.x)
    # The budget, counted on the host.  A JAX objective (the pytree form) is computed over
    # whole blocks of rows (one vmap over a gradient's or a search's points), some of
    # which the record does not count (past the budget, say): its host calls may exceed
    # nfev, never a black box's.
    exact = case["form"] == "flat"
    assert int(r.nfev) <= case["budget"]
    assert len(points) == int(r.nfev) if exact else len(points) >= int(r.nfev)
    # Unrelaxable bounds: every evaluated point, exactly.
    if case["kind"] in BOXED:
        lower, upper = _box_limits(case)
        assert np.all((points >= lower) & (points <= upper))
        assert np.all((x >= lower) & (x <= upper))
    # The returned point is in Ω (up to the set's feasibility tolerance, in the coarsest
    # dtype of x's leaves: a float32 leaf holds x_j only to float32's rounding).
    constraint = _constraint(case).get("constraint")
    x_dtype = jnp.dtype("float32" if "float32" in _leaf_dtypes(case) else "float64")
    if constraint is not None:
        c = constraint.validate(n, x_dtype)
        assert bool(c.contains(jnp.asarray(x, x_dtype)))
    c_dtype = jnp.dtype(_working_dtype(case))  # the solver's own test of a point
    # Result.f: the best finite value seen at a feasible point, and x is where it was seen.
    finite = np.isfinite(values)
    if constraint is not None:
        c = constraint.validate(n, c_dtype)
        finite &= np.array([bool(c.contains(jnp.asarray(p, c_dtype))) for p in points])
    if not finite.any():
        assert not np.isfinite(float(r.f)) and not bool(r.success)
        return
    best = values[finite].min()
    assert np.isfinite(float(r.f))
    # Exact for f; in least squares f = ½‖F‖² is summed by XLA (and here by NumPy), so
    # two points whose values differ in the last bits may be ranked differently.
    rtol, atol = (1e-15 if case["entry"] == "least_squares" else 0.0), 0.0
    if _working_dtype(case) == "float32":  # the host's float64 values, rounded to float32
        best = float(np.float32(best))
        rtol, atol = 2e-6, float(np.finfo(np.float32).tiny)
    # Bit for bit, as the faults are injected: −0.0 and +0.0 are different points here.
    x_bits = np.asarray(x, points.dtype).tobytes()
    at_x = np.array([p.tobytes() == x_bits for p in points])
    assert at_x.any()
    if not exact:  # f is the value at x, and no uncounted row is needed to reach it
        np.testing.assert_allclose(float(r.f), values[at_x].min(), rtol=rtol, atol=atol)
        assert float(r.f) >= best * (1 - rtol) - atol
        best = float(r.f)
    np.testing.assert_allclose(float(r.f), best, rtol=rtol, atol=atol)
    np.testing.assert_allclose(values[at_x].min(), best, rtol=rtol, atol=atol)
    # The history: nonincreasing, ending at f.
    history = np.asarray(r.history)[: int(r.nfev)]
    assert np.all(np.diff(history[np.isfinite(history)]) <= 0)
    assert float(np.asarray(r.history)[-1]) == float(r.f)
    if case["vmap"]:
        _check_vmap_equals_loop(case)


# The CI profile: TRFD_PROPERTY_CI_CASES cases (12 by default) in three seeded shards, so
# that the two workers of the README's test command share them.  Each case compiles its
# own configuration (about 3 s); the long profile below runs 10,000.
_CI_CASES = int(os.environ.get("TRFD_PROPERTY_CI_CASES", "12"))
_CI_SHARDS = 3


@st.composite
def cases(draw):
    config = draw(st.sampled_from(CONFIGURATIONS))
    return make_case(config, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))


def _ci_shard(k: int):
    @seed(k)
    @settings(
        max_examples=-(-_CI_CASES // _CI_SHARDS),
        deadline=None,
        derandomize=False,  # the seed above fixes the sequence; a shard per seed
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases())
    def test(case):
        check_case(case)
        _OBJECTIVES.clear()
        jax.clear_caches()  # one configuration per case here: nothing to share

    test.__name__ = f"test_promises_hold_in_every_configuration_{k}"
    return test


test_promises_hold_in_every_configuration_0 = _ci_shard(0)
test_promises_hold_in_every_configuration_1 = _ci_shard(1)
test_promises_hold_in_every_configuration_2 = _ci_shard(2)


VMAP_CASES_PER_CONFIGURATION = 4


@pytest.mark.slow
def test_long_profile():
    """TRFD_PROPERTY_CASES cases over the configurations of this shard, each
    configuration compiled once; a failing case is printed whole, to be rerun."""
    total = int(os.environ.get("TRFD_PROPERTY_CASES", "10000"))
    shards = int(os.environ.get("TRFD_PROPERTY_SHARDS", "1"))
    shard = int(os.environ.get("TRFD_PROPERTY_SEED", "0"))
    # The first k configurations (TRFD_PROPERTY_CONFIGURATIONS; every value of every axis
    # is in the first 64): fewer compilations, more cases each.
    configurations = CONFIGURATIONS[: int(os.environ.get("TRFD_PROPERTY_CONFIGURATIONS", "256"))]
    counts = {"cases": 0, "refused": 0, "vmap": 0}
    for index, config in enumerate(configurations):
        if index % shards != shard:
            continue
        per_config = total // len(configurations) + (index < total % len(configurations))
        rng = np.random.default_rng([index, 20261208])
        for j in range(per_config):
            case = make_case(config, rng)
            # vmap = loop on the first cases of a configuration (two compiled programs
            # more, and three runs per case).
            case["vmap"] = config["vmap"] and j < VMAP_CASES_PER_CONFIGURATION
            try:
                check_case(case)
            except Exception:
                print("failing case:", case)
                raise
            counts["cases"] += 1
            counts["refused"] += case["budget"] < 2 + case["n"] * (
                2 if case["scheme"] == "central" else 1
            )
            counts["vmap"] += bool(case["vmap"])
        _OBJECTIVES.clear()
        jax.clear_caches()  # a process holds only so many compiled programs' mappings
        print(f"configuration {index}: {counts}", flush=True)  # progress, with -s
    print(f"long profile, shard {shard} of {shards}: {counts}")
    assert counts["cases"] > 0


def test_the_same_case_twice_gives_the_same_result():
    case = dict(
        n=3,
        entry="minimize",
        search="model_before",
        scheme="forward",
        kind="bounds",
        lower=np.array([-1.0, -2.0, 0.0]),
        upper=np.array([1.0, 1.0, 0.0]),
        x0=np.array([0.5, -1.0, 0.0]),
        center=np.array([2.0, -0.5, 1.0]),
        weights=np.array([1.0, 10.0, 100.0]),
        budget=60,
        nan_rate=0.05,
        inf_rate=0.05,
        dtype="float64",
        form="flat",
        hessian="bfgs",
        vmap=False,
    )
    first, second = _run(case), _run(case)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(a, b)
