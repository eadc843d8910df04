"""Pytrees at the boundary: x₀ (and bounds) of any structure, one flat vector inside.

The solver works on the flat vector x ∈ Rⁿ.  A user's x₀ may be a pytree of arrays of any
shapes (a dict of parameters, a NamedTuple, an equinox module): :class:`Structure`
describes it — hashable, so that the compiled solver is reused for the same structure —
and maps between the tree and the flat vector.  The objective is wrapped to take the flat
vector (:class:`OnTree`), and ``Result.x`` and ``Result.gradient`` come back in the input's
structure.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Structure:
    """The structure of a pytree of arrays: its treedef and each leaf's shape and dtype."""

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[Any, ...]

    @classmethod
    def of(cls, tree: Any) -> Structure:
        leaves, treedef = jax.tree.flatten(tree)
        if not leaves:
            raise ValueError("x0 is an empty pytree: it must hold at least one array.")
        shapes, dtypes = [], []
        for leaf in leaves:
            if not hasattr(leaf, "shape"):
                leaf = np.asarray(leaf)
            dtype = jnp.dtype(leaf.dtype)
            if not jnp.issubdtype(dtype, jnp.floating):
                dtype = jnp.dtype(jnp.result_type(float))  # integers are promoted
            shapes.append(tuple(int(s) for s in leaf.shape))
            dtypes.append(dtype)
        return cls(treedef, tuple(shapes), tuple(dtypes))

    @property
    def dtype(self) -> Any:
        """The run's dtype: the widest leaf dtype (chosen by width, not by promotion, so a
        float32 and float64 mix works under ``jax_numpy_dtype_promotion='strict'`` too)."""
        return max(self.dtypes, key=lambda d: jnp.finfo(d).bits)

    @property
    def size(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes)

    def ravel(self, tree: Any, dtype: Any) -> Array:
        """The flat vector of ``tree`` (same structure; scalars broadcast to each leaf)."""
        leaves = self.treedef.flatten_up_to(tree)
        parts = [
            jnp.broadcast_to(jnp.asarray(leaf, dtype), shape).reshape(-1)
            for leaf, shape in zip(leaves, self.shapes, strict=True)
        ]
        return jnp.concatenate(parts) if len(parts) > 1 else parts[0]

    def unravel(self, flat: Array) -> Any:
        """The tree of the flat vector, each leaf in its own shape and (floating) dtype."""
        leaves, start = [], 0
        for shape, dtype in zip(self.shapes, self.dtypes, strict=True):
            size = math.prod(shape)
            leaves.append(flat[start : start + size].reshape(shape).astype(dtype))
            start += size
        return jax.tree.unflatten(self.treedef, leaves)


@dataclasses.dataclass(frozen=True)
class OnTree:
    """``fun`` of a pytree, as a function of the flat vector: ``fun(unravel(x), ...)``."""

    fun: Any
    structure: Structure

    def __call__(self, x: Array, *args: Any) -> Array:
        return self.fun(self.structure.unravel(x), *args)


def is_flat(x0: Any) -> bool:
    """Whether x₀ is already what the solver works on: one array (or a list of numbers)."""
    if isinstance(x0, (list, tuple)):
        return all(np.isscalar(v) for v in x0)
    return hasattr(x0, "shape") or np.isscalar(x0) or isinstance(x0, str)
