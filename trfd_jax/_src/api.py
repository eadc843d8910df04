"""The public entry points: :func:`minimize` and :func:`least_squares`.

Both take the same keyword arguments (:class:`SolveKwargs`, checked by
:func:`trfd_jax.make_problem`) and share one description of them; they differ in what the
objective returns and in the default search step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict, Unpack

import jax
import numpy as np

from trfd_jax._src.checks import any_tracer, make_problem
from trfd_jax._src.iterate import solve
from trfd_jax._src.options import Options
from trfd_jax._src.search import GaussNewtonSearch, SearchStep
from trfd_jax._src.solution import Result

Array = jax.Array


class SolveKwargs(TypedDict, total=False):
    """The keyword arguments common to :func:`minimize` and :func:`least_squares`."""

    max_evals: int | None
    options: Options | None
    args: Any
    bounds: Any
    constraint: Any
    verbose: bool
    progress: bool
    callback: Callable[..., Any] | None
    throw: bool
    has_aux: bool


class SolverError(RuntimeError):
    """A run that did not converge, raised by ``throw=True``; ``result`` holds the best
    point found and its status."""

    def __init__(self, result: Result) -> None:
        super().__init__(f"trfd_jax did not converge: {result.message}")
        self.result = result


def _finish(result: Result, throw: bool) -> Result:
    """With ``throw``, raise :class:`SolverError` unless every start converged — where the
    result is concrete; under ``jit``/``vmap`` the status is returned (no exception can
    leave traced code for one start of a batch)."""
    if throw and not any_tracer(result) and not bool(np.all(np.asarray(result.success))):
        raise SolverError(result)
    return result


_COMMON_ARGS = """\
        max_evals: evaluation budget, never exceeded.  Default 100 (n + 1).
        options: :class:`Options` (static configuration).
        args: data passed to the objective as its second argument (a pytree of arrays;
            may be batched under ``jax.vmap`` without recompiling).
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
        progress: a tqdm progress bar of evaluations, updated from inside the compiled
            loop (also under ``jit``; one bar for all starts of a ``vmap``).  Needs tqdm.
        has_aux: the objective returns ``(value, aux)`` with aux any pytree of arrays
            (optimistix's convention); ``Result.aux`` is aux at the returned point.
        throw: raise :class:`SolverError` (with the result attached) when the run did not
            converge (``Result.success`` false: budget spent, iteration cap, bad x0, user
            stop).  Default False: a derivative-free run that spends its budget has still
            returned its best point, which is what most callers want.  Like optimistix's
            ``throw``, it applies where the result is concrete; under ``jax.jit`` or
            ``jax.vmap`` the status is returned instead.

    Returns:
        A :class:`Result`.  Works under ``jax.jit`` and ``jax.vmap`` (multi-start: vmap over
        ``x0``); a start that fails reports it in its own ``status``.

    Raises:
        TypeError, ValueError: on bad input, before anything is traced.  An exception raised
        by a black-box objective reaches the caller as that exception."""


def _check_kwargs(kwargs: dict) -> None:
    unknown = sorted(set(kwargs) - SolveKwargs.__optional_keys__)
    if unknown:
        raise TypeError(
            f"unexpected keyword argument(s) {unknown}; the options are "
            f"{sorted(SolveKwargs.__optional_keys__ | {'search'})}."
        )


def _with_common_args(fn: Callable[..., Result]) -> Callable[..., Result]:
    fn.__doc__ = fn.__doc__.replace("        {common}", _COMMON_ARGS)
    return fn


@_with_common_args
def minimize(
    fun: Callable[..., Any],
    x0: Any,
    *,
    search: SearchStep | None = None,
    **kwargs: Unpack[SolveKwargs],
) -> Result:
    """Minimize ``fun`` from ``x0`` with TRFD-S (first paper, Algorithm 1).

    Args:
        fun: objective ``fun(x) -> scalar`` written in JAX (``fun(x, args)`` if ``args`` is
            given), or ``trfd_jax.black_box(fn)`` for a host function.  It is only ever
            called on points, never differentiated.
        x0: starting point, shape (n,).  Integers are promoted; its floating dtype (float64
            advised) is the dtype of the whole run.
        search: a search strategy tried before each rigorous step (second paper; e.g.
            ``trfd_jax.ModelSearch()`` or your own :class:`SearchStep`).  None: plain
            TRFD-S.
        {common}
    """
    _check_kwargs(kwargs)
    throw = kwargs.pop("throw", False)
    problem, x0 = make_problem(fun, x0, search=search, **kwargs)
    return _finish(solve(problem, x0), throw)


@_with_common_args
def least_squares(
    residuals: Callable[..., Any],
    x0: Any,
    *,
    search: SearchStep | str | None = "gauss_newton",
    **kwargs: Unpack[SolveKwargs],
) -> Result:
    """Minimize f(x) = ‖F(x)‖² with TRFD-S and, by default, the Gauss–Newton search step.

    One finite-difference gradient evaluates F at the n points x + τ e_j: that gives the
    Jacobian J_k and g_k = 2 J_kᵀF(x_k) for the same n evaluations.  The default search
    (second paper) tries the Gauss–Newton point argmin ‖J_k p + F(x_k)‖² over ‖p‖ ≤ θΔ_k
    before each rigorous step.  ``Options(hessian="gauss_newton")`` uses H = 2 JᵀJ as the
    rigorous model's Hessian instead of BFGS.  ``Result.f`` is the cost ½‖F(x)‖² at the best
    point (scipy's and optimistix's convention), ``Result.residuals`` is F(x) there and
    ``Result.jacobian`` the last finite-difference Jacobian.

    Args:
        residuals: ``F(x) -> (m,)`` written in JAX (``F(x, args)`` with ``args``), or
            ``trfd_jax.black_box(fn, residuals=m)`` for a host function.
        x0: starting point, shape (n,), as in :func:`minimize`.
        search: ``"gauss_newton"`` (default), None (plain TRFD-S on ‖F‖²), or any
            :class:`SearchStep`.
        {common}
    """
    if isinstance(search, str):
        if search != "gauss_newton":
            raise ValueError(
                f"search must be 'gauss_newton', None or a SearchStep, got {search!r}."
            )
        search = GaussNewtonSearch()
    _check_kwargs(kwargs)
    throw = kwargs.pop("throw", False)
    problem, x0 = make_problem(residuals, x0, search=search, residuals=True, **kwargs)
    return _finish(solve(problem, x0), throw)
