"""The quadratic model m_k(d) = g_kᵀd + ½ dᵀH_k d and its Hessian H_k: quasi-Newton updates
and, in least squares, Gauss–Newton."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trfd_jax._src import linalg
from trfd_jax._src.model import gauss_newton, quasi_newton
from trfd_jax._src.model.quasi_newton import initial_hessian
from trfd_jax._src.options import Options
from trfd_jax._src.state import Model

Array = jax.Array

__all__ = ["gauss_newton", "initial_hessian", "model_value", "new_hessian", "quasi_newton"]


def model_value(g: Array, hessian: Array, d: Array) -> Array:
    """m(d) − m(0) = gᵀd + ½ dᵀHd, the decrease the model predicts is −m(d) + m(0)."""
    return linalg.dot(g, d) + 0.5 * linalg.quadratic(hessian, d)


def new_hessian(
    options: Options,
    model: Model,
    x: Array,
    gradient: Array,
    jacobian: Array | None,
    ok: Array,
    *,
    convex: bool,
    reliable: Array | None = None,
) -> Array:
    """H_k after Step 1 computed ``gradient`` (and ``jacobian``) at x_k.

    Gauss–Newton: 2 JᵀJ from the new Jacobian.  Otherwise the quasi-Newton update with
    s = x_k − x_prev and y = g_k − g_prev, whenever a pair exists — again after a type II
    iteration, with the same s and the new, more accurate g_k (spec, "Hessian
    approximation").  H is kept when the new gradient is not usable (``ok`` false), or
    when ``reliable`` (given with noise handling) says the pair (s, y) is mostly noise.
    """
    if options.hessian == "gauss_newton":
        return jnp.where(ok, gauss_newton.hessian(jacobian), model.hessian)
    hessian = quasi_newton.update_hessian(
        options.hessian,
        model.hessian,
        x - model.x_prev,
        gradient - model.gradient_prev,
        convex=convex,
    )
    use = model.has_prev & ok
    if reliable is not None:
        use = use & reliable
    return jnp.where(use, hessian, model.hessian)
