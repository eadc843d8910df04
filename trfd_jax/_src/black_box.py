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
exception raised by ``fn`` stops the run; ``minimize`` re-raises that exception (same type,
message and traceback) instead of JAX's runtime error.  A wrong return shape or a
non-numeric return is a ``TypeError``/``ValueError`` naming the objective.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from trfd_jax._src.observe import HostError

Array = jax.Array


class BlackBoxError(HostError):
    """Raised in the host callback after ``fn`` failed; carries the original exception."""


@dataclasses.dataclass(frozen=True, eq=False)
class BlackBox:
    """A host objective usable by ``minimize`` (build it with :func:`black_box`).

    Hashed by identity, so the compiled solver is reused across calls with the same
    object.  ``host_evaluations`` counts the points evaluated on the host so far.
    """

    fn: Callable[..., Any]
    vectorized: bool = False
    executor: concurrent.futures.Executor | None = None
    dtype: Any = None
    name: str = "objective"
    residuals: int | None = None
    _state: dict = dataclasses.field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Written only by the callback's thread (executors re-raise in the caller).
        self._state.update(count=0, error=None)

    # ------------------------------------------------------------------ host side

    @property
    def host_evaluations(self) -> int:
        return self._state["count"]

    def reset_count(self) -> None:
        self._state["count"] = 0

    def pop_error(self) -> BaseException | None:
        """The exception ``fn`` raised during the last run, if any (and forget it)."""
        error, self._state["error"] = self._state["error"], None
        return error

    def _numeric(self, value: Any) -> np.ndarray:
        """``value`` as a float64 array, or a TypeError naming the objective."""
        try:
            if value is None:  # np.asarray(None, float) would be a silent NaN
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

    def _evaluate_rows(self, rows: np.ndarray) -> np.ndarray:
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
        if self.executor is not None and rows.shape[0] > 1:
            results = list(self.executor.map(fn, list(rows)))
        else:
            results = [fn(row) for row in rows]
        values = np.array([self._to_value(v) for v in results], dtype=np.float64)
        return values.reshape((rows.shape[0], *self._tail))

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
            try:
                values = self._evaluate_rows(rows)
            except BaseException as exc:
                if self._state["error"] is None:
                    self._state["error"] = exc
                raise BlackBoxError(f"black-box objective {self.name!r} raised {exc!r}") from exc
            self._state["count"] += index.size
            out.reshape((-1, *self._tail))[index] = values
        return out

    # ------------------------------------------------------------------ traced side

    def evaluate_batch(self, points: Array, active: Array, args: Any = None) -> Array:
        """Values at the active rows of ``points`` (k, n), through one host callback.

        ``args`` must be None: a host function takes its data from its closure.
        """
        if args is not None:
            raise TypeError(
                f"black-box objective {self.name!r} takes no args: capture the data in fn."
            )
        dtype = jnp.dtype(self.dtype or points.dtype)
        shape = jax.ShapeDtypeStruct(points.shape[:1] + self._tail, dtype)

        def callback(p, a):
            out = self._host(p, a)
            return out if out.dtype == dtype else out.astype(dtype)

        return lax.cond(
            jnp.any(active),
            lambda p, a: jax.pure_callback(callback, shape, p, a, vmap_method="broadcast_all"),
            lambda p, a: jnp.full(shape.shape, jnp.nan, dtype),
            points,
            active,
        )

    def __call__(self, x: Array) -> Array:
        """f(x) (or F(x)) for one point (also inside JAX code)."""
        x = jnp.asarray(x)
        return self.evaluate_batch(x[None], jnp.ones(1, bool))[0]


def black_box(
    fn: Callable[..., Any],
    *,
    vectorized: bool = False,
    executor: concurrent.futures.Executor | None = None,
    dtype: Any = None,
    name: str | None = None,
    residuals: int | None = None,
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
    return BlackBox(
        fn=fn,
        vectorized=vectorized,
        executor=executor,
        dtype=dtype,
        name=label,
        residuals=residuals,
    )
