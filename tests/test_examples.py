"""The quick examples run as scripts (the demo, `examples/quickstart.py`, runs in `make
demo`; the parallel simulator sleeps on purpose and is left to its own command); the two
application examples run in their reduced size (``TRFD_EXAMPLES_QUICK=1``)."""

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


@pytest.mark.parametrize(
    "name, expected",
    [
        # Slow (about a minute on 2 cores): tests/test_calibration.py covers the same
        # calibration in CI; `pytest -m slow` runs the example itself.
        pytest.param(
            "predator_prey_calibration.py", "of 8 starts reached it", marks=pytest.mark.slow
        ),
        ("tune_hyperparameters.py", "validation loss lowered on 4 of 4 seeds"),
    ],
)
def test_application_example_runs_in_its_reduced_size(
    name, expected, capsys, monkeypatch, tmp_path
):
    if name.startswith("predator"):
        pytest.importorskip("diffrax")
    monkeypatch.setenv("TRFD_EXAMPLES_QUICK", "1")
    monkeypatch.chdir(tmp_path)  # the calibration writes its figure to the current folder
    with jax.numpy_dtype_promotion("standard"):  # a user's default (conftest sets strict)
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    assert expected in out
    if name.startswith("predator"):
        # Every start reached the same best fit, which fits the data better than the truth.
        best = float(out.split("best f = ")[1].split(";")[0])
        truth = float(out.split("f at the ground truth = ")[1].split()[0])
        assert best < truth
        assert (tmp_path / "predator_prey_fit.png").exists() or "no figure" in out
