"""The problem a run solves: objective, budget, options, constraint, search — one pytree.

Static parts (the objective, the budget, the options and the parameters resolved from them,
the search strategy, the observation hooks) are pytree metadata: changing them recompiles.
Dynamic parts (extra ``args`` of the objective, the constraint's arrays) are pytree leaves,
so they can differ between the starts of a ``jax.vmap``-ed solve.  Build a Problem with
:func:`trfd_jax.make_problem`, which checks every input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from trfd_jax._src.objective import Objective
from trfd_jax._src.options import Options, ResolvedParameters
from trfd_jax._src.pytree import Structure


@dataclasses.dataclass(frozen=True)
class Problem:
    """What to minimize, and how.

    Attributes:
        objective: the :class:`Objective` (the function, scalar or residuals).
        max_evals: the evaluation budget, an int32 scalar array (data: a new budget does
            not recompile); the solver never exceeds it.
        options: static :class:`Options`.
        parameters: τ₀, Δ₀ and Δ_max resolved from the options for this n and dtype.
        args: extra data passed to the objective (a pytree; may be batched under ``vmap``).
        constraint: the feasible set Ω, or None for Rⁿ.
        search: a search strategy (``trfd_jax.SearchStep``), or None for plain TRFD-S.
        verbose: print an iteration log from inside the compiled loop.
        progress: show a tqdm progress bar of evaluations (all starts of a vmap together).
        callback: ``callback(IterationSummary) -> bool | None`` after each iteration of the
            driver loop; a true return stops the run (status ``USER_STOP``).
        structure: the pytree structure of the user's x₀ (None for a flat array): the
            solver works on the flat vector, ``Result.x`` comes back in this structure.
        history_size: the length H of the history of best values: max_evals rounded up to
            a power of two (at least 64, at most ``Options.history_size``), so that budgets
            of the same size class share one compiled solver.
    """

    objective: Objective
    max_evals: Any
    options: Options
    parameters: ResolvedParameters
    args: Any = None
    constraint: Any = None
    search: Any = None
    verbose: bool = False
    progress: bool = False
    callback: Callable[..., Any] | None = None
    structure: Structure | None = None
    history_size: int = 64


jax.tree_util.register_dataclass(
    Problem,
    data_fields=["max_evals", "args", "constraint"],
    meta_fields=[
        "objective",
        "history_size",
        "options",
        "parameters",
        "search",
        "verbose",
        "progress",
        "callback",
        "structure",
    ],
)
