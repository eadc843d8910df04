"""Test configuration: float64 (the norm for finite differences) and strict promotion.

Strict dtype promotion catches silent float32 → float64 mixing in the solver.
"""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
