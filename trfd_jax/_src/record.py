"""The evaluation record: how many evaluations were made, the best point, the history.

Every evaluation of a run is recorded here, whatever step made it (Step 0, a gradient, a
trial point, a search).  The record is masked at the source — inactive rows of a batch are
neither counted nor entered — so the rest of the state can be selected per iteration with
``jnp.where`` while the record, and its (H,) history, is never copied.

Never paying twice for a point: the record also keeps a small memo of the last trial and
search points with their values.  A trial or search point equal (bit for bit) to one of
them, or to the iterate x_k, is not evaluated again; its known value is used, so every
decision — and hence the trajectory — is the same as with the repeated evaluation, and the
evaluation is saved.  Repeats are common: after an unsuccessful type I iteration g and H
are kept and Δ is halved, so when the rejected step was shorter than the new radius the
subproblem returns the same step (and a model search over θΔ often proposes the trial
point of the same iteration).  ``Options(reuse_evaluations=False)`` evaluates repeats
again, for stochastic objectives where a repeat is a new sample.
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
    """What has been evaluated so far (H the history's length, ``Problem.history_size``;
    M the memo's size, m residuals)."""

    nfev: Array  # () int32, evaluations so far (never above max_evals)
    best_x: Array  # (n,) the best point seen among those that count for it
    best_f: Array  # () its value; +inf until a finite value is seen
    history: Array  # (H,) best value after each of the first H evaluations; +inf: not yet
    best_residuals: Array | None  # (m,) F(best_x) in least squares, else None
    best_aux: Any  # the objective's aux at best_x (has_aux), else None
    # The last M trial/search points and their values (a ring buffer), to reuse repeats.
    memo_x: Array  # (M, n)
    memo_f: Array  # (M,)
    memo_residuals: Array | None  # (M, m) in least squares, else None
    memo_count: Array  # () int32, points ever entered (slot = count mod M)
    n_reused: Array  # () int32, evaluations saved by reusing a known value


def empty(
    x0: Array, history_size: int, memo_size: int, residual_size: int | None, aux: Any = None
) -> Record:
    """The record before any evaluation."""
    n, dtype = x0.shape[0], x0.dtype
    return Record(
        nfev=jnp.zeros((), _INT),
        best_x=x0,
        best_f=jnp.asarray(jnp.inf, dtype),
        history=jnp.full(history_size, jnp.inf, dtype),
        best_residuals=None if residual_size is None else jnp.zeros(residual_size, dtype),
        best_aux=aux,
        memo_x=jnp.zeros((memo_size, n), dtype),
        memo_f=jnp.zeros(memo_size, dtype),
        memo_residuals=None
        if residual_size is None
        else jnp.zeros((memo_size, residual_size), dtype),
        memo_count=jnp.zeros((), _INT),
        n_reused=jnp.zeros((), _INT),
    )


def add(
    record: Record,
    points: Array,
    values: Array,
    active: Array,
    counts_for_best: Array,
    residuals: Array | None = None,
    aux: Any = None,
) -> Record:
    """Enter the evaluations of the active rows of ``points`` (k, n) with ``values`` (k,).

    ``counts_for_best`` marks the points that may become the returned best point (the
    feasible ones).  Non-finite values never become best.  The history holds the best
    value after each evaluation, in batch order.
    """
    size = record.history.shape[0]
    usable = active & counts_for_best & jnp.isfinite(values)
    candidates = jnp.where(usable, values, jnp.inf)
    i = jnp.argmin(candidates)
    better = candidates[i] < record.best_f
    best_f = jnp.where(better, candidates[i], record.best_f)
    best_x = jnp.where(better, points[i], record.best_x)
    running_best = jnp.minimum(record.best_f, lax.cummin(candidates))
    position = record.nfev + jnp.cumsum(active, dtype=_INT) - 1
    position = jnp.where(active, position, size)  # inactive: dropped
    history = record.history.at[position].set(running_best, mode="drop")
    nfev = record.nfev + jnp.sum(active, dtype=_INT)
    best_residuals = record.best_residuals
    if residuals is not None:
        best_residuals = jnp.where(better, residuals[i], best_residuals)
    best_aux = record.best_aux
    if aux is not None:
        best_aux = jax.tree.map(lambda new, old: jnp.where(better, new[i], old), aux, best_aux)
    return record._replace(
        nfev=nfev,
        best_x=best_x,
        best_f=best_f,
        history=history,
        best_residuals=best_residuals,
        best_aux=best_aux,
    )


def _as_stored(points: Array) -> Array:
    """``points`` unchanged, as XLA must materialize them for f.

    A select XLA cannot see through (it is the identity): without it, XLA may fuse the
    arithmetic that made the points (a projection's x·c, say) into f's own arithmetic with
    fused multiply-adds, so f would be computed at a point a rounding away from the one
    recorded, and differently in a batched (vmap) program and an unbatched one.  With it, a
    vmapped run and a loop over starts round alike (tests/test_constraints.py).
    """
    return jnp.where(jnp.isnan(points), jnp.nan, points)


def evaluate(
    problem: Any,
    record: Record,
    points: Array,
    active: Array,
    counts_for_best: Array,
    iterate: Any = None,
    head: int | None = None,
    once: bool = False,
) -> tuple[Evaluation, Record]:
    """Evaluate the objective at the active rows of ``points`` and enter them in the record.

    The one way the solver evaluates anything: Step 0, gradients, trial points, searches.
    With ``iterate`` (trial and search points), rows equal to x_k or to a point of the memo
    take the known value instead of a new evaluation (see the module docstring).  ``head``:
    see :meth:`Objective.evaluate`, as ``once`` (an evaluation made once per run).

    Every point passes through the unrelaxable part of Ω here, however Ω was composed
    (:meth:`ConvexSet.clip_points`): callers already keep their points inside, so this
    changes nothing unless rounding pushed a point out, and then f is still never
    evaluated outside unrelaxable bounds.
    """
    if problem.constraint is not None:
        points = problem.constraint.clip_points(points)
    points = _as_stored(points)
    if iterate is None or not problem.options.reuse_evaluations:
        evaluation = problem.objective.evaluate(points, active, problem.args, head, once)
        record = add(
            record,
            points,
            evaluation.values,
            active,
            counts_for_best,
            evaluation.residuals,
            evaluation.aux,
        )
        return evaluation, record
    memo_size = record.memo_f.shape[0]
    known_x = jnp.concatenate([iterate.x[None], record.memo_x])
    known_f = jnp.concatenate([iterate.f[None], record.memo_f])
    known = jnp.concatenate(
        [jnp.ones(1, bool), jnp.arange(memo_size, dtype=_INT) < record.memo_count]
    )
    same = jnp.all(_bits(points)[:, None, :] == _bits(known_x)[None], axis=-1) & known
    hit = active & jnp.any(same, axis=1)
    j = jnp.argmax(same, axis=1)
    fresh = active & ~hit
    evaluation = problem.objective.evaluate(points, fresh, problem.args, head)
    values = jnp.where(hit, known_f[j], evaluation.values)
    residuals = evaluation.residuals
    if residuals is not None:
        known_r = jnp.concatenate([iterate.residuals[None], record.memo_residuals])
        residuals = jnp.where(hit[:, None], known_r[j], residuals)
    record = add(
        record,
        points,
        evaluation.values,
        fresh,
        counts_for_best,
        evaluation.residuals,
        evaluation.aux,
    )
    # Enter the fresh rows into the ring buffer (k ≤ M, so no two rows share a slot).
    slot = (record.memo_count + jnp.cumsum(fresh, dtype=_INT) - 1) % memo_size
    slot = jnp.where(fresh, slot, memo_size)  # not fresh: dropped
    record = record._replace(
        memo_x=record.memo_x.at[slot].set(points, mode="drop"),
        memo_f=record.memo_f.at[slot].set(values, mode="drop"),
        memo_residuals=None
        if residuals is None
        else record.memo_residuals.at[slot].set(residuals, mode="drop"),
        memo_count=record.memo_count + jnp.sum(fresh, dtype=_INT),
        n_reused=record.n_reused + jnp.sum(hit, dtype=_INT),
    )
    return Evaluation(values, residuals, evaluation.aux), record


def _bits(x: Array) -> Array:
    """The bit pattern of x: equality of points means the same point, bit for bit."""
    unsigned = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}[x.dtype.itemsize]
    return lax.bitcast_convert_type(x, unsigned)


def inside(constraint: Any, points: Array) -> Array:
    """Which rows of ``points`` (k, n) lie in Ω (up to rounding): those may become the best
    point.  Finite-difference points may leave a relaxable Ω; iterates and trial points
    never do."""
    if constraint is None:
        return jnp.ones(points.shape[:1], bool)
    return jax.vmap(constraint.contains)(points)


def fits(record: Record, need: Array | int, max_evals: Array | int) -> Array:
    """Whether ``need`` more evaluations fit in the budget (the budget look-ahead)."""
    return record.nfev + need <= max_evals


def padded_history(record: Record) -> Array:
    """The history with the entries after the last evaluation set to the final best value."""
    index = jnp.arange(record.history.shape[0], dtype=record.nfev.dtype)
    return jnp.where(index < record.nfev, record.history, record.best_f)
