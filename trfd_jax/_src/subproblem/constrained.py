"""Step 2 when Ω ≠ Rⁿ: the trust-region subproblem over {d : x + d ∈ Ω, ‖d‖ ≤ Δ}.

    minimize  m(d) = gᵀd + ½ dᵀHd   subject to  d ∈ D = (Ω − x) ∩ B(0, Δ)

1. The Generalized Cauchy step (Conn, Gould & Toint, *Trust-Region Methods*, Algorithm
   12.2.2): a step d(t) = P_D(−t g) along the projected-gradient path whose t satisfies the
   sufficient-decrease test m(d) ≤ κ_ubs gᵀd and is not too short (m(d) ≥ κ_lbs gᵀd, or
   ‖d‖ ≥ κ_frd Δ, or the path no longer moves).  This step alone gives the paper's
   decrease condition (6) (its Appendix A).
2. For a box Ω: active-set refinement from that step (Moré & Toraldo 1991, as in TRON):
   the subproblem over the free coordinates solved exactly, the step cut at the first
   bound it meets, a wrongly held bound released at a face's minimizer
   (:func:`box_active_set_step`).
   It usually lands on the minimizer (in 8 bounded runs of the 2-D Rosenbrock function
   all 396 subproblems then needed one FISTA iteration), so FISTA only polishes, with a
   smaller cap: 256 vmapped bounded starts of that problem take 0.075 s instead of 1.27 s
   with FISTA alone (``python -m trfd_jax.benchmarks.bounded_multistart``), and the
   data-profile areas on the bounded Moré–Wild set stay within 0.01 of FISTA alone.
3. Projected FISTA (Beck & Teboulle 2009) on m over D, with step 1/‖H‖₂, started from the
   step so far.
4. The step with the lower model value of all those seen is returned, so (6) is kept.

P_D is exact for boxes (``project_box_ball``, in closed form) and Dykstra's algorithm
otherwise.  Every
loop has a bounded, configurable number of iterations.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from trfd_jax._src import linalg
from trfd_jax._src.model import model_value
from trfd_jax._src.subproblem.exact import solve_trust_region_subproblem

Array = jax.Array

# FISTA's default caps (Options.fista_max_iter=None): after the box refinement, polishing;
# from the Generalized Cauchy step, the whole solve.
FISTA_MAX_ITER_BOX = 50
FISTA_MAX_ITER = 500

# Constants of the Generalized Cauchy step tests (0 < κ_ubs < κ_lbs < 1, 0 < κ_frd < 1).
KAPPA_UBS = 0.1
KAPPA_LBS = 0.9
KAPPA_FRD = 0.9


def generalized_cauchy_step(
    g: Array,
    hessian: Array,
    radius: Array,
    project: Callable[[Array], Array],
    max_iter: int,
) -> Array:
    """The Generalized Cauchy step d(t) = P_D(−t g) by bracketing and bisection on t.

    Starts at t = Δ/‖g‖ (the unconstrained path meets the sphere), doubles t while the step
    is acceptable but short, and bisects once a t fails the decrease test.  Returns the
    last step that passed the decrease test (d = 0 if none did, which only happens when g
    is zero or not finite).
    """
    dtype = g.dtype
    eps = jnp.finfo(dtype).eps
    g_norm = linalg.norm(g)
    t0 = radius / jnp.where(g_norm > 0, g_norm, 1.0)
    zero = jnp.zeros_like(g)

    def body(carry):
        k, t, t_lo, t_hi, best, done = carry
        d = project(-t * g)
        m = model_value(g, hessian, d)
        slope = linalg.dot(g, d)
        decrease = (m <= KAPPA_UBS * slope) & jnp.isfinite(m)
        moved = linalg.norm(d - best) > 10 * eps * (radius + 1.0)
        long_enough = (
            (m >= KAPPA_LBS * slope)
            | (linalg.norm(d) >= KAPPA_FRD * radius)
            | (~moved & jnp.isinf(t_hi))
        )
        best = jnp.where(decrease, d, best)
        done = decrease & long_enough
        t_hi = jnp.where(decrease, t_hi, t)
        t_lo = jnp.where(decrease, t, t_lo)
        t_next = jnp.where(jnp.isinf(t_hi), 2 * t, 0.5 * (t_lo + t_hi))
        return k + 1, t_next, t_lo, t_hi, best, done

    def cond(carry):
        k, *_, done = carry
        return (k < max_iter) & ~done

    init = (0, t0, jnp.zeros((), dtype), jnp.asarray(jnp.inf, dtype), zero, g_norm == 0)
    *_, best, _ = lax.while_loop(cond, body, init)
    return best


def projected_fista(
    g: Array,
    hessian: Array,
    lipschitz: Array,
    project: Callable[[Array], Array],
    d0: Array,
    max_iter: int,
    tol: Array,
) -> Array:
    """FISTA on m over D from d0; returns the iterate with the lowest model value.

    Step 1/L with L = ‖H‖₂ (1 when H = 0); stops when successive iterates move ≤ ``tol``.
    """
    step = 1.0 / jnp.where(lipschitz > 0, lipschitz, 1.0)
    m0 = model_value(g, hessian, d0)

    def body(carry):
        k, y, d_prev, t, best, best_m, _ = carry
        d = project(y - linalg.as_rounded(step * (g + linalg.matvec(hessian, y))))
        t_next = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        y = d + linalg.as_rounded(((t - 1.0) / t_next) * (d - d_prev))
        m = model_value(g, hessian, d)
        better = jnp.isfinite(m) & (m < best_m)
        moved = linalg.norm(d - d_prev)
        return (
            k + 1,
            y,
            d,
            t_next,
            jnp.where(better, d, best),
            jnp.where(better, m, best_m),
            moved,
        )

    def cond(carry):
        k, *_, moved = carry
        return (k < max_iter) & (moved > tol)

    init = (0, d0, d0, jnp.ones((), g.dtype), d0, m0, jnp.asarray(jnp.inf, g.dtype))
    _, _, _, _, best, _, _ = lax.while_loop(cond, body, init)
    return best


def box_active_set_step(
    g: Array,
    hessian: Array,
    hessian_norm: Array,
    radius: Array,
    lower: Array,
    upper: Array,
    d0: Array,
    max_iter: int,
    subproblem_max_iter: int,
) -> Array:
    """Active-set refinement over D = {lower ≤ d ≤ upper} ∩ {‖d‖ ≤ Δ} (lower ≤ 0 ≤ upper)
    from a feasible d0, for a convex model (H ⪰ 0, as BFGS keeps it with constraints).

    Moré & Toraldo's scheme, as in TRON (Lin & Moré 1999), with releases: with the held
    coordinates at their bounds, the trust-region subproblem in the free coordinates is
    solved exactly (the eigendecomposition-based solver over the remaining radius); the
    step moves towards that minimizer up to the first bound it meets, which is then held.
    Once the minimizer of a face is reached, the held coordinate whose KKT multiplier has
    the wrong sign by the most (the model decreases into the box there) is released.  m
    never increases; at most ``max_iter`` steps.  Returns the last point (m(d) ≤ m(d0)).
    """
    # The held coordinates get a curvature no eigenvalue of H reaches, so that the reduced
    # problem never moves them (not even in its hard case).
    held_curvature = 2.0 * hessian_norm + 1.0
    eps = jnp.finfo(g.dtype).eps
    tiny = jnp.finfo(g.dtype).tiny
    # A coordinate within rounding of a bound is put on it.  Each side's tolerance scales
    # with that side's own (finite) distance: a far or infinite bound on one side must not
    # make every coordinate count as held at the other (x ≥ 0 with no upper bound did).
    snap_lower = 4 * eps * (radius + jnp.where(jnp.isfinite(lower), jnp.abs(lower), 0.0))
    snap_upper = 4 * eps * (radius + jnp.where(jnp.isfinite(upper), jnp.abs(upper), 0.0))

    def at_bounds(d):
        at_lower, at_upper = d <= lower + snap_lower, d >= upper - snap_upper
        return at_lower, at_upper, jnp.where(at_lower, lower, jnp.where(at_upper, upper, d))

    def body(carry):
        k, d, held, _ = carry
        d_held = jnp.where(held, d, 0.0)
        free = ~held
        both = free[:, None] & free[None, :]
        reduced_h = jnp.where(both, hessian, 0.0) + jnp.diag(jnp.where(held, held_curvature, 0.0))
        reduced_g = jnp.where(free, g + linalg.matvec(hessian, d_held), 0.0)
        room = jnp.sqrt(jnp.maximum(radius**2 - linalg.dot(d_held, d_held), 0.0))
        q = solve_trust_region_subproblem(
            reduced_g, reduced_h, jnp.maximum(room, tiny), subproblem_max_iter
        )
        q = jnp.where(free, q, 0.0)
        target = d_held + q
        step = target - d
        # The largest t ≤ 1 with d + t·step in the box (the ball holds: d and target are in it).
        to_upper = jnp.where(step > 0, (upper - d) / jnp.where(step > 0, step, 1.0), jnp.inf)
        to_lower = jnp.where(step < 0, (lower - d) / jnp.where(step < 0, step, 1.0), jnp.inf)
        t = jnp.clip(jnp.min(jnp.minimum(to_upper, to_lower)), 0.0, 1.0)
        reached = t >= 1.0
        at_lower, at_upper, candidate = at_bounds(
            jnp.clip(d + linalg.as_rounded(t * step), lower, upper)
        )
        m_d, m_c = model_value(g, hessian, d), model_value(g, hessian, candidate)
        better = jnp.isfinite(m_c) & (m_c <= m_d)
        d_next = jnp.where(better, candidate, d)
        # At the minimizer of the face: KKT multipliers of the held bounds, with the ball's
        # multiplier μ from the free coordinates (∇m_F + μ d_F = 0).
        grad = g + linalg.matvec(hessian, d_next)
        qq = linalg.dot(q, q)
        mu = jnp.maximum(
            0.0, -linalg.dot(jnp.where(free, grad, 0.0), q) / jnp.where(qq > 0, qq, 1.0)
        )
        r = grad + mu * d_next
        scale = linalg.norm(g) + hessian_norm * radius + tiny
        wrong = (
            held
            & (lower < upper)
            & ((at_upper & (r > 1e-8 * scale)) | (at_lower & (r < -1e-8 * scale)))
        )
        release = jnp.arange(g.shape[0]) == jnp.argmax(jnp.where(wrong, jnp.abs(r), -1.0))
        release = release & jnp.any(wrong) & reached & better
        held_next = jnp.where(reached, held & ~release, held | at_lower | at_upper)
        held_next = jnp.where(better, held_next, held)
        done = ~better | (room <= 0) | (reached & ~jnp.any(wrong))
        return k + 1, d_next, held_next, done

    def cond(carry):
        k, *_, done = carry
        return (k < max_iter) & ~done

    at_lower, at_upper, d0 = at_bounds(d0)
    _, d, _, _ = lax.while_loop(cond, body, (0, d0, at_lower | at_upper, jnp.asarray(False)))
    return d


def solve_constrained_subproblem(
    constraint,
    x: Array,
    g: Array,
    hessian: Array,
    hessian_norm: Array,
    radius: Array,
    options,
) -> Array:
    """Step 2 over Ω ∩ B(x, Δ): the better of the Generalized Cauchy step and FISTA.

    Args:
        constraint: the feasible set (a ``ConvexSet``).
        x: the iterate x_k ∈ Ω.
        g, hessian: the model's gradient and Hessian.
        hessian_norm: ‖H‖₂ (FISTA's Lipschitz constant).
        radius: Δ_k.
        options: ``Options`` (iteration caps and tolerances).
    """
    project = constraint.step_projection(x, radius, options.dykstra_max_iter, options.dykstra_tol)
    d_cauchy = generalized_cauchy_step(g, hessian, radius, project, options.cauchy_max_iter)
    box = constraint.step_box(x) if hasattr(constraint, "step_box") else None
    if box is not None:
        lower, upper = box
        d_cauchy = box_active_set_step(
            g,
            hessian,
            hessian_norm,
            radius,
            lower,
            upper,
            d_cauchy,
            2 * x.shape[0] + 2,
            options.subproblem_max_iter,
        )
    fista_max_iter = options.fista_max_iter
    if fista_max_iter is None:
        fista_max_iter = FISTA_MAX_ITER_BOX if box is not None else FISTA_MAX_ITER
    if fista_max_iter == 0:
        return d_cauchy
    d = projected_fista(
        g,
        hessian,
        hessian_norm,
        project,
        d_cauchy,
        fista_max_iter,
        options.fista_tol * radius,
    )
    return jnp.where(model_value(g, hessian, d) <= model_value(g, hessian, d_cauchy), d, d_cauchy)
