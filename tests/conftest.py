"""Test configuration: float64 (the norm for finite differences) and strict promotion.

Strict dtype promotion catches silent float32 → float64 mixing in the solver.
"""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")


import gc  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module: the suite compiles hundreds of
    solvers (a new objective is a new program), and keeping them all grows the process past
    several GB."""
    yield
    jax.clear_caches()
    gc.collect()
