"""Behaviour pinned to the bit: Moré–Wild histories against ``tests/data`` (see golden.py).

The CI subset covers every stored configuration (unconstrained and bounded; plain TRFD-S,
the Gauss–Newton search on the residuals, ``ModelSearch``) on the five problems with n = 2; the
whole set (318 runs, about 4 minutes on 2 cores) runs under ``-m slow`` or as
``python -m tests.golden``.
"""

import pytest

from . import golden

# Every Moré–Wild problem with n = 2.  A subset must hold whole groups of equal n: the
# runner solves each group in one vmapped call, and a batch of another size may round
# differently in the last bit.
SUBSET = (7, 8, 13, 14, 26)


def _check(problems):
    new = golden.compute(problems)
    old = golden.stored()
    assert len(new) == 4 * len(golden.SETS) * len(golden.VARIANTS) * (
        len(problems) if problems else 53
    )
    assert golden.differences(new, old) == []


def test_histories_identical_to_the_stored_ones_on_a_subset():
    _check(SUBSET)


@pytest.mark.slow
def test_histories_identical_to_the_stored_ones_on_all_53():
    _check(None)
