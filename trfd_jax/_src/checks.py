"""Every check of the public boundary, made once, before anything is traced.

Shapes and dtypes are known even for tracers, so the structural checks (x0's shape, the
objective's output, the budget, the sets' shapes) always run; value checks (finite x0,
lower ≤ upper) run where the values are concrete.  Each failure is a ``TypeError`` or
``ValueError`` that names the argument and the fix.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax._src.black_box import BlackBox
from trfd_jax._src.objective import (
    BatchObjective,
    Hoisted,
    Objective,
    Traced,
    call,
    trace_key,
)
from trfd_jax._src.options import Options
from trfd_jax._src.problem import Problem
from trfd_jax._src.pytree import OnTree, Structure, is_flat
from trfd_jax._src.search import SearchStep
from trfd_jax._src.sets import Box, ConvexSet, Intersection, none_as_unbounded

Array = jax.Array


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def prepare_x0(x0: Any) -> Array:
    """x0 as a floating 1-D array; clear errors for wrong shapes or non-finite entries."""
    if isinstance(x0, (list, tuple)) or np.isscalar(x0):
        x0 = np.asarray(x0)
    if not hasattr(x0, "shape") or not hasattr(x0, "dtype"):
        raise TypeError(f"x0 must be an array of shape (n,), got {type(x0).__name__}.")
    dtype = jnp.dtype(x0.dtype)
    if not (jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.bool_)):
        raise TypeError(f"x0 must be a numeric array, got dtype {dtype}.")
    if x0.ndim != 1:
        raise ValueError(
            f"x0 must have shape (n,), got shape {tuple(x0.shape)}; for several starts, "
            "use jax.vmap over minimize; to optimize a matrix, pass it in a pytree, e.g. "
            "{'w': w}."
        )
    if x0.shape[0] == 0:
        raise ValueError("x0 must have at least one entry (n ≥ 1).")
    dtype = jnp.dtype(x0.dtype)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError("x0 must be real; complex x0 is not supported.")
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.dtype(jnp.result_type(float))  # promote integers and booleans
    if dtype == jnp.float16 or dtype == jnp.bfloat16:
        raise TypeError(
            f"x0 has dtype {dtype}: finite differences need float32 or float64 (float64 "
            "advised: enable jax_enable_x64)."
        )
    if _is_concrete(x0) and not np.all(np.isfinite(np.asarray(x0))):
        raise ValueError("x0 has non-finite entries (NaN or inf); give a finite start.")
    x0 = _flush_subnormal(x0, dtype)
    if dtype == jnp.float32:
        warnings.warn(
            "trfd_jax is running in float32: finite-difference gradients are much less "
            "accurate than in float64 (steps are scaled to float32's epsilon). Enable "
            "float64 with jax.config.update('jax_enable_x64', True) where you can.",
            stacklevel=3,
        )
    return jnp.asarray(x0, dtype)


def _flush_subnormal(x0: Any, dtype: Any) -> Any:
    """x0 with its subnormal entries set to 0, as XLA would set them.

    XLA flushes subnormal numbers to zero in its arithmetic, but a host objective would
    see x0 as given: the start the host evaluated and the start the solver iterates from
    would differ (by less than the dtype's smallest normal number).  Zero is used for
    both, with a warning where x0 is concrete.
    """
    tiny = np.finfo(np.dtype(dtype)).tiny
    if _is_concrete(x0):
        x = np.asarray(x0, dtype)
        sub = (x != 0) & (np.abs(x) < tiny)
        if sub.any():
            warnings.warn(
                f"x0 has {int(sub.sum())} subnormal entries (0 < |x| < {tiny:.3g}); they "
                "are set to 0, as XLA's arithmetic would.",
                stacklevel=4,
            )
            x = np.where(sub, np.zeros((), dtype), x)
        return x
    x = jnp.asarray(x0, dtype)
    return jnp.where(jnp.abs(x) < tiny, jnp.zeros((), dtype), x)


def make_objective(
    fun: Any, x0: Array, args: Any, *, residuals: bool = False, has_aux: bool = False
) -> tuple[Objective, Any]:
    """The :class:`Objective` of ``fun`` and the ``args`` it takes.

    ``fun`` is traced once here: it must map (n,) to a real scalar, or to F(x) ∈ Rᵐ for
    least squares (``residuals=True``).  A function that closes over traced arrays (inside
    the caller's ``jit`` or ``vmap``) is closure-converted: those arrays are taken out of
    the function and passed as data with ``args``, so that they can be batched like any
    other data (and the solver's own ``vmap`` rule sees them).  With ``has_aux``, ``fun``
    returns ``(value, aux)``, aux any pytree of arrays (optimistix's convention).
    """
    if isinstance(fun, BatchObjective):
        if has_aux:
            raise TypeError("has_aux=True needs a JAX-native objective, not a black box.")
        # A batch objective says what it returns; it checks its outputs itself.
        m = getattr(fun, "residuals", None)
        if residuals and m is None:
            raise TypeError(
                "least_squares needs a black box of residuals: black_box(fn, residuals=m)."
            )
        if not residuals and m is not None:
            raise TypeError("this black box returns residuals: use trfd_jax.least_squares.")
        if isinstance(fun, BlackBox):
            if args is not None:
                raise TypeError("a black-box objective takes no args: capture its data in fn.")
            # The host function is data: its handle, so one program serves every black box.
            args = jnp.asarray(fun.handle, jnp.int32)
        return Objective(fun, m), args
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}.")
    try:
        closed, out = jax.make_jaxpr(lambda x, a: call(fun, x, a), return_shape=True)(x0, args)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError) as e:
        # (TracerBoolConversionError and TracerIntegerConversionError are subclasses.)
        name = getattr(fun, "__name__", type(fun).__name__)
        raise TypeError(
            f"the objective {name!r} cannot be traced by JAX: {type(e).__name__} (a Python "
            "`if`/`while`/`bool()`/`int()` on a value that depends on x, or NumPy code).  "
            "Write the branch with jnp.where or jax.lax.cond, or wrap a NumPy objective "
            "with trfd_jax.black_box(fn).  JAX's message follows."
        ) from e
    out_tree = jax.tree.structure(out)
    aux = None
    if has_aux:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("with has_aux=True, fun must return a pair (value, aux).")
        out, aux_shapes = out
        aux = (jax.tree.structure(aux_shapes), tuple(jax.tree.leaves(aux_shapes)))
    if not hasattr(out, "shape") or not hasattr(out, "dtype"):
        raise TypeError(f"fun must return an array, got {out!r}.")
    if not (jnp.issubdtype(out.dtype, jnp.floating) or jnp.issubdtype(out.dtype, jnp.integer)):
        raise TypeError(f"fun must return real numbers, but it returns dtype {out.dtype}.")
    if residuals:
        if len(out.shape) != 1 or out.shape[0] < 1:
            raise ValueError(
                f"residuals must return a vector F(x) of shape (m,), got shape {out.shape}."
            )
    elif out.shape != ():
        raise ValueError(
            f"fun must return a scalar (shape ()), but it returns shape {out.shape}; for a "
            "least-squares problem pass the sum of squares, or use trfd_jax.least_squares."
        )
    if closed.consts:
        # Captured arrays, traced or concrete, are data: a loop over new data (a new
        # closure each time) reuses the solver compiled for the first.
        key = trace_key(closed.jaxpr, out_tree)
        fun, args = Hoisted(closed.jaxpr, out_tree, key), (args, tuple(closed.consts))
    elif not isinstance(fun, Traced):
        # A new closure of the same code reuses the compiled solver.
        fun = Traced(fun, trace_key(closed, out_tree))
    return Objective(fun, int(out.shape[0]) if residuals else None, aux), args


_MAX_BUDGET = 2**31 - 2  # evaluation counters are int32


def default_max_evals(n: int) -> int:
    """100 (n + 1): 100 simplex gradients, the budget of both papers."""
    return 100 * (n + 1)


def check_max_evals(max_evals: Any, n: int, options: Options) -> int:
    """The budget must pay for f(x₀), one gradient and one trial point."""
    if max_evals is None:
        return default_max_evals(n)
    if isinstance(max_evals, bool) or not isinstance(max_evals, (int, np.integer)):
        raise TypeError(f"max_evals must be a Python int, got {type(max_evals).__name__}.")
    if max_evals > _MAX_BUDGET:
        raise ValueError(f"max_evals={max_evals} exceeds the supported maximum {_MAX_BUDGET}.")
    minimum = 1 + options.evals_per_gradient_factor * n + 1
    if max_evals < minimum:
        raise ValueError(
            f"max_evals={max_evals} is too small for one iteration in dimension n={n}: "
            f"f(x0), one {options.fd_scheme}-difference gradient and one trial point need "
            f"{minimum} evaluations."
        )
    return int(max_evals)


def _is_pair(item: Any) -> bool:
    """A scipy-style ``(lo, hi)`` bound of one variable: two numbers (or None)."""
    return (
        isinstance(item, (tuple, list))
        and len(item) == 2
        and all(v is None or np.isscalar(v) for v in item)
    )


def make_box(bounds: Any, n: int, structure: Structure | None) -> Box:
    """``bounds`` as a :class:`Box` on the flat vector.

    Accepted: a :class:`Box`; ``(lower, upper)`` (scalars, shape (n,) arrays, or pytrees of
    x0's structure); ``scipy.optimize.Bounds``; scipy's sequence of n ``(lo, hi)`` pairs
    (None for no bound).  With n = 2 a pair of two 2-sequences of numbers reads both ways:
    that is an error naming both readings, never a silent guess.
    """
    if isinstance(bounds, Box):
        lower, upper, relaxable = bounds.lower, bounds.upper, bounds.relaxable
    elif hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
        lower, upper, relaxable = bounds.lb, bounds.ub, False
    elif isinstance(bounds, (tuple, list)):
        pairs = structure is None and len(bounds) == n and all(_is_pair(b) for b in bounds)
        if pairs and len(bounds) == 2:
            raise ValueError(
                f"bounds={bounds!r} is ambiguous for n = 2: it reads as scipy's per-variable "
                f"pairs (x[0] in {tuple(bounds[0])}, x[1] in {tuple(bounds[1])}) and as "
                f"(lower={tuple(bounds[0])}, upper={tuple(bounds[1])}). Pass arrays "
                "(jnp.array(lower), jnp.array(upper)), trfd_jax.Box(lower, upper) or "
                "scipy.optimize.Bounds(lower, upper)."
            )
        if pairs:
            lower = [-np.inf if lo is None else lo for lo, _ in bounds]
            upper = [np.inf if hi is None else hi for _, hi in bounds]
        elif len(bounds) == 2:
            lower, upper = bounds
        else:
            raise TypeError(
                f"bounds has {len(bounds)} entries: give (lower, upper), n = {n} (lo, hi) "
                "pairs, a trfd_jax.Box or scipy.optimize.Bounds."
            )
        relaxable = False
    else:
        raise TypeError(
            "bounds must be (lower, upper), a sequence of (lo, hi) pairs, a trfd_jax.Box or "
            f"scipy.optimize.Bounds, got {type(bounds).__name__}."
        )
    lower, upper = none_as_unbounded(lower, -np.inf), none_as_unbounded(upper, np.inf)
    if structure is not None:
        exact = [_ravel_bound(structure, b, None) for b in (lower, upper)]
        if not relaxable:
            lower = _ravel_bound(structure, lower, np.inf)
            upper = _ravel_bound(structure, upper, -np.inf)
            _check_representable(structure, exact, (lower, upper))
        else:
            lower, upper = exact
    return Box(lower, upper, relaxable)


def _check_representable(structure: Structure, exact: list, rounded: tuple) -> None:
    """An unrelaxable bound pair that holds no number of its leaf's dtype is an error."""
    if any_tracer(exact) or any_tracer(rounded):
        return
    empty = (np.asarray(rounded[0]) > np.asarray(rounded[1])) & (
        np.asarray(exact[0]) <= np.asarray(exact[1])
    )
    if empty.any():
        j = int(np.flatnonzero(empty)[0])
        leaf_of = np.repeat(
            np.arange(len(structure.shapes)), [math.prod(s) for s in structure.shapes]
        )
        dtype = np.dtype(structure.dtypes[leaf_of[j]]).name
        raise ValueError(
            f"No {dtype} number lies in the unrelaxable bounds at flat index {j} "
            f"([{float(exact[0][j])!r}, {float(exact[1][j])!r}]): give bounds representable "
            f"in that leaf's dtype, or make the leaf float64."
        )


def _ravel_bound(structure: Structure, bound: Any, toward: float | None) -> Array:
    """A bound given for a pytree x0: a scalar, or a tree of x0's structure.

    Concrete bounds are flattened in float64 (NumPy, whatever ``jax_enable_x64`` says), each
    leaf's entries rounded inward (towards ``toward``; None: not at all) to that leaf's own
    dtype.  The box's validation then rounds into the working dtype once more: casting each
    leaf first would round a bound such as 0.3 outward in float32, and a float32 leaf of a
    float64 run would cross it when ``Result.x`` and each evaluation cast it back.
    """
    try:
        return _ravel_bound_leaves(structure, bound, toward)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"a bound for a pytree x0 must be a scalar or a pytree of x0's structure: {error}"
        ) from None


def _ravel_bound_leaves(structure: Structure, bound: Any, toward: float | None) -> Array:
    scalar = np.isscalar(bound) or (hasattr(bound, "ndim") and bound.ndim == 0)
    if any_tracer(bound):
        dtype = structure.dtype
        return jnp.full(structure.size, bound, dtype) if scalar else structure.ravel(bound, dtype)
    leaves = [bound] * len(structure.shapes) if scalar else structure.treedef.flatten_up_to(bound)
    parts = []
    for leaf, shape, leaf_dtype in zip(leaves, structure.shapes, structure.dtypes, strict=True):
        wide = np.broadcast_to(np.asarray(leaf, np.float64), shape).reshape(-1)
        if toward is not None and np.dtype(leaf_dtype).itemsize < 8:
            narrow = wide.astype(leaf_dtype)
            outward = narrow.astype(np.float64) < wide if toward > 0 else narrow > wide
            narrow = np.where(outward, np.nextafter(narrow, np.asarray(toward, leaf_dtype)), narrow)
            wide = narrow.astype(np.float64)
        parts.append(wide)
    return np.concatenate(parts)


def make_constraint(
    bounds: Any, constraint: Any, n: int, dtype: Any, structure: Structure | None = None
) -> ConvexSet | None:
    """The feasible set from ``bounds`` and/or ``constraint``, checked against Rⁿ."""
    box = None if bounds is None else make_box(bounds, n, structure)
    if constraint is not None and not isinstance(constraint, ConvexSet):
        raise TypeError(
            "constraint must be a trfd_jax set (Box, L2Ball, Simplex, L1Ball, NonNegative, "
            f"HalfSpace, Projection, Intersection), got {type(constraint).__name__}."
        )
    if isinstance(constraint, Box) and structure is not None:
        constraint = make_box(constraint, n, structure)
    if box is not None and constraint is not None:
        constraint = Intersection((box, constraint))
    elif box is not None:
        constraint = box
    return None if constraint is None else constraint.validate(n, dtype)


# Compiled, not run op by op: a concrete x0 (a loop over starts) is then projected by the
# same fused arithmetic as a traced one (inside the caller's jit(vmap)), to the bit.
_project = jax.jit(lambda constraint, x: constraint.project(x))


def project_x0(constraint: ConvexSet, x0: Array) -> Array:
    """x0 projected onto Ω (with a warning when a concrete x0 moves)."""
    projected = _project(constraint, x0)
    # The projection rounds in proportion to its input: x0 = (100, 100.3, 99.3) lands
    # 1.4e-14 off the unit simplex, past a membership tolerance scaled by the projected
    # point.  Projected once more, from a point of Ω's own size, it rounds as Ω's points do.
    projected = _project(constraint, projected)
    if _is_concrete(x0) and _is_concrete(projected) and not any_tracer(constraint):
        if not bool(constraint.contains(projected)):
            raise ValueError(
                "x0 could not be projected onto the feasible set: the intersection of the "
                "sets looks empty (or Dykstra's projection did not converge; raise "
                "Intersection.max_iter)."
            )
        if not np.array_equal(np.asarray(projected), np.asarray(x0)):
            where = "the bounds" if not constraint.relaxable else "the feasible set"
            warnings.warn(
                f"x0 lies outside {where}; it was projected onto it before any evaluation.",
                stacklevel=4,
            )
    return projected


def any_tracer(tree: Any) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))


def history_size(max_evals: int, cap: int | None = None) -> int:
    """H: max_evals rounded up to a power of two, at least 64 and at most ``cap`` (the
    budget is data; only H is compiled in, so nearby budgets share one compiled solver,
    and an unused budget costs no memory)."""
    size = max(64, 1 << (max_evals - 1).bit_length())
    return size if cap is None else min(size, cap)


def check_search(search: Any, residuals: bool) -> SearchStep | None:
    """``search`` must be a :class:`SearchStep` (or None) that fits the objective's kind."""
    if search is None:
        return None
    if not isinstance(search, SearchStep):
        raise TypeError(
            f"search must be a trfd_jax.SearchStep (or None), got {type(search).__name__}."
        )
    if search.needs_residuals() and not residuals:
        raise ValueError(f"{type(search).__name__} needs residuals: use trfd_jax.least_squares.")
    return search


def make_problem(
    fun: Callable[..., Any],
    x0: Any,
    *,
    max_evals: int | None = None,
    options: Options | None = None,
    args: Any = None,
    bounds: Any = None,
    constraint: Any = None,
    verbose: bool = False,
    progress: bool = False,
    callback: Callable[..., Any] | None = None,
    search: SearchStep | None = None,
    residuals: bool = False,
    has_aux: bool = False,
) -> tuple[Problem, Array]:
    """Check every input and build the :class:`Problem` and the prepared (projected) x0.

    The arguments are those of :func:`trfd_jax.minimize`; ``residuals=True`` is
    least-squares mode: ``fun`` returns F(x) and f = ‖F(x)‖².  Everything is checked here,
    once, before anything is traced; the options' dtype-dependent defaults are resolved
    here too.
    """
    if options is None:
        options = Options()
    if not isinstance(options, Options):
        raise TypeError(f"options must be a trfd_jax.Options, got {type(options).__name__}.")
    structure = None
    if not is_flat(x0):
        if isinstance(fun, BatchObjective):
            raise TypeError("a black-box objective takes a flat x0 of shape (n,), not a pytree.")
        structure = Structure.of(x0)
        x0 = structure.ravel(x0, structure.dtype)
        fun = OnTree(fun, structure)
    x0 = prepare_x0(x0)
    n = x0.shape[0]
    parameters = options.resolved(n, x0.dtype)
    max_evals = check_max_evals(max_evals, n, options)
    objective, args = make_objective(fun, x0, args, residuals=residuals, has_aux=has_aux)
    if options.hessian == "gauss_newton" and not residuals:
        raise ValueError('Options(hessian="gauss_newton") needs trfd_jax.least_squares.')
    search = check_search(search, residuals)
    if progress:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            raise ImportError("progress=True needs tqdm: pip install tqdm") from None
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}.")
    constraint = make_constraint(bounds, constraint, n, x0.dtype, structure)
    if constraint is not None:
        x0 = project_x0(constraint, x0)
    for name, flag in (("verbose", verbose), ("progress", progress)):
        if not (isinstance(flag, (bool, np.bool_)) or (isinstance(flag, int) and flag in (0, 1))):
            # ("yes" or 2 would silently mean True)
            raise TypeError(f"{name} must be True or False, got {flag!r}.")
    problem = Problem(
        objective=objective,
        max_evals=jnp.asarray(max_evals, jnp.int32),
        history_size=history_size(max_evals, options.history_size),
        options=options,
        parameters=parameters,
        args=args,
        constraint=constraint,
        search=search,
        verbose=bool(verbose),
        progress=bool(progress),
        callback=callback,
        structure=structure,
    )
    return problem, x0
