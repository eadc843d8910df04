"""TRFD-S, Algorithm 1 of the first paper, as pure functions of (problem, state).

* :func:`init` — Step 0: x₀, f(x₀), τ₀, Δ₀, H₀.
* :func:`gradient_step` — Step 1: the finite-difference gradient g_k and the quasi-Newton
  update of H_k.
* :func:`trust_region_step` — Steps 2–4: the subproblem, the trial evaluation, the ratio
  test ρ_k ≥ α and the coupled updates of the radius Δ and the finite-difference step τ.
* :func:`step` — one iteration: Step 1 when the previous iteration asked for a gradient,
  then Steps 2–4.
* :func:`terminate` — whether the loop must stop (the status is already set by ``step``).

Every evaluation is made through a masked batch (see ``evaluation.py``), so that the same
code runs one start, or thousands under ``jax.vmap``, with the same count of evaluations.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

from trfd_jax._src import finite_differences as fd
from trfd_jax._src.constrained_subproblem import solve_constrained_subproblem
from trfd_jax._src.eigh_cache import eigh, masked_eigh
from trfd_jax._src.evaluation import evaluate_batch
from trfd_jax._src.hessian import initial_hessian, update_hessian
from trfd_jax._src.problem import Problem
from trfd_jax._src.search import safeguard
from trfd_jax._src.state import LeastSquaresState, State, StepKind
from trfd_jax._src.status import Status
from trfd_jax._src.trust_region_subproblem import (
    model_value,
    solve_in_eigenbasis,
    solve_truncated_cg,
)

Array = jax.Array

_INT = jnp.int32


# --------------------------------------------------------------------------------------
# Evaluations and their bookkeeping
# --------------------------------------------------------------------------------------


def _evaluate(
    problem: Problem, state: State, points: Array, active: Array, counts_for_best: Array
) -> tuple[Array, Array | None, State]:
    """Evaluate the active rows of ``points`` and record them: nfev, best point, history.

    ``counts_for_best`` marks the points that may become the returned best point (the
    feasible ones).  Non-finite values never become best.  Returns the values, the residual
    vectors (least-squares mode, else None) and the updated state.
    """
    values, residuals = evaluate_batch(
        problem.fun, points, active, problem.args, problem.residual_size
    )
    usable = active & counts_for_best & jnp.isfinite(values)
    candidates = jnp.where(usable, values, jnp.inf)
    i = jnp.argmin(candidates)
    better = candidates[i] < state.best_f
    best_f = jnp.where(better, candidates[i], state.best_f)
    best_x = jnp.where(better, points[i], state.best_x)
    # The history holds the best value after each evaluation, in batch order.
    running_best = jnp.minimum(state.best_f, lax.cummin(candidates))
    position = state.nfev + jnp.cumsum(active, dtype=_INT) - 1
    position = jnp.where(active, position, problem.max_evals)  # inactive: dropped
    history = state.history.at[position].set(running_best, mode="drop")
    nfev = state.nfev + jnp.sum(active, dtype=_INT)
    state = state._replace(nfev=nfev, best_f=best_f, best_x=best_x, history=history)
    return values, residuals, state


def _select(pred: Array, new: State, old: State) -> State:
    """``new`` where ``pred`` else ``old``, field by field.

    The bookkeeping of evaluations (nfev, best point, history) is already masked by
    ``_evaluate``, so it is always taken from ``new``: selecting the (max_evals,) history
    on every iteration would copy it for nothing.
    """
    chosen = jax.tree.map(lambda a, b: jnp.where(pred, a, b), new, old)
    return chosen._replace(nfev=new.nfev, best_f=new.best_f, best_x=new.best_x, history=new.history)


def _fd_points(problem: Problem, x: Array, fd_step: Array) -> tuple[Array, Array]:
    """The points of Step 1 at x and which of them are evaluated (zero steps are not)."""
    constraint = problem.constraint
    if problem.options.fd_scheme == "forward":
        if constraint is None:
            steps = jnp.full_like(x, fd_step)
        else:
            steps = constraint.fd_steps(x, fd_step)
        points, active = fd.forward_points(x, steps)
    else:
        if constraint is None:
            plus = minus = jnp.full_like(x, fd_step)
        else:
            plus, minus = constraint.fd_central_steps(x, fd_step)
        points, active = fd.central_points(x, plus, minus)
    if constraint is not None:
        points = constraint.clip_points(points)  # rounding must not leave the box
    return points, active


def _fd_evals_needed(problem: Problem, state: State) -> Array:
    """How many evaluations the next gradient costs at the current iterate."""
    _, active = _fd_points(problem, state.x, state.fd_step)
    return jnp.sum(active, dtype=_INT)


def _counts_for_best(problem: Problem, points: Array) -> Array:
    """Which points may become the returned best point: those inside Ω.

    Finite-difference points may leave a relaxable Ω; iterates and trial points never do.
    """
    if problem.constraint is None:
        return jnp.ones(points.shape[:1], bool)
    return jax.vmap(problem.constraint.contains)(points)


# --------------------------------------------------------------------------------------
# Step 0
# --------------------------------------------------------------------------------------


def init(problem: Problem, x0: Array) -> State:
    """Step 0 of Algorithm 1: evaluate f(x₀) and set τ₀, Δ₀, Δ_max and H₀.

    ``x0`` must already be a floating array of shape (n,) inside Ω (``minimize`` checks
    and projects it); the dtype of ``x0`` fixes the dtype of the whole state.
    """
    x0 = jnp.asarray(x0)
    n = x0.shape[0]
    dtype = x0.dtype
    params = problem.options.resolved(n, dtype)
    zeros = jnp.zeros(n, dtype)
    zero = jnp.zeros((), _INT)
    hessian = initial_hessian(problem.options.hessian, n, dtype)
    eigenvalues, eigenvectors = eigh(hessian)
    state = State(
        x=x0,
        f=jnp.asarray(jnp.inf, dtype),
        gradient=zeros,
        hessian=hessian,
        hessian_eigenvalues=eigenvalues,
        hessian_eigenvectors=eigenvectors,
        x_prev=x0,
        gradient_prev=zeros,
        has_prev=jnp.asarray(False),
        radius=jnp.asarray(params.radius, dtype),
        fd_step=jnp.asarray(params.fd_step, dtype),
        needs_gradient=jnp.asarray(True),
        nfev=zero,
        nit=zero,
        n_successful=zero,
        n_type_i=zero,
        n_type_ii=zero,
        n_search=zero,
        n_search_successful=zero,
        last_step=jnp.asarray(StepKind.NONE, _INT),
        best_x=x0,
        best_f=jnp.asarray(jnp.inf, dtype),
        history=jnp.full(problem.max_evals, jnp.inf, dtype),
        status=jnp.asarray(Status.RUNNING, _INT),
    )
    x_ok = jnp.all(jnp.isfinite(x0))
    feasible = _counts_for_best(problem, x0[None])[0]
    values, residuals, state = _evaluate(
        problem, state, x0[None], (x_ok & feasible)[None], x_ok[None]
    )
    f0 = values[0]
    status = jnp.where(~x_ok | ~jnp.isfinite(f0), Status.NONFINITE_X0, Status.RUNNING)
    status = jnp.where(x_ok & ~feasible, Status.INFEASIBLE_X0, status)
    state = state._replace(f=f0, status=status.astype(_INT))
    if problem.residual_size is not None:
        jacobian = jnp.zeros((problem.residual_size, n), dtype)
        state = state._replace(lsq=LeastSquaresState(residuals[0], jacobian))
    return _update_status(problem, state)


# --------------------------------------------------------------------------------------
# Step 1
# --------------------------------------------------------------------------------------


def gradient_step(problem: Problem, state: State, active: Array) -> tuple[State, Array]:
    """Step 1: the finite-difference gradient at x_k, then the Hessian update.

    The update uses s = x_k − x_prev and y = g_k − g_prev and runs whenever a new gradient
    was computed after at least one accepted step — again after a type II iteration, with
    the same s and the new, more accurate g_k (spec, "Hessian approximation").

    Args:
        active: whether the gradient is computed at all (else the state is unchanged).

    Returns:
        The new state and whether the gradient is usable (all entries finite).  When it is
        not, τ and Δ are halved and the next iteration computes the gradient again.
    """
    opts = problem.options
    points, needed = _fd_points(problem, state.x, state.fd_step)
    values, residuals, new = _evaluate(
        problem, state, points, active & needed, _counts_for_best(problem, points)
    )
    gradient = fd.forward_gradient if opts.fd_scheme == "forward" else fd.central_gradient
    lsq = state.lsq
    if problem.residual_size is None:
        g = gradient(state.f, values, state.x, points, needed)
        ok = jnp.all(jnp.isfinite(g))
    else:
        # One difference quotient per residual: the columns of J_k, and g_k = 2 J_kᵀ F(x_k).
        jacobian = jax.vmap(
            lambda r, r_x: gradient(r_x, r, state.x, points, needed), in_axes=(1, 0)
        )(residuals, state.lsq.residuals)
        g = 2.0 * jacobian.T @ state.lsq.residuals
        ok = jnp.all(jnp.isfinite(jacobian)) & jnp.all(jnp.isfinite(g))
        lsq = LeastSquaresState(state.lsq.residuals, jacobian)
    if opts.hessian == "gauss_newton":
        hessian = 2.0 * lsq.jacobian.T @ lsq.jacobian
        hessian = jnp.where(ok, hessian, state.hessian)
    else:
        hessian = update_hessian(
            opts.hessian,
            state.hessian,
            state.x - state.x_prev,
            g - state.gradient_prev,
            convex=problem.constraint is not None,
        )
        hessian = jnp.where(state.has_prev & ok, hessian, state.hessian)
    # The decomposition serves the exact solver and ‖H‖₂ of the constrained one.
    needs_eigh = problem.constraint is not None or opts.subproblem == "exact"
    eigenvalues, eigenvectors = masked_eigh(
        active & jnp.any(hessian != state.hessian) & needs_eigh,
        hessian,
        state.hessian_eigenvalues,
        state.hessian_eigenvectors,
    )
    failed = new._replace(
        radius=state.radius * opts.radius_decrease,
        fd_step=state.fd_step * opts.fd_step_decrease,
        last_step=jnp.asarray(StepKind.GRADIENT_FAILED, _INT),
        nit=state.nit + 1,
    )
    good = new._replace(
        gradient=g,
        lsq=lsq,
        hessian=hessian,
        hessian_eigenvalues=eigenvalues,
        hessian_eigenvectors=eigenvectors,
        needs_gradient=jnp.asarray(False),
    )
    new = _select(ok, good, failed)
    return _select(active, new, state), ok | ~active


# --------------------------------------------------------------------------------------
# Steps 2–4
# --------------------------------------------------------------------------------------


def solve_subproblem(problem: Problem, state: State) -> Array:
    """Step 2: a step d with x_k + d ∈ Ω, ‖d‖ ≤ Δ_k and the decrease (6)."""
    if problem.constraint is None and problem.options.subproblem == "truncated_cg":
        n = state.x.shape[0]
        return solve_truncated_cg(
            state.gradient,
            state.hessian,
            state.radius,
            max(problem.options.subproblem_max_iter, 2 * n),
            1e-10,
        )
    if problem.constraint is None:
        return solve_in_eigenbasis(
            state.gradient,
            state.hessian,
            state.hessian_eigenvalues,
            state.hessian_eigenvectors,
            state.radius,
            problem.options.subproblem_max_iter,
        )
    return solve_constrained_subproblem(
        problem.constraint,
        state.x,
        state.gradient,
        state.hessian,
        jnp.max(jnp.abs(state.hessian_eigenvalues)),  # ‖H‖₂
        state.radius,
        problem.options,
    )


def trust_region_step(problem: Problem, state: State, active: Array) -> State:
    """Steps 2–4: trial step, ratio test, and the updates of x, Δ and τ.

    ρ_k = (f(x_k) − f(x_k + d_k)) / (m_k(0) − m_k(d_k)).  If ρ_k ≥ α: accept,
    Δ_{k+1} = min(2Δ_k, Δ_max).  Else Δ_{k+1} = Δ_k / 2 and the iteration is of type I when
    τ_k √n ≤ Δ_{k+1} (keep τ, g, H) and of type II otherwise (τ_{k+1} = τ_k / 2 and a new
    gradient at the same point).  A trial value that is NaN or inf is a failed step.  A
    step without predicted decrease (g = 0, say) is failed without evaluating f.
    """
    opts = problem.options
    n = state.x.shape[0]
    params = opts.resolved(n, state.x.dtype)
    d = solve_subproblem(problem, state)
    trial = state.x + d
    if problem.constraint is not None:
        trial = problem.constraint.project(trial)  # iterates stay in Ω despite rounding
    d = trial - state.x
    predicted = -model_value(state.gradient, state.hessian, d)
    evaluate = active & (predicted > 0)
    values, residuals, new = _evaluate(
        problem, state, trial[None], evaluate[None], jnp.ones(1, bool)
    )
    f_trial = values[0]
    rho = (state.f - f_trial) / jnp.where(predicted > 0, predicted, 1.0)
    success = evaluate & jnp.isfinite(f_trial) & (rho >= opts.eta)

    radius_up = jnp.minimum(state.radius * opts.radius_increase, params.radius_max)
    radius_down = state.radius * opts.radius_decrease
    type_i = ~success & (state.fd_step * math.sqrt(n) <= radius_down)
    type_ii = ~success & ~type_i
    kind = jnp.where(
        success, StepKind.SUCCESSFUL, jnp.where(type_i, StepKind.TYPE_I, StepKind.TYPE_II)
    )
    new = _move(new, state, success, trial, f_trial, residuals)._replace(
        radius=jnp.where(success, radius_up, radius_down),
        fd_step=jnp.where(type_ii, state.fd_step * opts.fd_step_decrease, state.fd_step),
        needs_gradient=success | type_ii,
        nit=state.nit + 1,
        n_successful=state.n_successful + success.astype(_INT),
        n_type_i=state.n_type_i + type_i.astype(_INT),
        n_type_ii=state.n_type_ii + type_ii.astype(_INT),
        last_step=kind.astype(_INT),
    )
    return _select(active, new, state)


def _move(new: State, state: State, accept: Array, x: Array, f: Array, residuals) -> State:
    """Where ``accept``: x_{k+1} = x with value f.

    (x_k, g_k) become the previous iterate and gradient of the next quasi-Newton update
    only when g_k was computed at x_k: after a move without a new gradient (a search step
    before Step 1), the pair stays at the last point that has a gradient, so that s and y
    of the next update belong together.  In least-squares mode F(x_{k+1}) is kept and J
    gets Broyden's secant update J + (F⁺ − F − J s) sᵀ / sᵀs, the best guess of the
    Jacobian at x_{k+1} until Step 1 recomputes it.
    """
    pair = accept & ~state.needs_gradient
    new = new._replace(
        x=jnp.where(accept, x, state.x),
        f=jnp.where(accept, f, state.f),
        x_prev=jnp.where(pair, state.x, state.x_prev),
        gradient_prev=jnp.where(pair, state.gradient, state.gradient_prev),
        has_prev=state.has_prev | pair,
    )
    if residuals is not None:
        residual, jacobian = state.lsq
        s = x - state.x
        ss = s @ s
        broyden = jacobian + jnp.outer(residuals[0] - residual - jacobian @ s, s) / jnp.where(
            ss > 0, ss, 1.0
        )
        ok = accept & (ss > 0) & jnp.all(jnp.isfinite(broyden))
        new = new._replace(
            lsq=LeastSquaresState(
                jnp.where(accept, residuals[0], residual), jnp.where(ok, broyden, jacobian)
            )
        )
    return new


# --------------------------------------------------------------------------------------
# The search step (second paper)
# --------------------------------------------------------------------------------------


def search_step(problem: Problem, state: State, active: Array) -> tuple[State, Array]:
    """Evaluate the search strategy's candidates and accept the best on sufficient decrease.

    Accepted iff f(c) ≤ f(x_k) − ρ(Δ_k) (second paper, Algorithm 2.1); then x moves there,
    Δ grows as after a successful step, and the rigorous step is skipped.  The search is
    only tried when its candidates and the rigorous step's trial point fit in the budget.

    Returns:
        The new state and whether the search succeeded.
    """
    search = problem.search
    opts = problem.options
    q = search.num_candidates
    fits = state.nfev + q + 1 <= problem.max_evals
    active = active & fits
    proposed = search.propose(problem, state)
    points = safeguard(problem, state.x, proposed, state.radius, search.theta)
    valid = jnp.all(jnp.isfinite(points), axis=1)
    values, residuals, new = _evaluate(problem, state, points, active & valid, jnp.ones(q, bool))
    candidates = jnp.where(active & valid & jnp.isfinite(values), values, jnp.inf)
    i = jnp.argmin(candidates)
    success = active & (candidates[i] <= state.f - search.sufficient_decrease(state.radius))
    params = opts.resolved(state.x.shape[0], state.x.dtype)
    radius_up = jnp.minimum(state.radius * opts.radius_increase, params.radius_max)
    best_residuals = None if residuals is None else residuals[i][None]
    new = _move(new, state, success, points[i], candidates[i], best_residuals)._replace(
        radius=jnp.where(success, radius_up, state.radius),
        needs_gradient=success | state.needs_gradient,
        nit=state.nit + success.astype(_INT),
        n_search=state.n_search + active.astype(_INT),
        n_search_successful=state.n_search_successful + success.astype(_INT),
        last_step=jnp.where(success, StepKind.SEARCH, state.last_step).astype(_INT),
    )
    return _select(active, new, state), success


# --------------------------------------------------------------------------------------
# One iteration, and termination
# --------------------------------------------------------------------------------------


def step(problem: Problem, state: State) -> State:
    """One iteration of TRFD-S: Step 1 if a gradient is due, the search step if one is
    configured, then (unless the search succeeded) Steps 2–4.

    A state whose status is no longer RUNNING is returned unchanged, so a loop driven by
    hand (or a finished start inside a ``vmap``-ed batch) does no evaluations.
    """
    running = state.status == Status.RUNNING
    if problem.search is not None and problem.search.before_gradient:
        # At a new iterate, first try the search with what is already known (in least
        # squares: J after Broyden's update); on success the n-point gradient is skipped.
        state, found = search_step(problem, state, running & state.needs_gradient & state.has_prev)
        running = running & ~found
    state, gradient_ok = gradient_step(problem, state, running & state.needs_gradient)
    rigorous = running & gradient_ok
    if problem.search is not None:
        state, found = search_step(problem, state, rigorous)
        rigorous = rigorous & ~found
    state = trust_region_step(problem, state, rigorous)
    return _update_status(problem, state)


def terminate(problem: Problem, state: State) -> Array:
    """Whether the run has stopped (boolean scalar; the reason is ``state.status``)."""
    del problem
    return state.status != Status.RUNNING


def _update_status(problem: Problem, state: State) -> State:
    """Set the status from the stopping tests, in order of precedence.

    The budget test looks ahead: an iteration is only started when all the evaluations it
    may need (the gradient if due, plus the trial point) fit in the budget.
    """
    opts = problem.options
    need = jnp.where(state.needs_gradient, _fd_evals_needed(problem, state), 0) + 1
    status = state.status
    checks = [
        (state.nfev + need > problem.max_evals, Status.MAX_EVALS),
        (state.radius <= opts.radius_tol, Status.RADIUS_TOL),
    ]
    if opts.max_iter is not None:
        checks.append((state.nit >= opts.max_iter, Status.MAX_ITER))
    if opts.f_target is not None:
        checks.append((state.best_f <= opts.f_target, Status.TARGET_REACHED))
    # Later entries take precedence among the tests that fire together.
    new_status = jnp.asarray(Status.RUNNING, _INT)
    for fired, code in checks:
        new_status = jnp.where(fired, jnp.asarray(code, _INT), new_status)
    status = jnp.where(status == Status.RUNNING, new_status, status)
    return state._replace(status=status.astype(_INT))
