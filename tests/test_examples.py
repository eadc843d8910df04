"""The quick examples run as scripts (the demo, `examples/quickstart.py`, runs in `make
demo`; the parallel simulator sleeps on purpose and is left to its own command)."""

import runpy
from pathlib import Path

import jax
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["black_box_numpy.py", "custom_search.py"])
def test_example_runs(name, capsys):
    pytest.importorskip("scipy")
    with jax.numpy_dtype_promotion("standard"):
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    assert capsys.readouterr().out.strip()
