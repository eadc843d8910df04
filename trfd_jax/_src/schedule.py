"""Evaluation scheduling across a batch of starts: compute only what the starts need.

Every evaluation of the solver is a masked batch of k points (``Objective.evaluate``).  One
start computes its block of rows only when some row is active (``lax.cond``), and of a
finite-difference batch only the first ``head`` rows (the forward points) unless a rarer
row (a central or noise-estimation point) is active.  Under ``jax.vmap`` (many starts in
one program) a ``cond`` on a batched predicate runs both branches, so each start would
compute all k rows at every evaluation site of every iteration: the rare rows, the
gradient of a start that keeps its gradient after a type I iteration, and every row of a
start that has finished.

:func:`rows` is the evaluation with a batching rule of its own (``custom_vmap``).  Under
``vmap`` over B starts it lists the starts that need their block (the head block, or the
whole one), runs the objective over that list in chunks of a fixed number of starts (a
``while_loop`` whose trip count is one number for the whole batch, not a batched one) and
scatters the values back.  A start that needs nothing costs nothing; at most a chunk's
padding is computed in vain.  The record still counts exactly what the algorithm uses
(``record.evaluate``): the scheduler only decides what is computed.

A start's block is computed as the unbatched program computes it (the same ``vmap`` of the
objective over the same rows), with a leading axis of the chunk's starts.  With chunks of
one start (``Options.batch_chunk=1``) the values are those of a loop over starts, to the
bit, for any objective.  With larger chunks XLA may round an objective's matrix products
differently in that layout (element-wise arithmetic and sums round alike), so a batch
then agrees with a loop to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array

_INT = jnp.int32

# Chunk sizes in starts (powers of two): big chunks of about B / BIG_FRACTION starts while
# that many need their block (few loop trips), then small chunks of a SMALL_FRACTION of
# that for the rest (little padding).  Two sizes are two compiled copies of the objective.
# An objective that loops (an adaptive ODE solve) costs about as much per trip for one
# start as for many, so few trips matter: on the ODE calibration (171 starts) big = 16,
# small = 1 ran in 14.2 s, big = 32, small = 4 in 10.9 s (a single size of 32: 9.7 s, but
# up to 31 starts computed in vain per evaluation, against the ≤ 1.1 computed/counted aim).
BIG_FRACTION = 4
SMALL_FRACTION = 8


def _power_of_two_at_most(value: int) -> int:
    return 1 << (max(1, value).bit_length() - 1)


def chunk_sizes(starts: int, chunk: int | None = None) -> tuple[int, int]:
    """(big, small) chunk sizes, in starts, for a batch of ``starts``; ``chunk``
    (``Options.batch_chunk``) fixes both."""
    if chunk is not None:
        return min(chunk, starts), min(chunk, starts)
    big = _power_of_two_at_most(starts // BIG_FRACTION)
    return big, max(1, big // SMALL_FRACTION)


def rows(
    row: Callable[[Array, Any], Any],
    unbatched: Callable[[Array, Array, Any], Any],
    empty: Callable[[int], Any],
    points: Array,
    active: Array,
    args: Any,
    head: int | None = None,
    chunk: int | None = None,
    once: bool = False,
) -> Any:
    """The objective's outputs at the active rows of ``points`` (k, n); any value elsewhere.

    Args:
        row: ``row(x, args)``, the objective's outputs at one point x (n,).
        unbatched: the evaluation of one start, ``unbatched(points, active, args)``.
        empty: ``empty(r)``, outputs of r rows that were not computed (NaN values).
        points, active, args: the batch, its mask and the objective's ``args``.
        head: the rows ``[:head]`` are computed alone when no later row is active (the
            forward points of a finite-difference batch); None: all k rows together.
        chunk: ``Options.batch_chunk``.
        once: an evaluation made once per run (Step 0): the blocks of every start that
            needs one are computed whole, in chunks of one size (of ``chunk`` starts, or
            all starts in one), so the site holds one compiled copy of the objective, not
            three.

    Under ``vmap`` the rows are scheduled across the batch (module docstring).
    """

    @jax.custom_batching.custom_vmap
    def evaluate(points: Array, active: Array, args: Any) -> Any:
        return unbatched(points, active, args)

    @evaluate.def_vmap
    def _scheduled(axis_size: int, in_batched: Any, points: Array, active: Array, args: Any):
        points_batched, active_batched, args_batched = in_batched
        if not points_batched:
            points = jnp.broadcast_to(points, (axis_size, *points.shape))
        if not active_batched:
            active = jnp.broadcast_to(active, (axis_size, *active.shape))
        k = points.shape[1]
        sizes = chunk_sizes(axis_size, chunk)
        if once:
            size = axis_size if chunk is None else min(chunk, axis_size)
            sizes = (size, size)
        if once or head is None or head >= k:
            out = compact(row, empty, points, jnp.any(active, 1), args, args_batched, sizes)
        else:
            # Starts that need a rare row compute the whole block; the others only the head
            # (rare: in small chunks alone, so one more copy of the objective, not two).
            whole = jnp.any(active[:, head:], 1)
            part = jnp.any(active[:, :head], 1) & ~whole
            out_head = compact(row, empty, points[:, :head], part, args, args_batched, sizes)
            small = (sizes[1], sizes[1])
            out_all = compact(row, empty, points, whole, args, args_batched, small)
            rest = empty(axis_size * (k - head))
            rest = jax.tree.map(lambda r: r.reshape(axis_size, k - head, *r.shape[1:]), rest)
            out_head = jax.tree.map(lambda a, b: jnp.concatenate([a, b], 1), out_head, rest)
            out = jax.tree.map(
                lambda a, b: jnp.where(whole.reshape(-1, *[1] * (a.ndim - 1)), a, b),
                out_all,
                out_head,
            )
        return out, jax.tree.map(lambda _: True, out)

    return evaluate(points, active, args)


def compact(
    row: Callable[[Array, Any], Any],
    empty: Callable[[int], Any],
    points: Array,
    needed: Array,
    args: Any,
    args_batched: Any,
    sizes: tuple[int, int],
) -> Any:
    """Outputs for the blocks ``points`` (B, k, n) of the starts that ``needed`` (B,), in
    chunks of starts (module docstring); NaN (``empty``) for the other starts.

    ``args_batched`` says which leaves of ``args`` have a leading B axis: a block takes its
    own start's leaf.  ``sizes``: the big and the small chunk (:func:`chunk_sizes`).
    """
    starts, k, _ = points.shape
    big, small = sizes
    count = jnp.sum(needed, dtype=_INT)
    # The needed starts' indices first, in order (a scatter, O(B)); padded so that every
    # chunk is a full slice.
    pad = big + small
    position = jnp.cumsum(needed, dtype=_INT) - 1
    order = jnp.zeros(starts + pad, _INT)
    order = order.at[jnp.where(needed, position, starts + pad)].set(
        jnp.arange(starts, dtype=_INT), mode="drop"
    )
    first = order[0]  # padding repeats the first needed start: points f accepts
    leaves, treedef = jax.tree.flatten(args)
    batched_leaves = jax.tree.leaves(args_batched) if leaves else []
    axes = jax.tree.unflatten(treedef, [0 if b else None for b in batched_leaves])

    def block(x: Array, block_args: Any) -> Any:  # one start's k rows, as unbatched
        return jax.vmap(row, (0, None))(x, block_args)

    def chunk(size: int) -> Callable:
        def body(carry):
            begin, out = carry
            index = lax.dynamic_slice(order, (begin,), (size,))
            valid = begin + jnp.arange(size, dtype=_INT) < count
            index = jnp.where(valid, index, first)
            own = [
                leaf[index] if b else leaf for leaf, b in zip(leaves, batched_leaves, strict=True)
            ]
            values = jax.vmap(block, (0, axes))(points[index], jax.tree.unflatten(treedef, own))
            target = jnp.where(valid, index, starts)  # padding: dropped
            out = jax.tree.map(lambda o, v: o.at[target].set(v, mode="drop"), out, values)
            return begin + size, out

        return body

    out = jax.tree.map(lambda r: r.reshape(starts, k, *r.shape[1:]), empty(starts * k))
    # Whole big chunks, then small ones for the rest (≤ small − 1 starts computed in vain);
    # with one size, chunks up to the count (the last one padded).
    zero = jnp.zeros((), _INT)
    if small == big:
        return lax.while_loop(lambda c: c[0] < count, chunk(big), (zero, out))[1]
    carry = lax.while_loop(lambda c: c[0] < count // big * big, chunk(big), (zero, out))
    return lax.while_loop(lambda c: c[0] < count, chunk(small), carry)[1]
