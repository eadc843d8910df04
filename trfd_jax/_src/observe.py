"""Observability from inside the compiled loop: an iteration log and a user callback.

Both are static options of the :class:`Problem`: when they are off nothing is traced, so
they cost nothing.  The log line is printed with ``jax.debug.callback``; the user callback
runs through ``jax.pure_callback`` and may ask the run to stop (status ``USER_STOP``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax._src.solution import Status
from trfd_jax._src.state import State, StepKind

Array = jax.Array

_HEADER = f"{'iter':>6} {'nfev':>7} {'f':>14} {'best f':>14} {'radius':>10} {'fd_step':>10}  step"


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


def _summary(nit, nfev, f, best_f, radius, fd_step, kind, x, best_x) -> IterationSummary:
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
    )


def _print_line(*fields) -> None:
    s = _summary(*fields)
    if s.nit == 1:
        print(_HEADER)
    print(
        f"{s.nit:>6} {s.nfev:>7} {s.f:>14.7e} {s.best_f:>14.7e} {s.radius:>10.3e} "
        f"{s.fd_step:>10.3e}  {s.step}",
        flush=True,
    )


def _fields(state: State) -> tuple:
    return (
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
    verbose: bool, callback: Callable[[IterationSummary], Any] | None, before: State, after: State
) -> State:
    """Log the iteration ``before → after`` and run the user callback, if any is set.

    Only iterations that did something are reported (``nit`` advanced), so a finished start
    in a ``vmap``-ed batch stays silent.
    """
    if not verbose and callback is None:
        return after
    moved = after.counters.nit > before.counters.nit
    if verbose:
        jax.lax.cond(
            moved,
            lambda: jax.debug.callback(_print_line, *_fields(after)),
            lambda: None,
        )
    if callback is None:
        return after

    def call(*fields) -> np.ndarray:
        return np.asarray(bool(callback(_summary(*fields))))

    stop = jax.lax.cond(
        moved,
        lambda: jax.pure_callback(
            call, jax.ShapeDtypeStruct((), jnp.bool_), *_fields(after), vmap_method="sequential"
        ),
        lambda: jnp.asarray(False),
    )
    stop = stop & (after.status == Status.RUNNING)
    return after._replace(status=jnp.where(stop, Status.USER_STOP, after.status).astype(jnp.int32))
