# Every target sets up its own virtual environment from nothing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: all venv test unit lint docs demo bench soak clean requirements

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
	@# The workflows (and, through them, action.yml's inputs), shell steps via shellcheck.
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/actionlint -no-color
	@# Security audit of the workflows and action.yml, without the network.
	$(BIN)/zizmor --offline --no-progress --config .github/zizmor.yml .github/workflows action.yml

# The action's install step takes only pinned, hashed packages (`pip install --require-hashes`):
# requirements/action.txt, made here from pyproject.toml by pip-tools (dev extras), then stamped
# with a digest of pyproject.toml's dependencies, which `make test` checks offline
# (tests/test_action_requirements.py).
requirements: $(BIN)/symsync
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --build-deps-for wheel \
		--strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements/action.txt pyproject.toml
	$(BIN)/python scripts/action_requirements.py --stamp

# Everything a change must pass: lint and types, the docs site, then every test (the 15
# slowest listed at the end).
test: lint docs
	$(BIN)/pytest -n auto --dist worksteal --durations=15

# The unit tests alone (tests/unit, one folder per package): the quick loop while editing.
unit: $(BIN)/symsync
	$(BIN)/pytest -n auto --dist worksteal tests/unit

# The documentation site (mkdocs.yml, docs/), built offline into site/ (ignored by git). Strict:
# a broken link, a page missing from the nav or an unknown anchor fails the build, and so
# `make test`, which builds it before the tests. Not --quiet: in MkDocs 1.6 it hides warnings
# from the strict count, and the build would pass with a broken link.
docs: $(BIN)/symsync
	$(BIN)/mkdocs build --strict --site-dir site

# Long many-seed suites (every test marked `soak`); seed counts come from SYMSYNC_SOAK_*
# variables: SYMSYNC_SOAK_SEEDS for the fault, kill and fuzz suites (50 here). Prints counts.
SYMSYNC_SOAK_SEEDS ?= 50
soak: $(BIN)/symsync
	SYMSYNC_SOAK_SEEDS=$(SYMSYNC_SOAK_SEEDS) $(BIN)/pytest -m soak -q

demo: $(BIN)/symsync
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

bench: $(BIN)/symsync
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
