"""The problem a run solves: objective, budget, options, constraint — one pytree.

Static parts (the objective, the budget, the options) are pytree metadata: changing them
recompiles.  Dynamic parts (extra ``args`` of the objective, the constraint's arrays) are
pytree leaves, so they can differ between the starts of a ``jax.vmap``-ed solve.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from trfd_jax._src.options import Options


@dataclasses.dataclass(frozen=True)
class Problem:
    """What to minimize, and how.

    Attributes:
        fun: the objective, ``fun(x) -> scalar`` (or ``fun(x, args)`` when ``args`` is not
            None), written in JAX, or a black-box bridge object.
        max_evals: the evaluation budget; the solver never exceeds it.
        options: static :class:`Options`.
        args: extra data passed to ``fun`` (a pytree; may be batched under ``vmap``).
        constraint: the feasible set Ω, or None for Rⁿ.
        residual_size: m in least-squares mode (``fun`` returns F(x) ∈ Rᵐ and f = ‖F‖²),
            None for a scalar objective.
        search: a search strategy (``trfd_jax.SearchStep``) tried before each rigorous
            step, or None for plain TRFD-S.
        verbose: print an iteration log from inside the compiled loop.
        callback: ``callback(IterationSummary) -> bool | None`` after each iteration of the
            driver loop; a true return stops the run (status ``USER_STOP``).
    """

    fun: Callable[..., Any]
    max_evals: int
    options: Options = dataclasses.field(default_factory=Options)
    args: Any = None
    constraint: Any = None
    residual_size: int | None = None
    search: Any = None
    verbose: bool = False
    callback: Callable[..., Any] | None = None

    @property
    def evals_per_gradient(self) -> int:
        """Evaluations of one full finite-difference gradient per coordinate."""
        return self.options.evals_per_gradient_factor


jax.tree_util.register_dataclass(
    Problem,
    data_fields=["args", "constraint"],
    meta_fields=[
        "fun",
        "max_evals",
        "options",
        "residual_size",
        "search",
        "verbose",
        "callback",
    ],
)
