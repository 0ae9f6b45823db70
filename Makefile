# Every target sets up its own virtual environment from nothing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: all test lint demo bench soak clean

all: test

$(BIN)/symsync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/symsync

lint: $(BIN)/symsync
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# The fault, kill and fuzz suites with many seeds; prints their counts at the end.
SOAK_SEEDS ?= 50
soak: $(BIN)/symsync
	SOAK_SEEDS=$(SOAK_SEEDS) $(BIN)/pytest -m soak -q -p no:cacheprovider

demo: $(BIN)/symsync
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

bench: $(BIN)/symsync
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
