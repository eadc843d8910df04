"""The driver: input checks at the public boundary, the ``lax.while_loop``, the Result."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from trfd_jax._src import algorithm
from trfd_jax._src.black_box import BlackBox
from trfd_jax._src.evaluation import BatchObjective, call_objective
from trfd_jax._src.observe import observe
from trfd_jax._src.options import Options
from trfd_jax._src.problem import Problem
from trfd_jax._src.search import GaussNewtonSearch, SearchStep
from trfd_jax._src.sets import Box, ConvexSet, Intersection
from trfd_jax._src.state import State
from trfd_jax._src.status import Status, status_message

Array = jax.Array


class Result(NamedTuple):
    """The outcome of a run (a pytree: under ``vmap`` every field gains a batch axis).

    Attributes:
        x: best point seen (feasible), shape (n,).
        f: its value, the lowest value seen at a feasible point.
        nfev: evaluations used (never above ``max_evals``).
        nit: iterations.
        status: a :class:`Status` code; ``message`` explains it on the host.
        history: best value after each evaluation, shape (max_evals,), padded after the end
            of the run with the final best value (+inf only if f(x₀) was not finite).
        radius: final trust-region radius Δ.
        fd_step: final finite-difference step τ.
        gradient: the last finite-difference gradient g (at the last iterate).
        n_successful, n_type_i, n_type_ii: counts of the iteration kinds of Steps 3–4.
        n_search, n_search_successful: search steps tried and accepted (second paper).
    """

    x: Array
    f: Array
    nfev: Array
    nit: Array
    status: Array
    history: Array
    radius: Array
    fd_step: Array
    gradient: Array
    n_successful: Array
    n_type_i: Array
    n_type_ii: Array
    n_search: Array
    n_search_successful: Array

    @property
    def message(self) -> str | list:
        """Host-side explanation of ``status`` (a list for batched results)."""
        return status_message(np.asarray(self.status))

    @property
    def success(self) -> Array:
        """Whether the run stopped by a convergence test (Δ ≤ Δ_tol or the target)."""
        return (self.status == Status.RADIUS_TOL) | (self.status == Status.TARGET_REACHED)


def result(problem: Problem, state: State) -> Result:
    """The :class:`Result` of a (finished or not) state: best point and padded history."""
    index = jnp.arange(problem.max_evals, dtype=state.nfev.dtype)
    history = jnp.where(index < state.nfev, state.history, state.best_f)
    return Result(
        x=state.best_x,
        f=state.best_f,
        nfev=state.nfev,
        nit=state.nit,
        status=state.status,
        history=history,
        radius=state.radius,
        fd_step=state.fd_step,
        gradient=state.gradient,
        n_successful=state.n_successful,
        n_type_i=state.n_type_i,
        n_type_ii=state.n_type_ii,
        n_search=state.n_search,
        n_search_successful=state.n_search_successful,
    )


def _loop(problem: Problem, x0: Array) -> Result:
    """``init``, then ``step`` in a ``lax.while_loop`` until ``terminate``."""
    state = algorithm.init(problem, x0)
    state = lax.while_loop(
        lambda s: ~algorithm.terminate(problem, s),
        lambda s: _observed_step(problem, s),
        state,
    )
    return result(problem, state)


def _observed_step(problem: Problem, state: State) -> State:
    """``step``, then the iteration log and the user callback when they are on."""
    return observe(problem.verbose, problem.callback, state, algorithm.step(problem, state))


@jax.custom_batching.custom_vmap
def run(problem: Problem, x0: Array) -> Result:
    """``init``, then ``step`` in a ``lax.while_loop`` until ``terminate``; no input checks.

    Under ``jax.vmap`` (multi-start) a custom batching rule runs one loop over the whole
    batch with the unbatched condition "some start is still running", and ``step`` itself
    leaves finished starts untouched.  The default rule of a ``while_loop`` with a batched
    condition would instead select between the old and new state of every start after
    every iteration, copying the (max_evals,) histories each time.
    """
    return _loop(problem, x0)


@run.def_vmap
def _run_batched(axis_size: int, in_batched: Any, problem: Problem, x0: Array):
    problem_batched, x0_batched = in_batched
    problem_axes = jax.tree.map(lambda b: 0 if b else None, problem_batched)
    x0_axis = 0 if x0_batched else None
    state = jax.vmap(algorithm.init, in_axes=(problem_axes, x0_axis), axis_size=axis_size)(
        problem, x0
    )
    batched_step = jax.vmap(_observed_step, in_axes=(problem_axes, 0))
    state = lax.while_loop(
        lambda s: jnp.any(~algorithm.terminate(problem, s)),
        lambda s: batched_step(problem, s),
        state,
    )
    out = jax.vmap(result, in_axes=(problem_axes, 0))(problem, state)
    return out, jax.tree.map(lambda _: True, out)


_run_jit = jax.jit(run)


# --------------------------------------------------------------------------------------
# Input checks (before tracing: shapes and dtypes are known even for tracers)
# --------------------------------------------------------------------------------------


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
            "use jax.vmap over minimize."
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
    if dtype == jnp.float32:
        warnings.warn(
            "trfd_jax is running in float32: finite-difference gradients are much less "
            "accurate than in float64 (steps are scaled to float32's epsilon). Enable "
            "float64 with jax.config.update('jax_enable_x64', True) where you can.",
            stacklevel=3,
        )
    return jnp.asarray(x0, dtype)


def check_objective(fun: Any, x0: Array, args: Any, *, residuals: bool = False) -> int | None:
    """The objective must map (n,) to a real scalar (or to F(x) ∈ Rᵐ for least squares):
    checked with ``jax.eval_shape``.  Returns m in least-squares mode."""
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}.")
    if isinstance(fun, BlackBox):
        if residuals and fun.residuals is None:
            raise TypeError(
                "least_squares needs a black box of residuals: black_box(fn, residuals=m)."
            )
        if not residuals and fun.residuals is not None:
            raise TypeError("this black box returns residuals: use trfd_jax.least_squares.")
        return fun.residuals
    if isinstance(fun, BatchObjective):
        return None  # an evaluate_batch object checks its outputs itself
    spec = jax.ShapeDtypeStruct(x0.shape, x0.dtype)
    out = jax.eval_shape(lambda x: call_objective(fun, x, args), spec)
    if not hasattr(out, "shape") or not hasattr(out, "dtype"):
        raise TypeError(f"fun must return an array, got {out!r}.")
    if not (jnp.issubdtype(out.dtype, jnp.floating) or jnp.issubdtype(out.dtype, jnp.integer)):
        raise TypeError(f"fun must return real numbers, but it returns dtype {out.dtype}.")
    if residuals:
        if len(out.shape) != 1 or out.shape[0] < 1:
            raise ValueError(
                f"residuals must return a vector F(x) of shape (m,), got shape {out.shape}."
            )
        return int(out.shape[0])
    if out.shape != ():
        raise ValueError(
            f"fun must return a scalar (shape ()), but it returns shape {out.shape}; for a "
            "least-squares problem pass the sum of squares, or use trfd_jax.least_squares."
        )
    return None


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


def make_constraint(bounds: Any, constraint: Any, n: int, dtype: Any) -> ConvexSet | None:
    """The feasible set from ``bounds`` and/or ``constraint``, checked against Rⁿ."""
    box = None
    if bounds is not None:
        if isinstance(bounds, Box):
            box = bounds
        elif isinstance(bounds, (tuple, list)) and len(bounds) == 2:
            box = Box(*bounds)
        else:
            raise TypeError("bounds must be a pair (lower, upper) or a trfd_jax.Box.")
    if constraint is not None and not isinstance(constraint, ConvexSet):
        raise TypeError(
            "constraint must be a trfd_jax set (Box, L2Ball, Simplex, L1Ball, NonNegative, "
            f"HalfSpace, Projection, Intersection), got {type(constraint).__name__}."
        )
    if box is not None and constraint is not None:
        constraint = Intersection((box, constraint))
    elif box is not None:
        constraint = box
    return None if constraint is None else constraint.validate(n, dtype)


def project_x0(constraint: ConvexSet, x0: Array) -> Array:
    """x0 projected onto Ω (with a warning when a concrete x0 moves)."""
    projected = constraint.project(x0)
    if _is_concrete(x0) and _is_concrete(projected) and not _any_tracer(constraint):
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


def _any_tracer(tree: Any) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))


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
    callback: Callable[..., Any] | None = None,
    search: SearchStep | None = None,
    residuals: bool = False,
) -> tuple[Problem, Array]:
    """Check the inputs and build the :class:`Problem` and the prepared (projected) x0.

    ``residuals=True`` is least-squares mode: ``fun`` returns F(x) and f = ‖F(x)‖².
    """
    if options is None:
        options = Options()
    if not isinstance(options, Options):
        raise TypeError(f"options must be a trfd_jax.Options, got {type(options).__name__}.")
    x0 = prepare_x0(x0)
    n = x0.shape[0]
    options.resolved(n, x0.dtype)  # raises early on inconsistent radii
    max_evals = check_max_evals(max_evals, n, options)
    residual_size = check_objective(fun, x0, args, residuals=residuals)
    if options.hessian == "gauss_newton" and not residuals:
        raise ValueError('Options(hessian="gauss_newton") needs trfd_jax.least_squares.')
    if search is not None:
        if not isinstance(search, SearchStep):
            raise TypeError(
                f"search must be a trfd_jax.SearchStep (or None), got {type(search).__name__}."
            )
        if search.needs_residuals() and not residuals:
            raise ValueError(
                f"{type(search).__name__} needs residuals: use trfd_jax.least_squares."
            )
    if isinstance(fun, BlackBox) and args is not None:
        raise TypeError("a black-box objective takes no args: capture its data in fn.")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}.")
    constraint = make_constraint(bounds, constraint, n, x0.dtype)
    if constraint is not None:
        x0 = project_x0(constraint, x0)
    problem = Problem(
        fun=fun,
        max_evals=max_evals,
        options=options,
        args=args,
        constraint=constraint,
        residual_size=residual_size,
        search=search,
        verbose=bool(verbose),
        callback=callback,
    )
    return problem, x0


def minimize(
    fun: Callable[..., Any],
    x0: Any,
    *,
    max_evals: int | None = None,
    options: Options | None = None,
    args: Any = None,
    bounds: Any = None,
    constraint: Any = None,
    verbose: bool = False,
    callback: Callable[..., Any] | None = None,
    search: SearchStep | None = None,
) -> Result:
    """Minimize ``fun`` from ``x0`` with TRFD-S (first paper, Algorithm 1).

    Args:
        fun: objective ``fun(x) -> scalar`` written in JAX (``fun(x, args)`` if ``args`` is
            given).  It is only ever called on points, never differentiated.
        x0: starting point, shape (n,).  Integers are promoted; its floating dtype (float64
            advised) is the dtype of the whole run.
        max_evals: evaluation budget, never exceeded.  Default 100 (n + 1).
        options: :class:`Options` (static configuration).
        args: data passed to ``fun`` as its second argument (a pytree of arrays; may be
            batched under ``jax.vmap`` without recompiling).
        bounds: ``(lower, upper)`` (scalars or shape (n,), ±inf allowed) or a
            :class:`Box`: unrelaxable bounds by default — f is never evaluated outside them.
        constraint: a feasible set Ω (:class:`Box`, :class:`L2Ball`, :class:`Simplex`,
            :class:`L1Ball`, :class:`NonNegative`, :class:`HalfSpace`, :class:`Projection`
            or an :class:`Intersection` of these).  With ``bounds`` too, Ω is their
            intersection.  x0 outside Ω is projected onto it first.
        verbose: print a compact iteration log (iteration, nfev, f, Δ, τ, step kind) from
            inside the compiled loop.
        callback: ``callback(summary) -> bool | None`` called after every iteration with an
            :class:`IterationSummary`; returning True stops the run (``USER_STOP``).
            ``verbose`` and ``callback`` are static: off, they cost nothing.
        search: a search strategy tried before each rigorous step (second paper; e.g.
            ``trfd_jax.ModelSearch()`` or your own :class:`SearchStep`).  None: plain
            TRFD-S.

    Returns:
        A :class:`Result`.  Works under ``jax.jit`` and ``jax.vmap`` (multi-start: vmap over
        ``x0``); a start that fails reports it in its own ``status``.

    Raises:
        TypeError, ValueError: on bad input, before anything is traced.
    """
    problem, x0 = make_problem(
        fun,
        x0,
        max_evals=max_evals,
        options=options,
        args=args,
        bounds=bounds,
        constraint=constraint,
        verbose=verbose,
        callback=callback,
        search=search,
    )
    return _solve(problem, x0)


def least_squares(
    residuals: Callable[..., Any],
    x0: Any,
    *,
    max_evals: int | None = None,
    options: Options | None = None,
    args: Any = None,
    bounds: Any = None,
    constraint: Any = None,
    verbose: bool = False,
    callback: Callable[..., Any] | None = None,
    search: SearchStep | str | None = "gauss_newton",
) -> Result:
    """Minimize f(x) = ‖F(x)‖² with TRFD-S and, by default, the Gauss–Newton search step.

    One finite-difference gradient evaluates F at the n points x + τ e_j: that gives the
    Jacobian J_k and g_k = 2 J_kᵀF(x_k) for the same n evaluations.  The default search
    (second paper) tries the Gauss–Newton point argmin ‖J_k p + F(x_k)‖² over ‖p‖ ≤ θΔ_k
    before each rigorous step.

    Args:
        residuals: ``F(x) -> (m,)`` written in JAX (``F(x, args)`` with ``args``), or
            ``trfd_jax.black_box(fn, residuals=m)`` for a host function.
        search: ``"gauss_newton"`` (default), None (plain TRFD-S on ‖F‖²), or any
            :class:`SearchStep`.
        Other arguments as in :func:`minimize`; ``Options(hessian="gauss_newton")`` uses
        H = 2 JᵀJ as the rigorous model's Hessian instead of BFGS.

    Returns:
        A :class:`Result`; ``f`` is ‖F(x)‖² at the best point.
    """
    if isinstance(search, str):
        if search != "gauss_newton":
            raise ValueError(
                f"search must be 'gauss_newton', None or a SearchStep, got {search!r}."
            )
        search = GaussNewtonSearch()
    problem, x0 = make_problem(
        residuals,
        x0,
        max_evals=max_evals,
        options=options,
        args=args,
        bounds=bounds,
        constraint=constraint,
        verbose=verbose,
        callback=callback,
        search=search,
        residuals=True,
    )
    return _solve(problem, x0)


def _solve(problem: Problem, x0: Array) -> Result:
    """Run the compiled solver; re-raise a black-box objective's own exception."""
    fun = problem.fun
    if not isinstance(fun, BlackBox) or _any_tracer((problem, x0)):
        return _run_jit(problem, x0)
    # A black-box objective runs eagerly here: an exception raised by its fn surfaces as
    # JAX's runtime error, which is replaced by the original exception.
    fun.pop_error()
    try:
        return jax.block_until_ready(_run_jit(problem, x0))
    except jax.errors.JaxRuntimeError:
        error = fun.pop_error()
        if error is None:
            raise
        raise error.with_traceback(error.__traceback__) from None
