"""Test configuration: float64 (the norm for finite differences) and strict promotion.

Strict dtype promotion catches silent float32 → float64 mixing in the solver.
"""

import os
import tempfile

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

# A persistent compilation cache for the session, shared by the workers: test modules
# compile the same solvers again (each module's programs are dropped below), and the two
# workers compile the same ones.  TRFD_TEST_COMPILATION_CACHE names the folder ("" turns
# the cache off).
_CACHE = os.environ.get(
    "TRFD_TEST_COMPILATION_CACHE", os.path.join(tempfile.gettempdir(), "trfd_jax_test_cache")
)
if _CACHE:
    jax.config.update("jax_compilation_cache_dir", _CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


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
