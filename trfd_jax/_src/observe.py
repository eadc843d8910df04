"""Observability from inside the compiled loop: an iteration log, a user callback, a summary.

Both are static options of the :class:`Problem`: when they are off nothing is traced, so
they cost nothing.  The log line is printed with ``jax.debug.callback``; the user callback
runs through ``jax.pure_callback`` and may ask the run to stop (status ``USER_STOP``).
Under ``jax.vmap`` (multi-start) every line and every summary carries the start's index.

An exception raised by the user's callback cannot cross the compiled loop as itself (JAX
turns it into a runtime error); it is kept in :data:`HOST_ERRORS` and ``iterate.solve``
raises the original exception in its place.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax._src.solution import Status
from trfd_jax._src.state import State, StepKind

Array = jax.Array

_HEADER = (
    f"{'start':>5} {'iter':>6} {'nfev':>7} {'f':>14} {'best f':>14} {'radius':>10} "
    f"{'fd_step':>10}  step"
)


class HostError(RuntimeError):
    """Raised inside a host callback after user code failed; the original exception is
    kept (see :class:`HostErrors`) and reaches the caller instead of this one."""


class _DropHostErrors(logging.Filter):
    """JAX logs every exception raised in a callback; ours reach the caller as the original
    exception, so their log record is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HostError)


logging.getLogger("jax._src.callback").addFilter(_DropHostErrors())


class HostErrors:
    """The first exception raised by user code in a host callback of the current run.

    Callbacks run on XLA's threads, not the caller's, so this is one slot for the process
    (guarded by a lock); ``iterate.solve`` empties it before a run and reads it after.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    def record(self, error: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = error

    def pop(self) -> BaseException | None:
        with self._lock:
            error, self._error = self._error, None
        return error


HOST_ERRORS = HostErrors()


@dataclasses.dataclass(frozen=True)
class IterationSummary:
    """What a user callback receives after each iteration (NumPy values, one start)."""

    nit: int
    nfev: int
    f: float  # value at the current iterate x_k
    best_f: float
    radius: float  # Δ
    fd_step: float  # τ
    step: str  # the StepKind of the iteration, e.g. "SUCCESSFUL", "TYPE_I"
    x: np.ndarray
    best_x: np.ndarray
    start: int = 0  # the start's index in a vmapped multi-start (0 for a single run)


def _summary(start, nit, nfev, f, best_f, radius, fd_step, kind, x, best_x) -> IterationSummary:
    return IterationSummary(
        nit=int(nit),
        nfev=int(nfev),
        f=float(f),
        best_f=float(best_f),
        radius=float(radius),
        fd_step=float(fd_step),
        step=StepKind(int(kind)).name,
        x=np.asarray(x),
        best_x=np.asarray(best_x),
        start=int(start),
    )


def _print_line(*fields) -> None:
    s = _summary(*fields)
    if s.nit == 1 and s.start == 0:
        print(_HEADER)
    print(
        f"{s.start:>5} {s.nit:>6} {s.nfev:>7} {s.f:>14.7e} {s.best_f:>14.7e} "
        f"{s.radius:>10.3e} {s.fd_step:>10.3e}  {s.step}",
        flush=True,
    )


def _print_summary(start, status, nit, nfev, best_f) -> None:
    print(
        f"trfd_jax start {int(start)}: {Status(int(status)).name} after {int(nit)} iterations "
        f"and {int(nfev)} evaluations, best f = {float(best_f):.10e}",
        flush=True,
    )


class _Progress:
    """One tqdm bar of evaluations for the current run, over all its starts (host side).

    Updates come from ``jax.debug.callback`` inside the compiled loop, one per start and
    iteration; the bar closes when every start it has seen has finished.  One run at a
    time per process shows a bar.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.bar, self.nfev, self.total, self.done = None, {}, {}, set()

    def update(self, start, nfev, max_evals, finished) -> None:
        from tqdm.auto import tqdm

        with self._lock:
            start = int(start)
            if self.bar is None:
                self.bar = tqdm(unit="eval", desc="trfd_jax", dynamic_ncols=True)
            self.nfev[start], self.total[start] = int(nfev), int(max_evals)
            if bool(finished):
                self.done.add(start)
            self.bar.total = sum(self.total.values())
            self.bar.set_postfix_str(f"{len(self.done)}/{len(self.total)} starts done", False)
            self.bar.update(sum(self.nfev.values()) - self.bar.n)  # redraws at tqdm's pace
            if len(self.done) == len(self.total):
                self.bar.refresh()
                self.bar.close()
                self.reset()


PROGRESS = _Progress()


def _progress(state: State, start: Array, max_evals: Array, finished: Array) -> None:
    jax.debug.callback(PROGRESS.update, start, state.record.nfev, max_evals, finished)


def _fields(start: Array, state: State) -> tuple:
    return (
        start,
        state.counters.nit,
        state.record.nfev,
        state.iterate.f,
        state.record.best_f,
        state.region.radius,
        state.region.fd_step,
        state.last_step,
        state.iterate.x,
        state.record.best_x,
    )


def observe(
    verbose: bool,
    callback: Callable[[IterationSummary], Any] | None,
    before: State,
    after: State,
    start: Array,
    progress: Array | None = None,
) -> State:
    """Log the iteration ``before → after`` and run the user callback, if any is set.

    Only iterations that did something are reported (``nit`` advanced), so a finished start
    in a ``vmap``-ed batch stays silent.  ``start`` is the start's index in the batch.
    ``progress`` (the budget, when a progress bar is on) advances the bar.
    """
    if not verbose and callback is None and progress is None:
        return after
    moved = after.counters.nit > before.counters.nit
    if progress is not None:
        jax.lax.cond(
            moved,
            lambda: _progress(after, start, progress, jnp.asarray(False)),
            lambda: None,
        )
    if verbose:
        jax.lax.cond(
            moved,
            lambda: jax.debug.callback(_print_line, *_fields(start, after)),
            lambda: None,
        )
    if callback is None:
        return after

    def call(*fields) -> np.ndarray:
        try:
            return np.asarray(bool(callback(_summary(*fields))))
        except BaseException as error:
            HOST_ERRORS.record(error)
            raise HostError(f"the callback raised {error!r}") from error

    stop = jax.lax.cond(
        moved,
        lambda: jax.pure_callback(
            call,
            jax.ShapeDtypeStruct((), jnp.bool_),
            *_fields(start, after),
            vmap_method="sequential",
        ),
        lambda: jnp.asarray(False),
    )
    stop = stop & (after.status == Status.RUNNING)
    return after._replace(status=jnp.where(stop, Status.USER_STOP, after.status).astype(jnp.int32))


def summarize(verbose: bool, state: State, start: Array, progress: Array | None = None) -> None:
    """With ``verbose``, one closing line per start: status, iterations, evaluations, f;
    with a progress bar, the start's last update (the bar closes after the last start)."""
    if progress is not None:
        _progress(state, start, progress, jnp.asarray(True))
    if verbose:
        jax.debug.callback(
            _print_summary,
            start,
            state.status,
            state.counters.nit,
            state.record.nfev,
            state.record.best_f,
        )
