"""Step 2 of TRFD-S: the trust-region subproblem, one dispatch for every caller.

    minimize  m(d) = gᵀd + ½ dᵀHd   subject to  ‖d‖ ≤ Δ,  x + d ∈ Ω

The rigorous step (Step 2 with the model m_k) and every search strategy (the model step
over θΔ_k, the Gauss–Newton step) solve it through :func:`solve`, so they all use the
solver the options name and the cached eigendecomposition where one exists:

* Ω = Rⁿ, ``subproblem="exact"``: the global minimizer (``exact.py``);
* Ω = Rⁿ, ``subproblem="truncated_cg"``: Steihaug–Toint CG (``truncated_cg.py``);
* Ω ≠ Rⁿ: the Generalized Cauchy step improved by projected FISTA (``constrained.py``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from trfd_jax._src import linalg
from trfd_jax._src.subproblem.constrained import solve_constrained_subproblem
from trfd_jax._src.subproblem.eigh_cache import eigh, masked_eigh
from trfd_jax._src.subproblem.exact import solve_in_eigenbasis, solve_trust_region_subproblem
from trfd_jax._src.subproblem.truncated_cg import solve_truncated_cg

Array = jax.Array

__all__ = [
    "diagonal_eigh",
    "eigh",
    "masked_eigh",
    "needs_eigh",
    "refresh_eigh",
    "solve",
    "solve_trust_region_subproblem",
]


def needs_eigh(problem: Any) -> bool:
    """Whether the subproblem uses H's eigendecomposition: the exact solver needs Q and λ,
    the constrained one ‖H‖₂ = max |λ|; truncated CG needs neither (with a constraint, it
    bounds ‖H‖₂ without one: :func:`hessian_norm_bound`)."""
    return problem.parameters.subproblem == "exact"


def diagonal_eigh(problem: Any, hessian: Array) -> tuple[Array, Array]:
    """The decomposition (λ, Q) of a diagonal H (H₀, or H reset): its diagonal and I.
    Without a solver that uses Q, Q is kept as a (0, n) array: at large n an unused
    n × n identity would be the largest array of the state."""
    n = hessian.shape[0]
    rows = n if needs_eigh(problem) else 0
    return jnp.diagonal(hessian), jnp.eye(rows, n, dtype=hessian.dtype)


def hessian_norm_bound(hessian: Array) -> Array:
    """An upper bound of ‖H‖₂ for symmetric H in O(n²): min(‖H‖_F, ‖H‖_∞) (FISTA's step
    needs a Lipschitz constant at least ‖H‖₂; a larger one only shortens its steps)."""
    frobenius = linalg.norm(hessian.reshape(-1))
    return jnp.minimum(frobenius, jnp.max(jnp.sum(jnp.abs(hessian), axis=1)))


def refresh_eigh(problem: Any, active: Array, hessian: Array, model: Any) -> tuple[Array, Array]:
    """The decomposition of the new H_k: recomputed where ``active``, H changed and the
    solver uses it (``masked_eigh``), else the cached one from ``model``."""
    if not needs_eigh(problem):
        return model.eigenvalues, model.eigenvectors
    return masked_eigh(
        active & jnp.any(hessian != model.hessian),
        hessian,
        model.eigenvalues,
        model.eigenvectors,
    )


def solve(
    problem: Any,
    x: Array,
    g: Array,
    hessian: Array,
    radius: Array,
    eig: tuple[Array, Array] | None = None,
) -> Array:
    """A step d with ‖d‖ ≤ ``radius``, x + d ∈ Ω and the decrease (6) of the first paper.

    Args:
        problem: the :class:`Problem` (its constraint and options choose the solver).
        x: the point x ∈ Ω the step starts from.
        g, hessian: the model's gradient and Hessian.
        radius: the region's radius (Δ_k, or θΔ_k for a search).
        eig: H = Q diag(λ) Qᵀ as ``(λ, Q)`` when it is known (the cached decomposition of
            H_k); None computes what the solver needs.
    """
    # The step reaches x + d as it was rounded (never fused into the sum: linalg.py).
    return linalg.as_rounded(_solve(problem, x, g, hessian, radius, eig))


def _solve(problem, x, g, hessian, radius, eig):
    opts = problem.options
    exact = problem.parameters.subproblem == "exact"
    if problem.constraint is None and not exact:
        max_iter = max(opts.subproblem_max_iter, 2 * x.shape[0])
        return solve_truncated_cg(g, hessian, radius, max_iter, opts.cg_tol)
    if problem.constraint is None:
        lam, q = eigh(hessian) if eig is None else eig
        return solve_in_eigenbasis(g, hessian, lam, q, radius, opts.subproblem_max_iter)
    if not exact:
        hessian_norm = hessian_norm_bound(hessian)
    elif eig is None:
        hessian_norm = jnp.max(jnp.abs(jnp.linalg.eigvalsh(hessian)))  # no vectors needed
    else:
        hessian_norm = jnp.max(jnp.abs(eig[0]))
    return solve_constrained_subproblem(
        problem.constraint, x, g, hessian, hessian_norm, radius, opts
    )
