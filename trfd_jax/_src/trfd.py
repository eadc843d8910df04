"""TRFD-S, Algorithm 1 of the first paper, as pure functions of (problem, state).

* :func:`init` — Step 0: x₀, f(x₀), τ₀, Δ₀, H₀.
* :func:`gradient_step` — Step 1: the finite-difference gradient g_k (and, in least
  squares, the Jacobian J_k), then the update of H_k.
* :func:`trust_region_step` — Steps 2–4: the subproblem, the trial evaluation, the ratio
  test ρ_k ≥ α and the coupled updates of the radius Δ and the finite-difference step τ.
* :func:`step` — one iteration: the search step before the gradient (if configured),
  Step 1 when due, the search step after it (if configured), then Steps 2–4.
* :func:`terminate` — whether the loop must stop (``stopping.py`` sets the status).

Every evaluation is a masked batch recorded by ``record.evaluate``, so that the same code
runs one start, or thousands under ``jax.vmap``, with the same count of evaluations.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp

from trfd_jax._src import acceptance, linalg, noise, search, stopping, subproblem
from trfd_jax._src import finite_differences as fd
from trfd_jax._src import record as record_lib
from trfd_jax._src.model import gauss_newton, initial_hessian, model_value, new_hessian
from trfd_jax._src.problem import Problem
from trfd_jax._src.solution import Status
from trfd_jax._src.state import Counters, Iterate, Model, Region, State, StepKind, select

Array = jax.Array

_INT = jnp.int32


def memo_size(problem: Problem) -> int:
    """How many trial and search points the record remembers: a chain of type I trials
    may end on a point a search proposed several iterations before, so 16 (or four
    iterations' worth of search candidates, if more); comparing is O(16 n) per point."""
    candidates = 0 if problem.search is None else problem.search.num_candidates
    return max(16, 4 * (candidates + 1))


def init(problem: Problem, x0: Array) -> State:
    """Step 0 of Algorithm 1: evaluate f(x₀) and set τ₀, Δ₀ and H₀.

    ``x0`` must already be a floating array of shape (n,) inside Ω (``make_problem``
    checks and projects it); its dtype fixes the dtype of the whole state.
    """
    x0 = jnp.asarray(x0)
    chex.assert_rank(x0, 1)
    chex.assert_type(x0, float)
    n = x0.shape[0]
    dtype = x0.dtype
    zeros = jnp.zeros(n, dtype)
    hessian = initial_hessian(problem.options.hessian, n, dtype)
    # H₀ is diagonal (I or 0): its decomposition is known, no eigh to compile or run.
    eigenvalues, eigenvectors = subproblem.diagonal_eigh(problem, hessian)
    x_ok = jnp.all(jnp.isfinite(x0))
    feasible = record_lib.inside(problem.constraint, x0[None])[0]
    points, active, counts = x0[None], (x_ok & feasible)[None], x_ok[None]
    level = problem.options.noise_level
    known_noise = level not in (None, "auto")
    if level is not None:
        # Known ε_f: the curvature of f, which sets τ₀ with it; "auto": the evidence of
        # noise (noise.py).  Measured with f(x₀), where the first iteration still fits.
        if known_noise:
            level_x0 = jnp.asarray(level, dtype)
            # f(x₀) is not known yet: the probe's step takes |f| = 1 (the ¼ power of it).
            probe, lengths = noise.curvature_points(
                problem.constraint, x0, jnp.ones((), dtype), level_x0
            )
        else:
            fd_step = jnp.asarray(problem.parameters.fd_step, dtype)
            probe = noise.probe_points(problem.constraint, x0, fd_step)
        k = probe.shape[0]
        first_iteration = problem.options.evals_per_gradient_factor * n + 1
        fits = problem.max_evals >= 1 + k + first_iteration
        points = jnp.concatenate([points, probe])
        active = jnp.concatenate([active, jnp.broadcast_to(x_ok & feasible & fits, (k,))])
        counts = jnp.concatenate([counts, record_lib.inside(problem.constraint, probe) & x_ok])
    evaluation, record = record_lib.evaluate(
        problem,
        record_lib.empty(
            x0,
            problem.history_size,
            memo_size(problem),
            problem.objective.residual_size,
            problem.objective.aux_zeros(),
        ),
        points,
        active,
        counts,
        head=1,  # the probe's rows are not computed when they do not fit the budget
        once=True,  # under vmap: one compiled copy of f for Step 0, not three
    )
    f0 = evaluation.values[0]
    curvature, hint = None, jnp.zeros((), dtype)
    if known_noise:
        values = jnp.where(active[1:], evaluation.values[1:], jnp.nan)
        curvature = noise.curvature_scale(f0, values, lengths, jnp.asarray(level, dtype))
    elif level == "auto":
        hint = noise.probe_evidence(f0, evaluation.values[1:], active[1]).astype(dtype)
    m = problem.objective.residual_size
    status = jnp.where(~x_ok | ~jnp.isfinite(f0), Status.NONFINITE_X0, Status.RUNNING)
    status = jnp.where(x_ok & ~feasible, Status.INFEASIBLE_X0, status)
    state = State(
        iterate=Iterate(
            x=x0,
            f=f0,
            residuals=None if m is None else evaluation.residuals[0],
            small_move=jnp.asarray(False),
        ),
        model=Model(
            gradient=zeros,
            hessian=hessian,
            eigenvalues=eigenvalues,
            eigenvectors=eigenvectors,
            jacobian=None if m is None else jnp.zeros((m, n), dtype),
            x_prev=x0,
            gradient_prev=zeros,
            has_prev=jnp.asarray(False),
        ),
        region=_initial_region(problem, curvature, n, dtype)._replace(noise_hint=hint),
        record=record,
        counters=Counters.zeros(),
        last_step=jnp.asarray(StepKind.NONE, _INT),
        status=status.astype(_INT),
    )
    return stopping.update_status(problem, state)


def _initial_region(problem: Problem, curvature: Array | None, n: int, dtype: jnp.dtype) -> Region:
    """Δ₀ and τ₀; with a known noise level ε_f (``Options.noise_level``), τ₀ is raised to
    the noise floor 2 √(ε_f / L̂) (L̂ = ``curvature``, measured at x₀) and Δ₀ to at least
    2 τ₀ √n (Algorithm 1 needs τ₀ √n ≤ Δ₀)."""
    params = problem.parameters
    level = problem.options.noise_level
    radius, fd_step = jnp.asarray(params.radius, dtype), jnp.asarray(params.fd_step, dtype)
    zero, false = jnp.zeros((), dtype), jnp.asarray(False)
    # Per-axis steps, measured axis curvatures and floor retries (noise handling only).
    axes = None if level is None else (jnp.ones(n, dtype), jnp.zeros(n, dtype), jnp.zeros((), _INT))
    if level is None or level == "auto":
        tries = jnp.zeros((), _INT)
        quiet = None if level is None else jnp.zeros((), _INT)
        return Region(
            radius, fd_step, jnp.asarray(True), zero, zero, tries, false, zero, false, quiet,
            **_axes_fields(axes),
        )  # fmt: skip
    level = jnp.asarray(level, dtype)
    floor = noise.fd_floor(problem.options.fd_scheme, level, curvature).astype(dtype)
    fd_step = jnp.maximum(fd_step, floor)
    radius = jnp.maximum(radius, 2.0 * fd_step * math.sqrt(n))
    tries = jnp.asarray(noise.MAX_TRIES, _INT)  # known: nothing to estimate
    curvature = curvature.astype(dtype)
    quiet = jnp.zeros((), _INT)
    return Region(
        radius, fd_step, jnp.asarray(True), level, floor, tries, false, curvature, false, quiet,
        **_axes_fields(axes),
    )  # fmt: skip


def _axes_fields(axes: tuple[Array, Array, Array] | None) -> dict:
    names = ("fd_scale", "axis_curvature", "floor_retries")
    return dict(zip(names, (None,) * 3 if axes is None else axes, strict=True))


def gradient_step(
    problem: Problem, state: State, active: Array, estimate: Array | None = None
) -> tuple[State, Array]:
    """Step 1: the finite-difference gradient at x_k, then the Hessian update.

    In least squares the same points give J_k, one quotient per residual, and
    g_k = 2 J_kᵀF(x_k).

    Args:
        active: whether the gradient is computed at all (else the state is unchanged).
        estimate: with ``Options.noise_level="auto"``, whether this iteration estimates
            the noise instead (noise.py): its points share the gradient's batch of
            evaluations, so the objective is compiled once for both.

    Returns:
        The new state and whether the gradient is usable (all entries finite).  When it is
        not, τ and Δ are halved and the next iteration computes the gradient again.
    """
    opts = problem.options
    scheme = opts.fd_scheme
    x, region, model = state.iterate.x, state.region, state.model
    switchable = fd.switchable(opts)
    steps = fd.steps(region)
    if switchable:
        points, needed = fd.switched_stencil(problem.constraint, x, steps, region.central)
    else:
        points, needed = fd.stencil(problem.constraint, scheme, x, steps)
    k = points.shape[0]
    evaluated, rows = points, active & needed
    if estimate is not None:
        extra, lengths = noise.estimation_points(problem, state)
        evaluated = jnp.concatenate([points, extra])
        rows = jnp.concatenate([rows, jnp.broadcast_to(estimate, extra.shape[:1])])
    # The forward points are the usual rows: the others are evaluated only when used.
    head = x.shape[0] if evaluated.shape[0] > x.shape[0] else None
    evaluation, record = record_lib.evaluate(
        problem,
        state.record,
        evaluated,
        rows,
        record_lib.inside(problem.constraint, evaluated),
        head=head,
    )
    estimated = None
    if estimate is not None:
        estimated = noise.apply_estimate(
            problem, state._replace(record=record), evaluation.values[k:], lengths
        )
        evaluation = evaluation._replace(
            values=evaluation.values[:k],
            residuals=None if evaluation.residuals is None else evaluation.residuals[:k],
            aux=jax.tree.map(lambda a: a[:k], evaluation.aux),
        )
    jacobian = model.jacobian
    if problem.objective.least_squares:
        jacobian = fd.jacobian(
            scheme,
            state.iterate.residuals,
            evaluation.residuals,
            x,
            points,
            needed,
            region.central if switchable else None,
        )
        g = gauss_newton.gradient(jacobian, state.iterate.residuals)
        ok = jnp.all(jnp.isfinite(jacobian)) & jnp.all(jnp.isfinite(g))
    else:
        if switchable:
            g = fd.switched_gradient(
                region.central, state.iterate.f, evaluation.values, x, points, needed
            )
        else:
            g = fd.gradient(scheme, state.iterate.f, evaluation.values, x, points, needed)
        ok = jnp.all(jnp.isfinite(g))
    reliable = None
    if opts.noise_level is not None:  # a pair of noisy gradients may be noise (noise.py)
        reliable = noise.reliable_pair(region, x - model.x_prev, g - model.gradient_prev)
    hessian = new_hessian(
        opts, model, x, g, jacobian, ok, convex=problem.constraint is not None, reliable=reliable
    )
    scale = curvature = None
    if region.fd_scale is not None:  # the central stencil's steps follow f's curvature
        central = region.central if switchable else jnp.asarray(scheme == "central")
        scale, curvature = noise.coordinate_scales(
            region, state.iterate.f, evaluation.values, x, points
        )
        scale = jnp.where(central, scale, region.fd_scale).astype(region.fd_scale.dtype)
        curvature = jnp.where(central, curvature, region.axis_curvature)
        curvature = curvature.astype(region.axis_curvature.dtype)
        if opts.hessian in ("bfgs", "sr1"):  # a learned H, not one the options fix
            hessian = noise.rescaled_hessian(hessian, curvature)
    eigenvalues, eigenvectors = subproblem.refresh_eigh(problem, active, hessian, model)
    new = state._replace(record=record)
    failed = new._replace(
        region=region._replace(
            radius=region.radius * opts.radius_decrease,
            fd_step=jnp.maximum(region.fd_step * opts.fd_step_decrease, region.fd_floor),
        ),
        counters=state.counters._replace(
            nit=state.counters.nit + 1, failed_gradients=state.counters.failed_gradients + 1
        ),
        last_step=jnp.asarray(StepKind.GRADIENT_FAILED, _INT),
    )
    good_region = region._replace(needs_gradient=jnp.asarray(False))
    if scale is not None:
        good_region = good_region._replace(fd_scale=scale, axis_curvature=curvature)
    if reliable is not None:
        learned = model.has_prev & ok & reliable
        good_region = noise.learned_floor(scheme, good_region, hessian, learned)
    good = new._replace(
        model=model._replace(
            gradient=g,
            hessian=hessian,
            eigenvalues=eigenvalues,
            eigenvectors=eigenvectors,
            jacobian=jacobian,
        ),
        region=good_region,
        counters=state.counters._replace(failed_gradients=jnp.zeros((), _INT)),
    )
    new = select(active, select(ok, good, failed), state)
    if estimated is not None:
        new = select(estimate, estimated, new)
    return new, ok | ~active


def trust_region_step(problem: Problem, state: State, active: Array) -> State:
    """Steps 2–4: trial step, ratio test, and the updates of x, Δ and τ.

    ρ_k = (f(x_k) − f(x_k + d_k)) / (m_k(0) − m_k(d_k)).  If ρ_k ≥ α: accept,
    Δ_{k+1} = min(2Δ_k, Δ_max).  Else Δ_{k+1} = Δ_k / 2 and the iteration is of type I when
    τ_k √n ≤ Δ_{k+1} (keep τ, g, H) and of type II otherwise (τ_{k+1} = τ_k / 2 and a new
    gradient at the same point).  A trial value that is NaN or inf is a failed step.  A
    step without predicted decrease (g = 0, say) is failed without evaluating f.

    With a noise level ε_f (noise.py) τ stops at its floor: a failure there is of type I;
    forward differences turn central when the decrease sought falls below ε_f or the
    failure would have been of type II, and central ones stop the run (``NOISE_FLOOR``)
    when both hold.
    """
    opts = problem.options
    x, model, region, counters = state.iterate.x, state.model, state.region, state.counters
    n = x.shape[0]
    d = subproblem.solve(
        problem,
        x,
        model.gradient,
        model.hessian,
        region.radius,
        (model.eigenvalues, model.eigenvectors),
    )
    trial = x + d
    feasible = jnp.asarray(True)
    if problem.constraint is not None:
        trial = problem.constraint.project(trial)  # iterates stay in Ω despite rounding
        # An iterative projection (Dykstra) may stop outside Ω: such a point is no trial.
        feasible = problem.constraint.contains(trial)
    d = trial - x
    predicted = -model_value(model.gradient, model.hessian, d)
    evaluate = active & (predicted > 0) & feasible
    evaluation, record = record_lib.evaluate(
        problem, state.record, trial[None], evaluate[None], jnp.ones(1, bool), state.iterate
    )
    f_trial = evaluation.values[0]
    # With noise of level ε_f the test is noise-tolerant (2 ε_f on both sides; noise.py).
    slack = 2.0 * region.noise
    rho = (state.iterate.f - f_trial + slack) / jnp.where(predicted > 0, predicted + slack, 1.0)
    success = evaluate & jnp.isfinite(f_trial) & (rho >= opts.eta)

    radius_down = region.radius * opts.radius_decrease
    halved = region.fd_step * opts.fd_step_decrease
    # τ at the noise floor cannot shrink: a failure keeps τ and g and only shrinks Δ (type
    # I).  Two signs that the stencil has reached what the noise lets it resolve: the
    # decrease the model seeks is below the noise level (a step then proves nothing: the
    # noise-tolerant test accepts or rejects it by chance), or the failure would have been
    # of type II (Δ_{k+1} < τ √n: the step is shorter than the stencil that made g).
    floored = halved < region.fd_floor
    type_i = ~success & ((region.fd_step * math.sqrt(n) <= radius_down) | floored)
    type_ii = ~success & ~type_i
    below_noise = floored & (predicted < region.noise)
    stalled = floored & ~success & (region.fd_step * math.sqrt(n) > radius_down)
    # The run stops when both hold with the last stencil; Δ alone is not driven further
    # below τ √n than the decrease the noise allows.  It also stops after QUIET_STEPS
    # iterations in a row that sought less than ε_f with the last stencil: the
    # noise-tolerant test accepts such steps when f rises by less than 2 ε_f, so x would
    # wander at the floor, every step a success, until the budget is spent.
    at_floor = below_noise & stalled
    quiet = region.quiet
    if quiet is not None:
        last_stencil = region.central if fd.switchable(opts) else jnp.asarray(True)
        # A successful step on the region's boundary is no sign: the model seeks little
        # because Δ is small (Δ doubles next), not because f is flat at the noise.
        growing = success & (linalg.norm(d) >= 0.5 * region.radius)
        quiet = jnp.where(
            below_noise & last_stencil, jnp.where(growing, quiet, quiet + 1), 0
        ).astype(quiet.dtype)
        at_floor = at_floor | (quiet >= noise.QUIET_STEPS)
    # Forward differences turn into central ones (error O(ε_f/τ + τ²) in place of
    # O(ε_f/τ + τ)), with a new gradient, at the first sign; central ones stop at both.
    switch = jnp.asarray(False)
    fd_step, fd_floor = region.fd_step, region.fd_floor
    if fd.switchable(opts):
        switch = (below_noise | stalled) & ~region.central
        central_floor = noise.fd_floor("central", region.noise, region.curvature)
        central_floor = jnp.maximum(central_floor, region.fd_floor).astype(fd_step.dtype)
        fd_step = jnp.where(switch, jnp.maximum(fd_step, central_floor), fd_step)
        fd_floor = jnp.where(switch, central_floor, fd_floor)
        at_floor = at_floor & region.central
    # Before the floor ends the run, it is retried once with Δ back to 2 τ √n: forward
    # differences can have driven Δ far below the central stencil, which then shows the
    # floor's signs at once (weights 1 to 1e6: stopped at f = 0.3 instead of 1e-6).
    retry = jnp.asarray(False)
    if region.floor_retries is not None:
        retry = at_floor & (region.floor_retries < noise.FLOOR_RETRIES)
        at_floor = at_floor & ~retry
    kind = jnp.where(
        success, StepKind.SUCCESSFUL, jnp.where(type_i, StepKind.TYPE_I, StepKind.TYPE_II)
    )
    kind = jnp.where(at_floor, StepKind.NOISE_FLOOR, kind)
    kind = jnp.where(retry, StepKind.FLOOR_RETRY, kind)
    kind = jnp.where(switch, StepKind.CENTRAL_DIFFERENCES, kind)
    kind = jnp.where(feasible, kind, StepKind.INFEASIBLE_TRIAL)
    residuals = None if evaluation.residuals is None else evaluation.residuals[0]
    new = acceptance.move(
        problem, state._replace(record=record), state, success, trial, f_trial, residuals
    )
    new = new._replace(
        region=region._replace(
            radius=jnp.where(
                success, acceptance.enlarged_radius(problem, region.radius), radius_down
            ),
            fd_step=jnp.where(type_ii, jnp.maximum(halved, region.fd_floor), fd_step),
            fd_floor=fd_floor,
            needs_gradient=success | type_ii | switch,
            central=region.central | switch,
            quiet=quiet if quiet is None else jnp.where(retry, 0, quiet).astype(quiet.dtype),
            floor_retries=(
                None if region.floor_retries is None else region.floor_retries + retry.astype(_INT)
            ),
        ),
        counters=counters._replace(
            nit=counters.nit + 1,
            n_successful=counters.n_successful + success.astype(_INT),
            n_type_i=counters.n_type_i + type_i.astype(_INT),
            n_type_ii=counters.n_type_ii + type_ii.astype(_INT),
        ),
        last_step=kind.astype(_INT),
    )
    if region.floor_retries is not None:
        new = _retry_floor(new, retry)
    return select(active, new, state)


def _retry_floor(state: State, retry: Array) -> State:
    """Where ``retry`` (at the noise floor): Δ ≥ 2 τ √n, as at Step 0, so that the model
    gets steps it can be judged by."""
    region = state.region
    n = state.iterate.x.shape[0]
    radius = jnp.maximum(region.radius, 2.0 * region.fd_step * math.sqrt(n))
    radius = jnp.where(retry, radius, region.radius).astype(region.radius.dtype)
    return state._replace(region=region._replace(radius=radius))


def step(problem: Problem, state: State) -> State:
    """One iteration of TRFD-S.

    The search step before the gradient (at a new iterate, with the model at hand; a
    success skips the gradient), Step 1 if a gradient is due, the search step after it,
    and Steps 2–4 unless a search succeeded.  A state whose status is no longer RUNNING is
    returned unchanged, so a loop driven by hand (or a finished start inside a
    ``vmap``-ed batch) does no evaluations.
    """
    running = state.status == Status.RUNNING
    state, found = search.before_gradient(problem, state, running)
    running = running & ~found
    auto = problem.options.noise_level == "auto"
    # Evidence of noise: this iteration estimates ε_f, and the next one's gradient uses it.
    estimate = noise.estimate_due(problem, state, running) if auto else None
    gradient_due = running & state.region.needs_gradient
    if auto:
        gradient_due = gradient_due & ~estimate
        running = running & ~estimate
    # A gradient recomputed at the same x with half the step (after a type II iteration).
    same_point = state.region.needs_gradient & (state.last_step == StepKind.TYPE_II)
    g_before = state.model.gradient
    state, gradient_ok = gradient_step(problem, state, gradient_due, estimate)
    rigorous = running & gradient_ok
    if auto:  # an erratic recomputed gradient is evidence for the next gradient's estimate
        region = state.region
        hint = noise.erratic(g_before, state.model.gradient, region.fd_step)
        hint = jnp.where(rigorous & same_point, hint, 0.0).astype(region.noise_hint.dtype)
        state = state._replace(
            region=region._replace(noise_hint=jnp.maximum(region.noise_hint, hint))
        )
    state, found = search.after_gradient(problem, state, rigorous)
    state = trust_region_step(problem, state, rigorous & ~found)
    return stopping.update_status(problem, state)


def terminate(problem: Problem, state: State) -> Array:
    """Whether the run has stopped (boolean scalar; the reason is ``state.status``)."""
    del problem
    return state.status != Status.RUNNING
