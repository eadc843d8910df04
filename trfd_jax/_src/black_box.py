"""Black-box objectives: Python/NumPy functions bridged into the jit-compiled solver.

:func:`black_box` wraps a host function ``fn(x) -> float`` (NumPy in, number out: a SciPy
model, a simulator, a subprocess) as an objective that ``minimize`` accepts.  The solver
stays compiled; evaluations reach the host through ``jax.pure_callback``:

* every evaluation is a masked batch (``evaluation.py``): the n points of a gradient reach
  the host in one callback, and under ``jax.vmap`` (multi-start) one callback carries the
  points of every start (``vmap_method="broadcast_all"``: the callback sees the whole
  batch with its leading axes);
* only the active rows are evaluated on the host — a finished start or a lane that needs
  no gradient this iteration costs nothing — so host evaluations equal ``nfev`` exactly;
* the active rows of one callback are evaluated by ``fn`` one by one, by ``fn`` once on the
  whole ``(k, n)`` array (``vectorized=True``), or mapped through any
  ``concurrent.futures.Executor`` (threads, processes, a Dask ``distributed`` client's
  executor), so the n points of a gradient run in parallel.

Faults: NaN/inf returned by ``fn`` are ordinary bad values (a rejected step).  An
exception raised by ``fn`` (or by an executor: a worker process that died is a
``BrokenProcessPool``) stops the run; ``minimize`` re-raises that exception (same type,
message and traceback) instead of JAX's runtime error, with what was already evaluated
attached: ``error.best_so_far`` is a :class:`BestSoFar` (the best point evaluated before
the failure, its value and the count of evaluations), also told in a note of the
exception.  ``timeout=`` bounds one evaluation: a call that hangs past it raises
:class:`EvaluationTimeout` the same way.  A wrong return shape or a non-numeric return is
a ``TypeError``/``ValueError`` naming the objective.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import threading
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from trfd_jax._src.observe import HostError

Array = jax.Array


class BlackBoxError(HostError):
    """Raised in the host callback after ``fn`` failed; carries the original exception."""


class EvaluationTimeout(TimeoutError):
    """An evaluation of a black box ran longer than its ``timeout``."""


class BestSoFar(NamedTuple):
    """What a black box had evaluated when a run failed: the best point with a finite
    value (``x`` None if there was none), that value (½‖F‖² for residuals, the cost
    ``Result.f`` reports) and the count of evaluations.  The best point may lie outside a
    relaxable Ω (finite-difference points may), never outside unrelaxable bounds."""

    x: np.ndarray | None
    f: float
    nfev: int


# The live black boxes by handle.  The solver's program calls every black box through
# :func:`_dispatch`, with the handle as data, so one compiled solver serves every black box
# of the same shape (``program_key``): a new host function costs no compilation.
_LIVE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_PINNED: set = set()  # black boxes whose handle a caller's compiled program holds
_HANDLES = itertools.count(1)


def _dispatch(handle: np.ndarray, points: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The solver's host callback: the active rows of ``points``, by the black box that
    ``handle`` names (broadcast with the batch under ``vmap``: every entry is the same)."""
    box = _LIVE[int(np.asarray(handle).reshape(-1)[0])]
    out = box._host(points, active)
    dtype = jnp.dtype(box.dtype or points.dtype)
    return out if out.dtype == dtype else out.astype(dtype)


@dataclasses.dataclass(frozen=True, eq=False)
class BlackBox:
    """A host objective usable by ``minimize`` (build it with :func:`black_box`).

    Equal only to itself.  The solver compiles one program per :attr:`program_key` (what
    the traced program depends on: the values' shape and dtype), not per host function:
    ``fn`` is reached by :attr:`handle`, data of the program.  ``host_evaluations`` counts
    the points evaluated on the host so far.
    """

    fn: Callable[..., Any]
    vectorized: bool = False
    executor: concurrent.futures.Executor | None = None
    dtype: Any = None
    name: str = "objective"
    residuals: int | None = None
    timeout: float | None = None
    _state: dict = dataclasses.field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Written by the callbacks' threads (one per device when starts are sharded).
        self._state.update(
            count=0, run_count=0, error=None, best_x=None, best_f=np.inf, waiter=None
        )
        # Starts sharded over devices call back from one thread per device at once.
        self._state["lock"] = threading.Lock()
        self._state["handle"] = next(_HANDLES)
        _LIVE[self._state["handle"]] = self

    @property
    def handle(self) -> int:
        """This black box's number: the solver's program finds ``fn`` by it."""
        return self._state["handle"]

    @property
    def program_key(self) -> tuple:
        """What the solver's compiled program depends on: black boxes with the same key
        share one program (``fn``, executor, timeout and name are host-side only)."""
        return type(self), self.residuals, None if self.dtype is None else jnp.dtype(self.dtype)

    def pin(self) -> None:
        """Keep this black box alive for good: a compiled program of the caller's (a
        ``jax.jit`` around ``minimize``) holds its handle."""
        _PINNED.add(self)

    # ------------------------------------------------------------------ host side

    @property
    def host_evaluations(self) -> int:
        return self._state["count"]

    def reset_count(self) -> None:
        self._state["count"] = 0

    def start_run(self) -> None:
        """Forget the best point so far (``minimize`` calls this before an eager run)."""
        self._state.update(run_count=0, best_x=None, best_f=np.inf)

    @property
    def best_so_far(self) -> BestSoFar:
        """The best point evaluated since the run started (see :meth:`start_run`)."""
        state = self._state
        return BestSoFar(state["best_x"], float(state["best_f"]), state["run_count"])

    def _count(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Count evaluations that came back, and keep the best of them."""
        with self._state["lock"]:
            self._state["count"] += rows.shape[0]
            self._state["run_count"] += rows.shape[0]
            if rows.shape[0]:
                self._record_best(rows, values)

    def _record_best(self, rows: np.ndarray, values: np.ndarray) -> None:
        costs = values if self.residuals is None else 0.5 * np.sum(values**2, axis=-1)
        costs = np.where(np.isfinite(costs), costs, np.inf)
        i = int(np.argmin(costs))
        if costs[i] < self._state["best_f"]:
            self._state.update(best_x=rows[i].copy(), best_f=float(costs[i]))

    def _attach(self, error: BaseException) -> BaseException:
        """The best point so far, on the exception the caller will see."""
        best = self.best_so_far
        try:
            error.best_so_far = best  # type: ignore[attr-defined]
        except AttributeError:  # an exception type without a __dict__
            return error
        where = "no finite value yet" if best.x is None else f"f = {best.f!r} at x = {best.x!r}"
        error.add_note(
            f"trfd_jax: black box {self.name!r} failed after {best.nfev} evaluations; the "
            f"best point so far ({where}) is in this exception's best_so_far."
        )
        return error

    def pop_error(self) -> BaseException | None:
        """The exception ``fn`` raised during the last run, if any (and forget it)."""
        error, self._state["error"] = self._state["error"], None
        return error

    def _numeric(self, value: Any) -> np.ndarray:
        """``value`` as a float64 array, or a TypeError naming the objective."""
        try:
            # None would be a silent NaN, a str parsed as a number, a complex number cut to
            # its real part: none of them is a value of f.
            if value is None or isinstance(value, (str, bytes)):
                raise TypeError
            if np.asarray(value).dtype.kind not in "biuf":
                raise TypeError
            return np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"black-box objective {self.name!r} returned a non-numeric value {value!r}."
            ) from exc

    def _to_value(self, value: Any) -> Any:
        """One evaluation's result: a float, or the residual vector (m,)."""
        if self.residuals is None and isinstance(value, (float, np.floating)):
            return float(value)  # the common case, fast
        arr = self._numeric(value)
        if self.residuals is not None:
            if arr.shape != (self.residuals,):
                raise ValueError(
                    f"black-box objective {self.name!r} must return residuals of shape "
                    f"({self.residuals},), got {arr.shape}."
                )
            return arr
        if arr.size != 1:
            raise ValueError(
                f"black-box objective {self.name!r} must return a scalar, got shape {arr.shape}."
            )
        return float(arr.reshape(()))

    def _evaluate_rows(self, rows: np.ndarray, done: list) -> np.ndarray:
        """Values at ``rows``; the values of the leading rows already evaluated are appended
        to ``done`` as they come, so that a failure part-way loses none of them."""
        if self.vectorized:
            values = self._numeric(self.fn(rows))
            expected = (rows.shape[0], *self._tail)
            if values.shape != expected:
                raise ValueError(
                    f"black-box objective {self.name!r} (vectorized) must map ({rows.shape[0]}, "
                    f"{rows.shape[1]}) points to shape {expected}, got {values.shape}."
                )
            return values
        fn = self.fn
        if self.timeout is not None:
            results = self._with_timeout(rows, done)
        elif self.executor is not None:
            # Every call goes to the executor, single points too: a process pool isolates
            # the simulator (a crash kills a worker, not the caller).
            results = self.executor.map(fn, list(rows))  # in order, as they complete
        else:
            results = (fn(row) for row in rows)
        try:
            for value in results:
                done.append(self._to_value(value))
        except RuntimeError as exc:
            # PEP 479: a StopIteration that fn raised inside a generator (the loop above,
            # or an executor's result iterator) arrives as a RuntimeError; the caller gets
            # fn's own exception.
            if isinstance(exc.__cause__, StopIteration):
                raise exc.__cause__ from None
            raise
        return np.array(done, dtype=np.float64).reshape((rows.shape[0], *self._tail))

    def _with_timeout(self, rows: np.ndarray, done: list) -> list:
        """``fn`` over the rows, none allowed past ``timeout`` seconds.  Without an executor
        each call runs on a helper thread and has ``timeout`` seconds of its own; with one
        the batch may take ⌈k / workers⌉ timeouts.  A hung call cannot be killed: its thread
        (or worker) is left behind."""
        executor = self.executor
        if executor is None:
            if self._state["waiter"] is None:
                self._state["waiter"] = concurrent.futures.ThreadPoolExecutor(1)
            return self._one_at_a_time(rows)
        else:
            workers = getattr(executor, "_max_workers", None) or rows.shape[0]
            rounds = -(-rows.shape[0] // workers)
        futures = [executor.submit(self.fn, row) for row in rows]
        _, pending = concurrent.futures.wait(futures, timeout=self.timeout * rounds)
        if pending:
            for future in futures:  # keep the leading values that did come back
                if future in pending or future.exception() is not None:
                    break
                done.append(self._to_value(future.result()))
            for future in pending:
                future.cancel()
            hung = next(row for row, future in zip(rows, futures, strict=True) if future in pending)
            raise EvaluationTimeout(
                f"black-box objective {self.name!r} did not return within timeout="
                f"{self.timeout} s (at x = {hung!r})."
            )
        return [future.result() for future in futures]

    def _one_at_a_time(self, rows: np.ndarray) -> Any:
        """``fn``'s values at the rows, each call on the helper thread with ``timeout``
        seconds of its own (not a share of the batch's)."""
        for row in rows:
            future = self._state["waiter"].submit(self.fn, row)
            try:
                value = future.result(timeout=self.timeout)
            except concurrent.futures.TimeoutError:
                self._state["waiter"] = None  # its thread is stuck in fn; use a new one
                raise EvaluationTimeout(
                    f"black-box objective {self.name!r} did not return within timeout="
                    f"{self.timeout} s (at x = {row!r})."
                ) from None
            yield value

    @property
    def _tail(self) -> tuple[int, ...]:
        """The shape of one value: () for f, (m,) for residuals."""
        return () if self.residuals is None else (self.residuals,)

    def _host(self, points: np.ndarray, active: np.ndarray) -> np.ndarray:
        """The callback: evaluate the active rows of a (…, k, n) batch of points."""
        points = np.asarray(points)
        active = np.asarray(active)
        if active.shape != points.shape[:-1]:
            active = np.broadcast_to(active, points.shape[:-1])
        out = np.full(active.shape + self._tail, np.nan, dtype=points.dtype)
        index = np.flatnonzero(active)
        if index.size:
            rows = points.reshape(-1, points.shape[-1])[index]
            if rows.dtype != np.float64:
                rows = rows.astype(np.float64)
            done: list = []
            try:
                values = self._evaluate_rows(rows, done)
            except BaseException as exc:
                self._count(rows[: len(done)], np.array(done).reshape((-1, *self._tail)))
                with self._state["lock"]:
                    if self._state["error"] is None:
                        self._state["error"] = self._attach(exc)
                raise BlackBoxError(f"black-box objective {self.name!r} raised {exc!r}") from exc
            self._count(rows, values)
            out.reshape((-1, *self._tail))[index] = values
        return out

    # ------------------------------------------------------------------ traced side

    def evaluate_batch(self, points: Array, active: Array, args: Any = None) -> Array:
        """Values at the active rows of ``points`` (k, n), through one host callback.

        ``args`` is None (a host function takes its data from its closure), or, from the
        solver, the handle of the black box to call (an int32 array: see ``_dispatch``).
        """
        dtype = jnp.dtype(self.dtype or points.dtype)
        shape = jax.ShapeDtypeStruct(points.shape[:1] + self._tail, dtype)
        handle = jnp.asarray(self.handle if args is None else args, jnp.int32)

        def call(h, p, a):
            return jax.pure_callback(_dispatch, shape, h, p, a, vmap_method="broadcast_all")

        return lax.cond(
            jnp.any(active),
            call,
            lambda h, p, a: jnp.full(shape.shape, jnp.nan, dtype),
            handle,
            points,
            active,
        )

    def __call__(self, x: Array) -> Array:
        """f(x) (or F(x)) for one point (also inside JAX code)."""
        x = jnp.asarray(x)
        self.pin()  # the caller's program may outlive every other reference to self
        return self.evaluate_batch(x[None], jnp.ones(1, bool))[0]


def black_box(
    fn: Callable[..., Any],
    *,
    vectorized: bool = False,
    executor: concurrent.futures.Executor | None = None,
    dtype: Any = None,
    name: str | None = None,
    residuals: int | None = None,
    timeout: float | None = None,
) -> BlackBox:
    """Wrap a Python/NumPy objective for ``minimize`` (and any JAX code).

    Args:
        fn: ``fn(x) -> number`` with x a NumPy float64 array of shape (n,); with
            ``vectorized=True``, ``fn(X) -> (k,)`` for X of shape (k, n).
        vectorized: ``fn`` evaluates a whole batch of points at once.
        executor: a ``concurrent.futures.Executor`` (``ThreadPoolExecutor``,
            ``ProcessPoolExecutor`` — then ``fn`` must be picklable —, or a Dask
            ``distributed.Client(...).get_executor()``) that maps ``fn`` over the points of
            one batch in parallel.  Ignored with ``vectorized=True``.
        dtype: floating dtype of the values handed back to JAX (default: that of x0).
        name: the objective's name in error messages (default: ``fn.__name__``).
        residuals: m, for ``trfd_jax.least_squares``: ``fn`` returns the residual vector
            F(x) of shape (m,) (vectorized: (k, m)).
        timeout: the most seconds one evaluation may take; past it the run stops with
            :class:`EvaluationTimeout` (with the best point so far attached).  ``None``:
            no limit.  Not with ``vectorized=True``.

    Returns:
        A :class:`BlackBox`: pass it to ``minimize`` like a JAX function.
    """
    if not callable(fn):
        raise TypeError(f"black_box needs a callable, got {type(fn).__name__}.")
    if executor is not None and not isinstance(executor, concurrent.futures.Executor):
        raise TypeError(
            "executor must be a concurrent.futures.Executor (for Dask: client.get_executor())."
        )
    if dtype is not None and not jnp.issubdtype(jnp.dtype(dtype), jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}.")
    label = name or getattr(fn, "__name__", type(fn).__name__)
    if residuals is not None and (
        isinstance(residuals, bool) or not isinstance(residuals, int) or residuals < 1
    ):
        raise TypeError(f"residuals must be a positive int m, got {residuals!r}.")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}.")
        if vectorized:
            raise ValueError("timeout applies to single evaluations, not to vectorized=True.")
    return BlackBox(
        fn=fn,
        vectorized=vectorized,
        executor=executor,
        dtype=dtype,
        name=label,
        residuals=residuals,
        timeout=None if timeout is None else float(timeout),
    )
