"""Termination codes of the solver.

A run always ends with a best-so-far result and one of these codes; no exception is raised
inside traced code, so that one failed start cannot sink a ``jax.vmap``-ed batch.
"""

from __future__ import annotations

import enum

import numpy as np


class Status(enum.IntEnum):
    """Why a run stopped (``Result.status``); ``Status(code).message`` explains it."""

    RUNNING = 0
    RADIUS_TOL = 1
    MAX_EVALS = 2
    MAX_ITER = 3
    TARGET_REACHED = 4
    NONFINITE_X0 = 5
    USER_STOP = 6
    INFEASIBLE_X0 = 7

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def success(self) -> bool:
        """Whether the run ended by one of its convergence tests, not by a limit or error."""
        return self in (Status.RADIUS_TOL, Status.TARGET_REACHED)


_MESSAGES = {
    Status.RUNNING: "Still running (no stopping test has fired yet).",
    Status.RADIUS_TOL: "Converged: the trust-region radius fell to radius_tol (Δ ≤ Δ_tol).",
    Status.MAX_EVALS: (
        "Evaluation budget exhausted: the next step would have exceeded max_evals, "
        "so it was not started."
    ),
    Status.MAX_ITER: "Iteration limit max_iter reached.",
    Status.TARGET_REACHED: "Target value reached: f ≤ f_target.",
    Status.NONFINITE_X0: "f(x0) is not finite (NaN or inf), or x0 itself is not finite.",
    Status.USER_STOP: "Stopped by the user's callback.",
    Status.INFEASIBLE_X0: (
        "x0 could not be projected onto the feasible set (is the intersection empty?)."
    ),
}


def status_message(code: int | np.integer | np.ndarray) -> str | list:
    """Host-side message(s) for status code(s); nested lists for batched codes."""
    arr = np.asarray(code)
    if arr.ndim == 0:
        return Status(int(arr)).message
    return [status_message(c) for c in arr]
