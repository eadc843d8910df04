"""The evaluation record: how many evaluations were made, the best point, the history.

Every evaluation of a run is recorded here, whatever step made it (Step 0, a gradient, a
trial point, a search).  The record is masked at the source — inactive rows of a batch are
neither counted nor entered — so the rest of the state can be selected per iteration with
``jnp.where`` while the record, and its (max_evals,) history, is never copied.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from trfd_jax._src.objective import Evaluation

Array = jax.Array

_INT = jnp.int32


class Record(NamedTuple):
    """What has been evaluated so far (B = max_evals)."""

    nfev: Array  # () int32, evaluations so far (never above max_evals)
    best_x: Array  # (n,) the best point seen among those that count for it
    best_f: Array  # () its value; +inf until a finite value is seen
    history: Array  # (B,) best value after each evaluation; +inf where not yet evaluated


def empty(x0: Array, max_evals: int) -> Record:
    """The record before any evaluation."""
    return Record(
        nfev=jnp.zeros((), _INT),
        best_x=x0,
        best_f=jnp.asarray(jnp.inf, x0.dtype),
        history=jnp.full(max_evals, jnp.inf, x0.dtype),
    )


def add(
    record: Record, points: Array, values: Array, active: Array, counts_for_best: Array
) -> Record:
    """Enter the evaluations of the active rows of ``points`` (k, n) with ``values`` (k,).

    ``counts_for_best`` marks the points that may become the returned best point (the
    feasible ones).  Non-finite values never become best.  The history holds the best
    value after each evaluation, in batch order.
    """
    max_evals = record.history.shape[0]
    usable = active & counts_for_best & jnp.isfinite(values)
    candidates = jnp.where(usable, values, jnp.inf)
    i = jnp.argmin(candidates)
    better = candidates[i] < record.best_f
    best_f = jnp.where(better, candidates[i], record.best_f)
    best_x = jnp.where(better, points[i], record.best_x)
    running_best = jnp.minimum(record.best_f, lax.cummin(candidates))
    position = record.nfev + jnp.cumsum(active, dtype=_INT) - 1
    position = jnp.where(active, position, max_evals)  # inactive: dropped
    history = record.history.at[position].set(running_best, mode="drop")
    nfev = record.nfev + jnp.sum(active, dtype=_INT)
    return Record(nfev=nfev, best_x=best_x, best_f=best_f, history=history)


def evaluate(
    problem: Any, record: Record, points: Array, active: Array, counts_for_best: Array
) -> tuple[Evaluation, Record]:
    """Evaluate the objective at the active rows of ``points`` and enter them in the record.

    The one way the solver evaluates anything: Step 0, gradients, trial points, searches.
    """
    evaluation = problem.objective.evaluate(points, active, problem.args)
    return evaluation, add(record, points, evaluation.values, active, counts_for_best)


def inside(constraint: Any, points: Array) -> Array:
    """Which rows of ``points`` (k, n) lie in Ω (up to rounding): those may become the best
    point.  Finite-difference points may leave a relaxable Ω; iterates and trial points
    never do."""
    if constraint is None:
        return jnp.ones(points.shape[:1], bool)
    return jax.vmap(constraint.contains)(points)


def fits(record: Record, need: Array | int, max_evals: int) -> Array:
    """Whether ``need`` more evaluations fit in the budget (the budget look-ahead)."""
    return record.nfev + need <= max_evals


def padded_history(record: Record) -> Array:
    """The history with the entries after the last evaluation set to the final best value."""
    index = jnp.arange(record.history.shape[0], dtype=record.nfev.dtype)
    return jnp.where(index < record.nfev, record.history, record.best_f)
