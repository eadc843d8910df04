"""Every Python code block of the README runs as written, each on its own (a user copies
them one at a time), with JAX's default dtype promotion."""

import re
from pathlib import Path

import jax
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_has_code_blocks():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index):
    code = compile(BLOCKS[index], f"README.md block {index + 1}", "exec")
    with jax.numpy_dtype_promotion("standard"):
        exec(code, {"__name__": f"readme_block_{index + 1}"})
