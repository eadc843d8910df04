"""``python -m trfd_jax.benchmarks run|profile``: the Moré–Wild data-profile benchmark.

See :mod:`trfd_jax.benchmarks.runner`.
"""

from trfd_jax.benchmarks.runner import main

if __name__ == "__main__":
    main()
