"""The driver: ``init``, then ``step`` in a ``lax.while_loop`` until ``terminate``.

:func:`run` is the loop for one start.  Under ``jax.vmap`` (multi-start) its custom
batching rule runs ONE loop over the whole batch, with the unbatched condition "some start
is still running"; ``step`` itself leaves finished starts untouched.  The default rule of a
``while_loop`` with a batched condition would instead select between the old and new state
of every start after every iteration, copying the (max_evals,) histories each time.

:func:`solve` runs the compiled loop for the public entry points and hands a host
objective's own exception back to the caller.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from trfd_jax._src import trfd
from trfd_jax._src.checks import any_tracer
from trfd_jax._src.observe import HOST_ERRORS, PROGRESS, observe, summarize
from trfd_jax._src.problem import Problem
from trfd_jax._src.solution import Result, result
from trfd_jax._src.state import State

Array = jax.Array


def _observed_step(problem: Problem, state: State, start: Array) -> State:
    """``step``, then the iteration log and the user callback when they are on."""
    new = trfd.step(problem, state)
    progress = problem.max_evals if problem.progress else None
    return observe(problem.verbose, problem.callback, state, new, start, progress)


def _finished(problem: Problem, state: State, start: Array) -> Result:
    summarize(problem.verbose, state, start, problem.max_evals if problem.progress else None)
    return result(problem, state)


@jax.custom_batching.custom_vmap
def run(problem: Problem, x0: Array) -> Result:
    """``init``, then ``step`` in a ``lax.while_loop`` until ``terminate``; no input checks
    (build ``problem`` and ``x0`` with :func:`trfd_jax.make_problem`)."""
    start = jnp.zeros((), jnp.int32)
    state = lax.while_loop(
        lambda s: ~trfd.terminate(problem, s),
        lambda s: _observed_step(problem, s, start),
        trfd.init(problem, x0),
    )
    return _finished(problem, state, start)


def _sharded_starts(x0: Array) -> tuple[Any, Any] | None:
    """(mesh, axis) where the batch of starts ``x0`` (B, n) is sharded over the mesh axis
    ``axis`` (a ``NamedSharding`` with explicit axes, ``jax.make_mesh``'s default); None
    where it is not (then XLA places the program as it would any other)."""
    try:
        sharding = jax.typeof(x0).sharding
        axis = sharding.spec[0] if len(sharding.spec) else None
    except (AttributeError, TypeError, IndexError):
        return None
    if axis is None or sharding.mesh.empty:
        return None
    return sharding.mesh, axis


@run.def_vmap
def _run_batched(axis_size: int, in_batched: Any, problem: Problem, x0: Array):
    """One loop over the batch; where the starts are sharded over devices, one loop per
    device over its own starts (``shard_map``): the evaluation scheduler and the loop's
    "some start is still running" stay local, so the devices never wait on each other and
    each start's run is that of the unsharded batch."""
    sharded = _sharded_starts(x0) if in_batched[1] else None
    if sharded is None:
        out = _run_batch(axis_size, in_batched, problem, x0)
        return out, jax.tree.map(lambda _: True, out)
    mesh, axis = sharded
    names = axis if isinstance(axis, tuple) else (axis,)
    count = 1
    for name in names:
        count *= mesh.shape[name]
    if axis_size % count:
        raise ValueError(
            f"{axis_size} starts cannot be split evenly over the {count} devices of mesh "
            f"axis {axis!r}: pad the starts to a multiple of {count}."
        )
    spec = jax.sharding.PartitionSpec(axis)
    problem_specs = jax.tree.map(
        lambda b: spec if b else jax.sharding.PartitionSpec(), in_batched[0]
    )

    def local(problem: Problem, x0: Array) -> Result:
        first = lax.axis_index(names) * (axis_size // count)  # this device's first start
        return _run_batch(axis_size // count, in_batched, problem, x0, first)

    # check_vma=False: the loop mixes per-device values with constants (a cond branch of
    # NaNs, say), which shard_map's varying-axis check would refuse.
    out = jax.shard_map(
        local, mesh=mesh, in_specs=(problem_specs, spec), out_specs=spec, check_vma=False
    )(problem, x0)
    return out, jax.tree.map(lambda _: True, out)


def _run_batch(
    axis_size: int, in_batched: Any, problem: Problem, x0: Array, first: Any = 0
) -> Result:
    """The batched loop over ``axis_size`` starts, numbered from ``first`` in logs."""
    problem_batched, x0_batched = in_batched
    problem_axes = jax.tree.map(lambda b: 0 if b else None, problem_batched)
    # Evaluations scheduled across the batch (schedule.py): the vmap below batches them.
    objective = dataclasses.replace(
        problem.objective, scheduled=True, batch_chunk=problem.options.batch_chunk
    )
    problem = dataclasses.replace(problem, objective=objective)
    problem_axes = dataclasses.replace(problem_axes, objective=objective)
    x0_axis = 0 if x0_batched else None
    starts = first + jnp.arange(axis_size, dtype=jnp.int32)  # each start's index, for logs
    state = jax.vmap(trfd.init, in_axes=(problem_axes, x0_axis), axis_size=axis_size)(problem, x0)
    batched_step = jax.vmap(_observed_step, in_axes=(problem_axes, 0, 0))
    state = lax.while_loop(
        lambda s: jnp.any(~trfd.terminate(problem, s)),
        lambda s: batched_step(problem, s, starts),
        state,
    )
    return jax.vmap(_finished, in_axes=(problem_axes, 0, 0))(problem, state, starts)


# XLA's CPU fusion emitters spend about half the compile time of a first call on this
# program (a loop of ~150 small fusions) and buy it no run time; the legacy emitters compile
# the solver's own arithmetic to bitwise the same results (every reduction is a fixed tree,
# linalg.py).  The objective is compiled into the same program, and XLA may round its
# transcendental functions and its own sums differently under other options: a top-level
# call and a call inside the caller's jit (where the caller's options apply) then agree to
# rounding in f, not always bit for bit.  One codegen partition instead of several maps
# fewer memory regions per program (extended Rosenbrock, n = 10: about 90 against 130); a
# process holds at most vm.max_map_count (65,530) of them.  Compiler options only apply to
# an outermost jit, so they are set there alone.
_CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_cpu_parallel_codegen_split_count": 1}
_run_jit_cpu = jax.jit(run, compiler_options=_CPU_OPTIONS)
_run_jit_default = jax.jit(run)


def _outermost() -> bool:
    """Whether a jit called now is a top-level one: no trace is active, or only eager
    ``vmap`` traces over the top level (a batched jit is still compiled on its own)."""
    try:
        from jax._src import core
        from jax._src.interpreters import batching

        trace = core.trace_ctx.trace
        while isinstance(trace, batching.BatchTrace):
            trace = trace.parent_trace
        return isinstance(trace, core.EvalTrace)
    except (ImportError, AttributeError):  # JAX internals moved: take the safe default
        return False


def _run_jit(problem: Problem, x0: Array) -> Result:
    # TRFD_JAX_COMPILER_OPTIONS=0 compiles with XLA's defaults everywhere.
    own = os.environ.get("TRFD_JAX_COMPILER_OPTIONS", "1") != "0"
    cpu = jax.default_backend() == "cpu"
    run_jit = _run_jit_cpu if own and cpu and _outermost() else _run_jit_default
    try:
        return run_jit(problem, x0)
    except NotImplementedError as error:
        if "vmap_method" not in str(error):
            raise
        # (Not checked on fun's jaxpr up front: libraries such as diffrax hold callbacks
        # without one inside their own batching rules, where they are never vmapped.)
        raise TypeError(
            "fun calls jax.pure_callback without vmap_method: the solver evaluates fun on a "
            "batch of points (jax.vmap), which needs one.  Pass vmap_method='sequential' "
            "(one host call per point), 'expand_dims' or 'broadcast_all' (your callback "
            "takes a batch), or wrap the host function with trfd_jax.black_box instead."
        ) from error


def compiled_programs() -> int:
    """How many programs of the solver are compiled (for the no-recompile tests)."""
    return _run_jit_cpu._cache_size() + _run_jit_default._cache_size()


@jax.custom_jvp
def _not_differentiated(inputs: Any) -> Any:
    """The identity, whose derivative is a clear error: the solver's iterations are not a
    function JAX can differentiate (comparisons, finite differences, a while loop), and a
    derivative of ``Result.x`` through them would be wrong, not merely slow.  Inputs that
    carry no tangent pass (``jax.grad`` of something else around a solve works)."""
    return inputs


@_not_differentiated.defjvp
def _not_differentiated_jvp(primals: Any, tangents: Any) -> Any:
    raise TypeError(
        "trfd_jax's solvers are not differentiable: jax.grad/jvp reached x0, args or the "
        "constraint of minimize/least_squares.  The run is a sequence of accept/reject "
        "decisions, so a derivative through it would be wrong.  For derivatives of the "
        "solution x*(args), differentiate its optimality condition ∇f(x*, args) = 0 (the "
        "implicit function theorem: dx*/dargs = −∇²f⁻¹ ∂∇f/∂args, as optimistix's "
        "ImplicitAdjoint does), or wrap the inputs in jax.lax.stop_gradient if no "
        "derivative was meant."
    )


def solve(problem: Problem, x0: Array) -> Result:
    """Run the compiled solver; re-raise a host function's own exception.

    A host objective or a user callback raises inside the compiled loop, where JAX turns the
    exception into a runtime error; where the run is eager (not inside the caller's
    ``jit``/``vmap``), the original exception is raised in its place.
    """
    problem, x0 = _not_differentiated((problem, x0))
    host = problem.objective.batched or problem.callback is not None or problem.progress
    if not host or any_tracer((problem, x0)):
        pin = getattr(problem.objective.fun, "pin", None)
        if pin is not None:  # the caller's program holds a black box's handle
            pin()
        return _run_jit(problem, x0)
    problem.objective.pop_error()
    problem.objective.start_run()
    HOST_ERRORS.pop()
    PROGRESS.reset()
    try:
        return jax.block_until_ready(_run_jit(problem, x0))
    except (jax.errors.JaxRuntimeError, ValueError):
        # (A cached program's fast dispatch reports a failed callback as a ValueError.)
        error = problem.objective.pop_error() or HOST_ERRORS.pop()
        if error is None:
            raise
        raise error.with_traceback(error.__traceback__) from None
