"""The objective: one interface for every kind of function the solver minimizes.

An :class:`Objective` is JAX-native (a function written in JAX) or a *batch objective* (an
object with ``evaluate_batch``, such as the host bridge :func:`trfd_jax.black_box`), and it
returns either f(x) or, in least-squares mode, the residual vector F(x) ∈ Rᵐ with
f = ‖F‖².  The solver only ever calls :meth:`Objective.evaluate`:

* every evaluation is a batch of points with an ``active`` mask — the n (or 2n) points of a
  finite-difference gradient, a trial point, search candidates.  Only the active rows are
  points the algorithm needs, and only those are counted.
* A JAX-native objective is ``jax.vmap``-ed over the batch (the whole batch is skipped with
  ``lax.cond`` when nothing is active and the call is not batched).  A batch objective
  receives the mask and evaluates only the active rows itself (e.g. on the host).
* In least-squares mode the residuals are handed back with the values, so that one
  finite-difference gradient also gives the Jacobian.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.extend.core as jex_core
import jax.numpy as jnp
import numpy as np
from jax import lax

from trfd_jax._src import linalg, schedule

Array = jax.Array


@runtime_checkable
class BatchObjective(Protocol):
    """An objective that evaluates whole masked batches itself (e.g. on the host).

    ``evaluate_batch(points, active, args)`` returns the values (k,), or, for residual
    objectives, the residual vectors (k, m); inactive rows may hold anything.  An optional
    attribute ``residuals`` (m or None) says which; an optional ``pop_error()`` returns the
    exception a host function raised during the last run, so that it reaches the caller.
    """

    def evaluate_batch(self, points: Array, active: Array, args: Any) -> Array: ...


class Evaluation(NamedTuple):
    """Values f (k,) at a batch of points (NaN where inactive) and, in least-squares mode,
    the residual vectors F (k, m) (NaN rows where inactive), else None; with ``has_aux``,
    the auxiliary outputs (a pytree with a leading axis k), else None."""

    values: Array
    residuals: Array | None
    aux: Any = None


def call(fun: Any, x: Array, args: Any) -> Array:
    """f(x) (or F(x)) of a JAX-native function, with or without extra ``args``."""
    return fun(x) if args is None else fun(x, args)


@dataclasses.dataclass(frozen=True, eq=False)
class Hoisted:
    """A function whose closed-over arrays were taken out (closure conversion).

    ``jaxpr`` is the function of (x, args) traced once; it is called as
    ``fun(x, (args, consts))``, the arrays it closed over (traced or concrete) being
    ``consts``.  Equal to any function of the same program (``key``, see
    :func:`trace_key`; the constants are data, so only their shapes and dtypes count): a
    loop of ``minimize(lambda x: loss(x, data_k), x0)`` over new data, or an eager ``vmap``
    over a closure called again, reuses one compiled solver.
    """

    jaxpr: Any
    out_tree: Any
    key: tuple = dataclasses.field(default=(), repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hoisted):
            return False
        return self is other if not self.key else self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key) if self.key else id(self)

    def __call__(self, x: Array, packed: Any) -> Any:
        args, consts = packed
        out = jax.core.eval_jaxpr(self.jaxpr, consts, *jax.tree.leaves((x, args)))
        return jax.tree.unflatten(self.out_tree, out)


@dataclasses.dataclass(frozen=True, eq=False)
class Traced:
    """A JAX-native function, equal to any function that traces to the same program.

    ``jax.jit`` caches a program on the function object, so a new lambda of the same code
    (``minimize(lambda x: loss(x, data), x0)`` in a loop over starts, say) would trace and
    compile the whole solver again.  ``key`` is what decides the program instead: the
    function's jaxpr (its equations, shapes, dtypes, literal values and parameters), the
    constants of its sub-programs (shape, dtype and a digest of their bytes) and its
    output's structure; a function that captured arrays itself is :class:`Hoisted`.
    Two functions with the same key compute the same thing, so the solver
    compiled for the first serves the second.  Called as the function itself.
    """

    fun: Any
    key: tuple
    hash_: int = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash_", hash(self.key))  # the key is deep: hash it once

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Traced) and self.hash_ == other.hash_ and self.key == other.key

    def __hash__(self) -> int:
        return self.hash_

    def __call__(self, x: Array, *args: Any) -> Any:
        return self.fun(x, *args)


# A custom_jvp/custom_vjp function's derivative rules, new objects at every trace: the solver
# only evaluates the function (its ``call_jaxpr``), so they are left out of the key.
_DERIVATIVE_RULES = frozenset({"jvp_jaxpr_fun", "fwd_jaxpr_thunk", "bwd", "out_trees"})


def trace_key(closed: Any, out_tree: Any) -> tuple:
    """The key of :class:`Traced` for a closed jaxpr with concrete constants (of
    :class:`Hoisted` for an open jaxpr, whose constants are data).

    The program as a nested tuple: every equation's primitive, its operands (earlier
    results by number, literals by dtype and bytes), its results' shapes and dtypes and
    its parameters — sub-programs recursively, hashable values by value, anything else
    (a host callback, say) by identity — and every constant by shape, dtype and a digest
    of its bytes.  (Built directly: printing a jaxpr costs ten times as much.)
    """

    def as_numpy(value: Any) -> tuple[Any, np.ndarray]:
        # A PRNG key array has no NumPy form: its raw data and its implementation's name.
        if jnp.issubdtype(getattr(value, "dtype", None), jax.dtypes.extended):
            with jax.ensure_compile_time_eval():  # a concrete key, even inside a jit
                return str(value.dtype), np.asarray(jax.random.key_data(value))
        array = np.asarray(value)
        return str(array.dtype), array

    def literal(value: Any) -> tuple:
        dtype, array = as_numpy(value)
        return "literal", dtype, array.shape, np.ascontiguousarray(array).tobytes()

    def constant(value: Any) -> Any:
        if isinstance(value, jax.core.Tracer):  # of the caller's trace: never shared
            return _Identity(value)
        dtype, array = as_numpy(value)
        digest = hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16)
        return "constant", dtype, array.shape, digest.hexdigest()

    def program(jaxpr: Any) -> tuple:
        numbers: dict = {}

        def operand(v: Any) -> Any:
            if isinstance(v, jex_core.Literal):
                return literal(v.val)
            return numbers.setdefault(v, len(numbers))

        head = tuple((operand(v), v.aval) for v in (*jaxpr.constvars, *jaxpr.invars))
        body = tuple(
            (
                eqn.primitive.name,
                tuple(operand(v) for v in eqn.invars),
                tuple((operand(v), v.aval) for v in eqn.outvars),
                tuple(
                    (name, parameter(value))
                    for name, value in sorted(eqn.params.items())
                    if name not in _DERIVATIVE_RULES
                ),
            )
            for eqn in jaxpr.eqns
        )
        return head, body, tuple(operand(v) for v in jaxpr.outvars)

    def parameter(value: Any) -> Any:
        if isinstance(value, jex_core.ClosedJaxpr):
            return program(value.jaxpr), tuple(constant(c) for c in value.consts)
        if isinstance(value, jex_core.Jaxpr):
            return program(value)
        if isinstance(value, (tuple, list)):
            return type(value), tuple(parameter(item) for item in value)
        try:
            hash(value)
        except TypeError:
            return _Identity(value)
        return type(value), value

    return parameter(closed), out_tree


@dataclasses.dataclass(frozen=True, eq=False)
class _Identity:
    """An unhashable value in a key, compared by identity (and held, so that its id is
    not reused)."""

    value: Any

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and self.value is other.value

    def __hash__(self) -> int:
        return id(self.value)


@dataclasses.dataclass(frozen=True, eq=False)
class Objective:
    """What the solver minimizes: static configuration (hashable; changing it recompiles).

    Attributes:
        fun: a JAX-native function ``fun(x)`` / ``fun(x, args)``, or a :class:`BatchObjective`.
        residual_size: m in least-squares mode (``fun`` returns F(x) ∈ Rᵐ and
            f = ‖F(x)‖²); None for a scalar objective.
        aux: with ``has_aux`` (``fun`` returns ``(value, aux)``), the structure of aux as
            ``(treedef, leaves)`` of ``jax.ShapeDtypeStruct`` (hashable); else None.
    """

    fun: Any
    residual_size: int | None = None
    aux: tuple | None = None
    scheduled: bool = False
    batch_chunk: int | None = None

    def _key(self) -> tuple:
        # A black box is compared by its program key (the host function is data).
        fun = getattr(self.fun, "program_key", self.fun)
        return fun, self.residual_size, self.aux, self.scheduled, self.batch_chunk

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Objective) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def aux_zeros(self) -> Any:
        """A pytree of zeros shaped like aux (the best point's aux before any evaluation)."""
        if self.aux is None:
            return None
        treedef, leaves = self.aux
        return jax.tree.unflatten(treedef, [jnp.zeros(s.shape, s.dtype) for s in leaves])

    @property
    def least_squares(self) -> bool:
        return self.residual_size is not None

    @property
    def batched(self) -> bool:
        """Whether ``fun`` evaluates masked batches itself (a host objective, say)."""
        return isinstance(self.fun, BatchObjective)

    def evaluate(
        self,
        points: Array,
        active: Array,
        args: Any,
        head: int | None = None,
        once: bool = False,
    ) -> Evaluation:
        """The objective at the active rows of ``points`` (k, n), in the points' dtype.

        A JAX-native f is evaluated on the whole batch (one ``vmap``) when any row is
        active; with ``head``, on the first ``head`` rows only unless a later row is
        active (the finite-difference batch: its forward points are the usual rows, the
        central and noise-estimation rows the rare ones), so an unbatched run computes no
        value it does not use.  Under ``vmap`` over starts, where both branches of a
        ``cond`` would run, ``schedule.rows`` computes the active rows of the whole batch
        and nothing else (``once``: an evaluation made once per run, see there).
        """
        dtype = points.dtype
        k = points.shape[0]
        m = self.residual_size
        aux = None
        if self.batched:
            out = self.fun.evaluate_batch(points, active, args)
        else:

            def row(x, args):
                out = call(self.fun, x, args)
                value, extra = out if self.aux is not None else (out, None)
                return value.astype(dtype), extra

            def skipped(r):
                shape = (r,) if m is None else (r, m)
                extra = None
                if self.aux is not None:
                    extra = jax.tree.map(
                        lambda z: jnp.zeros((r, *z.shape), z.dtype), self.aux_zeros()
                    )
                return jnp.full(shape, jnp.nan, dtype), extra

            def one_start(points, active, args):
                def evaluated(p):
                    return jax.vmap(row, (0, None))(p, args)

                def some(p):
                    if head is None or head >= k:
                        return evaluated(p)

                    def first(p):
                        parts = [evaluated(p[:head]), skipped(k - head)]
                        return jax.tree.map(lambda a, b: jnp.concatenate([a, b]), *parts)

                    return lax.cond(jnp.any(active[head:]), evaluated, first, p)

                return lax.cond(jnp.any(active), some, lambda p: skipped(k), points)

            if self.scheduled:  # in the solver's batched loop: compute only what is needed
                out, aux = schedule.rows(
                    row, one_start, skipped, points, active, args, head, self.batch_chunk, once
                )
            else:
                out, aux = one_start(points, active, args)
        out = out.astype(dtype)
        if m is None:
            return Evaluation(jnp.where(active, out, jnp.nan), None, aux)
        out = jnp.where(active[:, None], out, jnp.nan)
        return Evaluation(linalg.tree_sum(linalg.as_rounded(out * out)), out, aux)

    def pop_error(self) -> BaseException | None:
        """The exception a host function raised during the last run, if any (and forget it)."""
        pop = getattr(self.fun, "pop_error", None)
        return None if pop is None else pop()

    def start_run(self) -> None:
        """Tell a host function that a run starts (it keeps the best point of each run)."""
        start = getattr(self.fun, "start_run", None)
        if start is not None:
            start()
