# The two commands of the README.  Both create .venv (if missing) and install into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench-multistart bench-morewild clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Install the library with the example extras, then run the quickstart demo.
demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[examples]"
	$(BIN)/python examples/quickstart.py

# Install the library with the test extras, lint, then run the test suite on two worker
# processes (slow tests excluded; run them with `$(BIN)/python -m pytest -m slow`).
test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -m "not slow" -q --durations=20

# Multi-start wall-clock benchmark against a Python loop of nlopt NEWUOA (bench extra).
bench-multistart: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m trfd_jax.benchmarks.multistart

# Data profiles on the Moré–Wild problems against every peer (bench extra; ~20 minutes).
bench-morewild: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m trfd_jax.benchmarks run --set unconstrained --out benchmarks/results/morewild
	$(BIN)/python -m trfd_jax.benchmarks run --set bounded --out benchmarks/results/morewild

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
