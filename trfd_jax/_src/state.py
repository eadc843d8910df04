"""The solver state: one immutable pytree, dtypes fixed by :func:`trfd_jax.init`.

Shapes: n the dimension, B = max_evals the evaluation budget.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

import jax

Array = jax.Array


class StepKind(enum.IntEnum):
    """What the last iteration did (``State.last_step``), for logs and tests."""

    NONE = 0
    SUCCESSFUL = 1  # ρ_k ≥ α: x moved, Δ grew (Step 3)
    TYPE_I = 2  # unsuccessful, τ√n ≤ Δ_{k+1}: keep τ, g and H (Step 4)
    TYPE_II = 3  # unsuccessful, τ√n > Δ_{k+1}: halve τ, new gradient (Step 4)
    SEARCH = 4  # a search step gave sufficient decrease (second paper)
    GRADIENT_FAILED = 5  # a finite-difference value was NaN/inf: halve Δ and τ, retry


class LeastSquaresState(NamedTuple):
    """F(x_k) and the finite-difference Jacobian J_k, in least-squares mode."""

    residuals: Array  # (m,)
    jacobian: Array  # (m, n)


class State(NamedTuple):
    """State of TRFD-S between iterations (the paper's k-th quantities)."""

    # Iterate x_k ∈ Ω and f(x_k).
    x: Array  # (n,)
    f: Array  # ()
    # Model m_k: finite-difference gradient g_k (Step 1) and Hessian approximation H_k.
    gradient: Array  # (n,)
    hessian: Array  # (n, n)
    # H_k = Q diag(λ) Qᵀ, kept so that a type I iteration does not decompose H again.
    hessian_eigenvalues: Array  # (n,) λ, ascending
    hessian_eigenvectors: Array  # (n, n) Q
    # Previous accepted iterate and the gradient computed there: s, y of the update.
    x_prev: Array  # (n,)
    gradient_prev: Array  # (n,)
    has_prev: Array  # () bool: at least one step accepted
    # Trust region and finite differences.
    radius: Array  # () Δ_k
    fd_step: Array  # () τ_k
    needs_gradient: Array  # () bool: the next iteration starts with Step 1
    # Counters.
    nfev: Array  # () int32, evaluations so far (never above max_evals)
    nit: Array  # () int32, iterations so far
    n_successful: Array  # () int32
    n_type_i: Array  # () int32
    n_type_ii: Array  # () int32
    n_search: Array  # () int32, search steps tried
    n_search_successful: Array  # () int32, search steps accepted
    last_step: Array  # () int32, a StepKind
    # Best point seen (among evaluations that count for it) and the history of its value.
    best_x: Array  # (n,)
    best_f: Array  # ()
    history: Array  # (B,) best value after each evaluation; +inf where not yet evaluated
    # Termination.
    status: Array  # () int32, a Status; RUNNING while the loop goes on
    # Least-squares mode: F(x_k) and J_k (a LeastSquaresState); () otherwise.
    lsq: Any = ()
