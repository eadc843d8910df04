"""The carried state of TRFD-S: one immutable pytree, grouped by purpose.

Shapes: n the dimension, m the number of residuals (least squares), B = max_evals.  The
dtype of x₀ fixes the dtype of every floating field (set by :func:`trfd_jax.init`).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from trfd_jax._src.record import Record

Array = jax.Array


class StepKind(enum.IntEnum):
    """What the last iteration did (``State.last_step``), for logs and tests."""

    NONE = 0
    SUCCESSFUL = 1  # ρ_k ≥ α: x moved, Δ grew (Step 3)
    TYPE_I = 2  # unsuccessful, τ√n ≤ Δ_{k+1}: keep τ, g and H (Step 4)
    TYPE_II = 3  # unsuccessful, τ√n > Δ_{k+1}: halve τ, new gradient (Step 4)
    SEARCH = 4  # a search step gave sufficient decrease (second paper)
    GRADIENT_FAILED = 5  # a finite-difference value was NaN/inf: halve Δ and τ, retry
    INFEASIBLE_TRIAL = 6  # the projected trial point is not in Ω (projection not converged)
    CENTRAL_DIFFERENCES = 7  # forward differences met the noise floor: central ones now
    NOISE_FLOOR = 8  # central τ at its floor, sought decrease < ε_f and Δ < τ√n: stop
    NOISE_ESTIMATE = 9  # ε_f and L̂ estimated in place of the gradient, due next iteration
    FLOOR_RETRY = 10  # at the noise floor: retried once with Δ restored to 2 τ √n, not a stop


class Iterate(NamedTuple):
    """The iterate x_k ∈ Ω and what was evaluated there."""

    x: Array  # (n,)
    f: Array  # () f(x_k)
    residuals: Array | None  # (m,) F(x_k) in least-squares mode, else None
    small_move: Array  # () bool: the move to x_k met the xtol/ftol test (Options)


class Model(NamedTuple):
    """The quadratic model m_k(d) = g_kᵀd + ½ dᵀH_k d and what its updates need."""

    gradient: Array  # (n,) g_k, the finite-difference gradient of Step 1
    hessian: Array  # (n, n) H_k
    # H_k = Q diag(λ) Qᵀ, kept so that a type I iteration does not decompose H again.
    eigenvalues: Array  # (n,) λ, ascending
    eigenvectors: Array  # (n, n) Q
    jacobian: Array | None  # (m, n) J_k in least-squares mode, else None
    # The last accepted iterate that has a gradient, and that gradient: the pair s, y of
    # the next quasi-Newton update is (x_k − x_prev, g_k − g_prev).
    x_prev: Array  # (n,)
    gradient_prev: Array  # (n,)
    has_prev: Array  # () bool: at least one such pair exists


class Region(NamedTuple):
    """The trust region and the finite-difference step, updated together (Steps 3–4)."""

    radius: Array  # () Δ_k
    fd_step: Array  # () τ_k
    needs_gradient: Array  # () bool: the next iteration starts with Step 1
    # Noise (Options.noise_level; all 0 when there is none or it is not known yet)
    noise: Array  # () ε_f, the noise level used
    fd_floor: Array  # () the least τ the noise allows
    noise_tries: Array  # () int32: noise estimates made
    noise_hint: Array  # () a rough ε_f from evidence of noise, to be estimated (0: none)
    curvature: Array  # () L̂, the measured curvature of f that sets the floor (0: unknown)
    central: Array  # () bool: central differences since forward ones met the noise floor
    # () int32: iterations in a row, central at the floor, seeking < ε_f (None without noise
    # handling, so that the paper's program is unchanged)
    quiet: Array | None
    # (n,) s_j ≥ 1: the central stencil steps τ s_j along e_j, s_j from its own second
    # differences where f is flatter than L̂ (noise.coordinate_scales; None without noise
    # handling)
    fd_scale: Array | None = None
    # (n,) L_j, the curvature along e_j the central stencil measured (0: not yet), and ()
    # int32 how many times the noise floor was retried (None without noise handling)
    axis_curvature: Array | None = None
    floor_retries: Array | None = None


class Counters(NamedTuple):
    """How many iterations of each kind (all int32 scalars)."""

    nit: Array
    n_successful: Array
    n_type_i: Array
    n_type_ii: Array
    n_search: Array  # search steps tried
    n_search_successful: Array  # search steps accepted
    # Gradients in a row with a NaN or inf value (a non-finite storm ends the run early:
    # stopping.MAX_FAILED_GRADIENTS); internal, not in the Result.
    failed_gradients: Array

    @classmethod
    def zeros(cls) -> Counters:
        return cls(*(jnp.zeros((), jnp.int32) for _ in cls._fields))


class State(NamedTuple):
    """State of TRFD-S between iterations (the paper's k-th quantities)."""

    iterate: Iterate
    model: Model
    region: Region
    record: Record  # every evaluation: nfev, best point, history (masked at the source)
    counters: Counters
    last_step: Array  # () int32, a StepKind
    status: Array  # () int32, a Status; RUNNING while the loop goes on


def select(pred: Array, new: State, old: State) -> State:
    """``new`` where ``pred`` else ``old``.

    The record is masked where evaluations are made, so it is always taken from ``new``:
    selecting the (max_evals,) history every iteration would copy it for nothing.
    """
    chex.assert_trees_all_equal_shapes_and_dtypes(new, old)  # at trace time only
    chosen = jax.tree.map(
        lambda a, b: jnp.where(pred, a, b), new._replace(record=None), old._replace(record=None)
    )
    return chosen._replace(record=new.record)
