"""Closed convex feasible sets Ω, known by their Euclidean projection (first paper, §3).

Every set is a pytree: its arrays (bounds, centres, radii) are leaves, so they may differ
between the starts of a ``jax.vmap``-ed solve; its configuration is static metadata.  A set
tells the solver five things:

* ``project(x)`` — P_Ω(x), used for x₀ and to keep every iterate in Ω;
* ``contains(x)`` — membership up to a tolerance (which evaluations may become the best
  point: with a relaxable Ω finite-difference points may leave it);
* ``step_projection(x, radius)`` — P_D for D = {d : x + d ∈ Ω, ‖d‖ ≤ Δ}, the feasible set
  of the trust-region subproblem (Dykstra between Ω and the ball unless a set knows better);
* ``fd_steps`` / ``fd_central_steps`` — the finite-difference steps (§3.4 for unrelaxable
  boxes: one-sided steps that never leave the box);
* ``clip_points`` — pull rounded points back into an unrelaxable box.

Projections onto the ℓ2 and ℓ1 balls, the simplex, the orthant and the half-space are
optax's (``optax.projections``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax.projections as optax_proj

from trfd_jax._src import linalg
from trfd_jax._src.projections import (
    dykstra,
    project_ball,
    project_box_ball,
    project_l1_ball,
    project_simplex,
)

Array = jax.Array


class ConvexSet:
    """Base class of the feasible sets; subclasses define :meth:`project`."""

    #: Whether f may be evaluated outside Ω (only iterates must be feasible).
    relaxable: bool = True

    def project(self, x: Array) -> Array:
        raise NotImplementedError

    def feasibility_tolerance(self, x: Array) -> Array:
        """How far from Ω a point may be and still count as inside (rounding)."""
        return 16 * jnp.finfo(x.dtype).eps * (1.0 + linalg.norm(x))

    def contains(self, x: Array) -> Array:
        """Whether x ∈ Ω, up to :meth:`feasibility_tolerance`."""
        r = self.project(x) - x
        return linalg.norm(r) <= self.feasibility_tolerance(x)

    def step_projection(
        self, x: Array, radius: Array, max_iter: int, tol: float
    ) -> Callable[[Array], Array]:
        """P_D, D = {d : x + d ∈ Ω, ‖d‖ ≤ Δ}, by Dykstra between Ω − x and the ball."""
        sets = [lambda d: self.project(x + d) - x, lambda d: project_ball(d, radius)]
        return lambda z: dykstra(z, sets, max_iter, tol)

    def fd_steps(self, x: Array, fd_step: Array) -> Array:
        """Signed forward-difference steps h (Step 1): h_j = τ for a relaxable Ω."""
        return jnp.full_like(x, fd_step)

    def fd_central_steps(self, x: Array, fd_step: Array) -> tuple[Array, Array]:
        """Steps (h⁺, h⁻) ≥ 0 of central differences at x + h⁺e_j and x − h⁻e_j."""
        full = jnp.full_like(x, fd_step)
        return full, full

    def clip_points(self, points: Array) -> Array:
        """Points that rounding may have pushed out of an unrelaxable set, pulled back."""
        return points

    def validate(self, n: int, dtype: Any) -> ConvexSet:
        """This set with its arrays cast to ``dtype``; a ValueError if it does not fit Rⁿ."""
        return jax.tree.map(lambda a: jnp.asarray(a, dtype), self)


def _standard_promotion(fn: Callable[..., Array]) -> Callable[..., Array]:
    """Run an optax projection under standard dtype promotion (it mixes in integer
    arrays, which a caller's strict promotion setting would reject), in the widest float
    enabled: with x64 on, optax's projections mix float64 constants into a float32 point
    (their ``cond`` branches then disagree on dtypes).  The result has x's dtype."""

    def wrapped(x: Any, *args: Any) -> Array:
        dtype = jnp.asarray(x).dtype
        wide = jnp.dtype(jnp.float64) if jax.config.jax_enable_x64 else dtype
        with jax.numpy_dtype_promotion("standard"):
            out = fn(jnp.asarray(x, wide), *(jnp.asarray(a, wide) for a in args))
        return out.astype(dtype)

    return wrapped


_box = _standard_promotion(optax_proj.projection_box)
# The ℓ1 ball and the simplex: prefix sums that round alike under vmap (projections.py).
_l1_ball = _standard_promotion(project_l1_ball)
_simplex = _standard_promotion(project_simplex)
_non_negative = _standard_promotion(optax_proj.projection_non_negative)


# The ℓ2 ball (the trust region's own projection) and optax's half-space formula, with the
# dot products of ``linalg.py``: optax's are XLA reductions, which a vmapped program may sum
# in another order.
_l2_ball = project_ball


def _halfspace(x: Array, a: Array, b: Array) -> Array:
    scalar = jnp.minimum((b - linalg.dot(x, a)) / linalg.dot(a, a), 0.0)
    return x + linalg.as_rounded(scalar * a)


def _concrete(*arrays: Any) -> bool:
    return not any(isinstance(a, jax.core.Tracer) for a in arrays)


def _register(cls, data: Sequence[str], meta: Sequence[str] = ()):
    return jax.tree_util.register_dataclass(cls, data_fields=list(data), meta_fields=list(meta))


def _check_vector(name: str, value: Any, n: int, dtype: Any, *, allow_inf: bool) -> Array:
    arr = jnp.asarray(value, dtype)
    if arr.ndim == 0:
        arr = jnp.broadcast_to(arr, (n,))
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {arr.shape}.")
    if _concrete(arr):
        a = np.asarray(arr)
        if np.isnan(a).any():
            raise ValueError(f"{name} contains NaN.")
        if not allow_inf and not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite.")
    return arr


def none_as_unbounded(bound: Any, fill: float) -> Any:
    """scipy's convention: ``None`` (a whole side, an entry of a sequence, or a leaf of a
    pytree bound) means no bound there, ``fill`` = ±inf."""
    if bound is None:
        return fill
    if isinstance(bound, (jax.Array, np.ndarray, np.generic, int, float)):
        return bound
    if type(bound) in (list, tuple) and all(b is None or np.isscalar(b) for b in bound):
        return type(bound)(fill if b is None else b for b in bound)
    return jax.tree.map(lambda b: fill if b is None else b, bound, is_leaf=lambda b: b is None)


def _round_inward(value: Any, arr: Array, toward: float) -> Array:
    """``arr`` (``value`` cast to the working dtype) moved one ulp toward ``toward`` where
    the cast rounded it outward: a float64 bound 0.3 becomes the float32 number just above
    0.3 for a lower bound, so an unrelaxable bound is never crossed by rounding."""
    if _concrete(arr) and not isinstance(value, jax.core.Tracer):
        value = np.broadcast_to(np.asarray(value), arr.shape)
        wide = value.astype(np.result_type(value.dtype, arr.dtype))
        a = np.asarray(arr)
        outward = (a.astype(wide.dtype) < wide) if toward > 0 else (a.astype(wide.dtype) > wide)
        if not outward.any():
            return arr
        return jnp.asarray(np.where(outward, np.nextafter(a, np.asarray(toward, a.dtype)), a))
    wide_dtype = jnp.result_type(jnp.asarray(value).dtype, arr.dtype)
    wide = jnp.broadcast_to(jnp.asarray(value, wide_dtype), arr.shape)
    cast = arr.astype(wide_dtype)
    outward = (cast < wide) if toward > 0 else (cast > wide)
    return jnp.where(outward, jnp.nextafter(arr, jnp.asarray(toward, arr.dtype)), arr)


def _check_positive(name: str, value: Any, dtype: Any) -> Array:
    arr = jnp.asarray(value, dtype)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}.")
    if _concrete(arr) and not (np.isfinite(float(arr)) and float(arr) > 0):
        raise ValueError(f"{name} must be finite and positive, got {float(arr)}.")
    return arr


# ------------------------------------------------------------------------------------ box


@dataclasses.dataclass(frozen=True)
class Box(ConvexSet):
    """Ω = {lower ≤ x ≤ upper}; infinite entries allowed, lower_j = upper_j fixes x_j.

    Args:
        lower, upper: bounds, scalars or shape (n,) (array data: may be batched).
        relaxable: ``False`` (default) makes the bounds unrelaxable: f is never evaluated
            outside the box — finite differences use the one-sided steps of §3.4 and fixed
            variables are not differenced (their gradient entry is 0).
    """

    lower: Any
    upper: Any
    relaxable: bool = False

    def project(self, x: Array) -> Array:
        return _box(x, self.lower, self.upper)

    def contains(self, x: Array) -> Array:
        tol = self.feasibility_tolerance(x)
        return jnp.all((x >= self.lower - tol) & (x <= self.upper + tol))

    def step_projection(self, x, radius, max_iter, tol):
        lower, upper = self.step_box(x)
        return lambda z: project_box_ball(z, lower, upper, radius)

    def step_box(self, x: Array) -> tuple[Array, Array]:
        """The steps d with x + d in the box: [lower − x, upper − x] (holding 0)."""
        return jnp.minimum(self.lower - x, 0), jnp.maximum(self.upper - x, 0)

    def fd_steps(self, x, fd_step):
        if self.relaxable:
            return super().fd_steps(x, fd_step)
        # §3.4: τF = min(u − x, τ), τB = min(x − l, τ); forward if τF ≥ τB, else backward.
        forward = jnp.minimum(self.upper - x, fd_step)
        backward = jnp.minimum(x - self.lower, fd_step)
        return jnp.where(forward >= backward, forward, -backward)

    def fd_central_steps(self, x, fd_step):
        if self.relaxable:
            return super().fd_central_steps(x, fd_step)
        return jnp.minimum(self.upper - x, fd_step), jnp.minimum(x - self.lower, fd_step)

    def clip_points(self, points):
        return points if self.relaxable else jnp.clip(points, self.lower, self.upper)

    def validate(self, n, dtype):
        given_lower = none_as_unbounded(self.lower, -np.inf)
        given_upper = none_as_unbounded(self.upper, np.inf)
        lower = _check_vector("Box lower", given_lower, n, dtype, allow_inf=True)
        upper = _check_vector("Box upper", given_upper, n, dtype, allow_inf=True)
        if not self.relaxable:
            exact_lower, exact_upper = lower, upper
            lower = _round_inward(given_lower, lower, np.inf)
            upper = _round_inward(given_upper, upper, -np.inf)
            if _concrete(lower, upper, exact_lower, exact_upper):
                empty = (np.asarray(lower) > np.asarray(upper)) & (
                    np.asarray(exact_lower) <= np.asarray(exact_upper)
                )
                if empty.any():
                    j = int(np.flatnonzero(empty)[0])
                    lo, up = (
                        float(np.broadcast_to(np.asarray(b), (n,))[j])
                        for b in (self.lower, self.upper)
                    )
                    raise ValueError(
                        f"No {np.dtype(dtype).name} number lies in the unrelaxable bounds at "
                        f"index {j} ([{lo!r}, {up!r}]): give bounds representable in that "
                        "dtype, or work in float64."
                    )
        if _concrete(lower, upper):
            bad = np.flatnonzero(np.asarray(lower) > np.asarray(upper))
            if bad.size:
                j = int(bad[0])
                raise ValueError(
                    f"Box lower > upper at index {j} ({float(lower[j])} > {float(upper[j])})."
                )
            if (np.asarray(lower) == np.inf).any():
                raise ValueError("Box lower must not be +inf.")
            if (np.asarray(upper) == -np.inf).any():
                raise ValueError("Box upper must not be -inf.")
            tiny = np.finfo(np.dtype(dtype)).tiny
            for name, b in (("lower", np.asarray(lower)), ("upper", np.asarray(upper))):
                if np.any((b != 0) & (np.abs(b) < tiny)):
                    # XLA flushes subnormal numbers to zero, which would move the bound.
                    raise ValueError(
                        f"Box {name} has a subnormal entry (0 < |b| < {tiny:.3g}); XLA "
                        "flushes those to zero. Use 0 or a normal number."
                    )
        return Box(lower, upper, self.relaxable)


_register(Box, ["lower", "upper"], ["relaxable"])


# ---------------------------------------------------------------------- sets by projection


@dataclasses.dataclass(frozen=True)
class _NormBall(ConvexSet):
    """Ω = {‖x − center‖ ≤ radius} for the norm of ``_project_centered`` (relaxable)."""

    radius: Any = 1.0
    center: Any = None

    _project_centered: ClassVar[Callable[..., Array]]

    _norm: ClassVar[Callable[[Array], Array]]

    def project(self, x):
        c = 0.0 if self.center is None else self.center
        # A point of the ball is its own projection, exactly: the scaling by r/‖x − c‖
        # (1 for such a point) is compiled with an approximate reciprocal square root.
        inside = self._norm(x - c) <= self.radius
        return jnp.where(inside, x, c + self._project_centered(x - c, self.radius))

    def validate(self, n, dtype):
        name = type(self).__name__
        center = None
        if self.center is not None:
            center = _check_vector(f"{name} center", self.center, n, dtype, allow_inf=False)
        return type(self)(_check_positive(f"{name} radius", self.radius, dtype), center)


@dataclasses.dataclass(frozen=True)
class L2Ball(_NormBall):
    """Ω = {‖x − center‖₂ ≤ radius} (relaxable). ``center=None``: the origin."""

    _project_centered = staticmethod(_l2_ball)
    _norm = staticmethod(lambda d: linalg.norm(d))


@dataclasses.dataclass(frozen=True)
class L1Ball(_NormBall):
    """Ω = {‖x − center‖₁ ≤ radius} (relaxable). ``center=None``: the origin."""

    _project_centered = staticmethod(_l1_ball)
    _norm = staticmethod(lambda d: linalg.tree_sum(jnp.abs(d)))  # alike under vmap


_register(L2Ball, ["radius", "center"])
_register(L1Ball, ["radius", "center"])


@dataclasses.dataclass(frozen=True)
class Simplex(ConvexSet):
    """Ω = {x ≥ 0, Σ x = scale} (relaxable)."""

    scale: Any = 1.0

    def project(self, x):
        return _simplex(x, self.scale)

    def validate(self, n, dtype):
        return Simplex(_check_positive("Simplex scale", self.scale, dtype))


_register(Simplex, ["scale"])


@dataclasses.dataclass(frozen=True)
class NonNegative(ConvexSet):
    """Ω = {x ≥ 0} (relaxable; use ``Box(0, inf)`` for unrelaxable non-negativity)."""

    def project(self, x):
        return _non_negative(x)


_register(NonNegative, [])


@dataclasses.dataclass(frozen=True)
class HalfSpace(ConvexSet):
    """Ω = {aᵀx ≤ b} (relaxable)."""

    a: Any
    b: Any

    def project(self, x):
        return _halfspace(x, self.a, self.b)

    def validate(self, n, dtype):
        a = _check_vector("HalfSpace a", self.a, n, dtype, allow_inf=False)
        b = jnp.asarray(self.b, dtype)
        if b.ndim != 0:
            raise ValueError(f"HalfSpace b must be a scalar, got shape {b.shape}.")
        if _concrete(a, b):
            if not np.isfinite(float(b)):
                raise ValueError("HalfSpace b must be finite.")
            if not np.any(np.asarray(a) != 0):
                raise ValueError("HalfSpace a must not be zero.")
        return HalfSpace(a, b)


_register(HalfSpace, ["a", "b"])


@dataclasses.dataclass(frozen=True)
class Projection(ConvexSet):
    """Ω given by a user-supplied Euclidean projection ``fn: (n,) -> (n,)`` (relaxable).

    ``fn`` must be written in JAX and be the exact projection onto a nonempty closed convex
    set; it is static (hashed by identity).  ``data`` is passed as ``fn(x, data)`` when it
    is not None (array data: may be batched).
    """

    fn: Callable[..., Array]
    data: Any = None

    def project(self, x):
        return self.fn(x) if self.data is None else self.fn(x, self.data)

    def validate(self, n, dtype):
        if not callable(self.fn):
            raise TypeError(f"Projection fn must be callable, got {type(self.fn).__name__}.")
        spec = jax.ShapeDtypeStruct((n,), dtype)
        out = jax.eval_shape(lambda x: self.project(x), spec)
        if getattr(out, "shape", None) != (n,):
            raise ValueError(
                f"Projection fn must map shape ({n},) to ({n},), got {getattr(out, 'shape', out)}."
            )
        return self


_register(Projection, ["data"], ["fn"])


# ---------------------------------------------------------------------------- intersection


@dataclasses.dataclass(frozen=True)
class Intersection(ConvexSet):
    """Ω = ∩ᵢ Ωᵢ, projected by Dykstra's alternating projections.

    Boxes among the sets are merged into one box; if it is unrelaxable, finite differences
    stay inside it (§3.4) and the subproblem uses the exact box ∩ ball projection as one of
    the sets.  ``max_iter`` and ``tol`` bound Dykstra's sweeps; an empty intersection shows
    as a projection that stays far from one of the sets (see :meth:`distance`).
    """

    sets: tuple
    max_iter: int = 200
    tol: float = 1e-12

    def members(self) -> list[ConvexSet]:
        """The sets of this intersection, nested intersections flattened: a box is seen
        (and stays unrelaxable) however deep the composition puts it."""
        flat: list[ConvexSet] = []
        for s in self.sets:
            flat.extend(s.members() if isinstance(s, Intersection) else [s])
        return flat

    def _split(self) -> tuple[Box | None, list[ConvexSet]]:
        members = self.members()
        boxes = [s for s in members if isinstance(s, Box)]
        others = [s for s in members if not isinstance(s, Box)]
        if not boxes:
            return None, others
        lower = boxes[0].lower
        upper = boxes[0].upper
        for b in boxes[1:]:
            lower, upper = jnp.maximum(lower, b.lower), jnp.minimum(upper, b.upper)
        return Box(lower, upper, all(b.relaxable for b in boxes)), others

    @property
    def relaxable(self) -> bool:  # type: ignore[override]
        box, _ = self._split()
        return box is None or box.relaxable

    def project(self, x):
        box, others = self._split()
        sets = [s.project for s in others] + ([box.project] if box is not None else [])
        if len(sets) == 1:
            return sets[0](x)
        # A point every set leaves in place is returned as it is: Dykstra's sweeps would
        # move it by rounding.
        inside = jnp.all(jnp.stack([jnp.all(p(x) == x) for p in sets]))
        return jnp.where(inside, x, dykstra(x, sets, self.max_iter, self.tol))

    def feasibility_tolerance(self, x):
        return jnp.maximum(super().feasibility_tolerance(x), 100 * self.tol * (1 + linalg.norm(x)))

    def distance(self, x: Array) -> Array:
        """max over the sets of the distance from x to that set."""
        return jnp.max(jnp.stack([linalg.norm(s.project(x) - x) for s in self.members()]))

    def contains(self, x):
        return jnp.all(jnp.stack([s.contains(x) for s in self.members()])) | (
            self.distance(x) <= self.feasibility_tolerance(x)
        )

    def step_projection(self, x, radius, max_iter, tol):
        box, others = self._split()
        sets = [(lambda d, s=s: s.project(x + d) - x) for s in others]
        if box is not None:
            sets.append(box.step_projection(x, radius, max_iter, tol))
        else:
            sets.append(lambda d: project_ball(d, radius))
        return lambda z: dykstra(z, sets, max_iter, tol)

    def fd_steps(self, x, fd_step):
        box, _ = self._split()
        return super().fd_steps(x, fd_step) if box is None else box.fd_steps(x, fd_step)

    def fd_central_steps(self, x, fd_step):
        box, _ = self._split()
        if box is None:
            return super().fd_central_steps(x, fd_step)
        return box.fd_central_steps(x, fd_step)

    def clip_points(self, points):
        box, _ = self._split()
        return points if box is None else box.clip_points(points)

    def validate(self, n, dtype):
        if not self.sets:
            raise ValueError("Intersection needs at least one set.")
        for s in self.sets:
            if not isinstance(s, ConvexSet):
                raise TypeError(f"Intersection takes trfd_jax sets, got {type(s).__name__}.")
        if self.max_iter < 1 or not (self.tol > 0 and math.isfinite(self.tol)):
            raise ValueError("Intersection needs max_iter ≥ 1 and a finite tol > 0.")
        return Intersection(tuple(s.validate(n, dtype) for s in self.sets), self.max_iter, self.tol)


_register(Intersection, ["sets"], ["max_iter", "tol"])
