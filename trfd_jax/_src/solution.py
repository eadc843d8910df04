"""How a run ends: the :class:`Status` codes and the :class:`Result`.

A run always ends with a best-so-far result and one status code; no exception is raised
inside traced code, so that one failed start cannot sink a ``jax.vmap``-ed batch.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trfd_jax._src import record as record_lib
from trfd_jax._src.state import State

Array = jax.Array


class Status(enum.IntEnum):
    """Why a run stopped (``Result.status``); each member carries its ``message``."""

    RUNNING = 0
    RADIUS_TOL = 1
    MAX_EVALS = 2
    MAX_ITER = 3
    TARGET_REACHED = 4
    NONFINITE_X0 = 5
    USER_STOP = 6
    INFEASIBLE_X0 = 7
    CONVERGED = 8
    NONFINITE_VALUES = 9
    PROJECTION_FAILED = 10
    NOISE_FLOOR = 11

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def success(self) -> bool:
        """Whether the run ended by one of its convergence tests, not by a limit or error."""
        return self in _CONVERGED


_CONVERGED = (Status.RADIUS_TOL, Status.TARGET_REACHED, Status.CONVERGED, Status.NOISE_FLOOR)

_MESSAGES = {
    Status.RUNNING: "Still running (no stopping test has fired yet).",
    Status.RADIUS_TOL: (
        "Converged: the trust-region radius fell to radius_tol (Δ ≤ Δ_tol) with the model "
        "finding no more decrease."
    ),
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
    Status.CONVERGED: (
        "Converged: the last accepted step changed x by at most xtol and f by at most ftol "
        "(relative, Options.xtol and Options.ftol)."
    ),
    Status.NONFINITE_VALUES: (
        "Failed: f was NaN or inf at the finite-difference points around x, 16 gradients "
        "in a row (each with half the step before) or until Δ fell to radius_tol; x is the "
        "best point with a finite value, not a stationary point."
    ),
    Status.PROJECTION_FAILED: (
        "Failed: the projection onto Ω did not reach Ω (its iterations did not converge), "
        "so no feasible trial point was found until Δ fell to radius_tol; raise "
        "Intersection.max_iter or Options.dykstra_max_iter."
    ),
    Status.NOISE_FLOOR: (
        "Converged to the noise level: with central differences at the floor that the "
        "noise in f sets for τ (Result.noise), a step failed that sought less decrease "
        "than the noise and was shorter than the stencil, so no decrease that the noise "
        "lets the method resolve is left (Options.noise_level)."
    ),
}


def status_message(code: int | np.integer | np.ndarray) -> str | list:
    """Host-side message(s) for status code(s); nested lists for batched codes."""
    arr = np.asarray(code)
    if arr.ndim == 0:
        return Status(int(arr)).message
    return [status_message(c) for c in arr]


class Result(NamedTuple):
    """The outcome of a run (a pytree: under ``vmap`` every field gains a batch axis).

    Attributes:
        x: best point seen (feasible), in the structure of x₀ (shape (n,) for an array).
        f: its value, the lowest value seen at a feasible point.  For
            :func:`least_squares`, the cost ½‖F(x)‖² (scipy's ``cost``, optimistix's
            convention); the solver itself works with the paper's f = ‖F‖², whose
            values are exactly twice these.
        nfev: evaluations used (never above ``max_evals``).
        nit: iterations.
        status: a :class:`Status` code; ``message`` explains it on the host.
        history: best value after each of the first H evaluations, shape (H,) with
            H = max_evals rounded up to a power of two (at least 64, at most
            ``Options.history_size``, 4096 by default; the budget is data, so changing it
            does not recompile), padded after the end of the run with the final best value
            (+inf only if f(x₀) was not finite).
        radius: final trust-region radius Δ.
        fd_step: final finite-difference step τ.
        gradient: the last finite-difference gradient g (at the last iterate).
        n_successful, n_type_i, n_type_ii: counts of the iteration kinds of Steps 3–4.
        n_search, n_search_successful: search steps tried and accepted (second paper).
        n_reused: trial and search points that repeated a known point, whose value was
            reused instead of evaluated again (not counted in ``nfev``).
        residuals: F(x) at the returned point (least squares; None otherwise).
        jacobian: the last finite-difference Jacobian J, at the last iterate and after
            Broyden's updates (least squares; None otherwise).
        aux: with ``has_aux``, the objective's auxiliary output at ``x`` (else None).
        noise: ε_f, the noise level the run used: the one given in
            ``Options.noise_level``, or the one estimated during the run (0: none).
    """

    x: Array
    f: Array
    nfev: Array
    nit: Array
    status: Array
    history: Array
    radius: Array
    fd_step: Array
    gradient: Array
    n_successful: Array
    n_type_i: Array
    n_type_ii: Array
    n_search: Array
    n_search_successful: Array
    n_reused: Array
    noise: Array
    residuals: Array | None = None
    jacobian: Array | None = None
    aux: Any = None

    @property
    def message(self) -> str | list:
        """Host-side explanation of ``status`` (a list for batched results)."""
        return status_message(np.asarray(self.status))

    @property
    def success(self) -> Array:
        """Whether the run stopped by a convergence test (see :attr:`Status.success`)."""
        return jnp.isin(self.status, jnp.asarray(_CONVERGED, self.status.dtype))


def result(problem: object, state: State) -> Result:
    """The :class:`Result` of a (finished or not) state: best point and padded history.

    ``x`` and ``gradient`` come back in the structure of the problem's x₀ (a pytree x₀ is
    a flat vector inside the solver).
    """
    record = state.record
    structure = getattr(problem, "structure", None)
    unravel = (lambda v: v) if structure is None else structure.unravel
    history = record_lib.padded_history(record)
    f = record.best_f
    if state.model.jacobian is not None:  # least squares: report the cost ½‖F‖²
        f, history = 0.5 * f, 0.5 * history
    return Result(
        x=unravel(record.best_x),
        f=f,
        nfev=record.nfev,
        status=state.status,
        history=history,
        radius=state.region.radius,
        fd_step=state.region.fd_step,
        gradient=unravel(state.model.gradient),
        n_reused=record.n_reused,
        noise=state.region.noise,
        residuals=record.best_residuals,
        jacobian=state.model.jacobian,
        aux=record.best_aux,
        **{k: v for k, v in state.counters._asdict().items() if k != "failed_gradients"},
    )
