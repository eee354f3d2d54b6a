# Targets are what CI runs; each one installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench checkov package clean fuzz soak

$(STAMP): requirements-dev.txt src/requirements.txt requirements-layer.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

demo: $(STAMP)
	$(BIN)/python -m local.run

lint: $(STAMP)
	$(BIN)/ruff check src tests local
	$(BIN)/ruff format --check src tests local
	PYTHONPATH=src:. $(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# Security scan of template.yaml; every skipped check carries its reason in the template's Metadata.
checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --quiet --compact --skip-download

test: lint typecheck checkov
	$(BIN)/pytest

# Property-based tests with thousands of fresh examples each (FUZZ_EXAMPLES, default 3000; the fleet test takes
# about a second an example); failures are kept in .hypothesis/ to replay.
FUZZ_EXAMPLES ?= 3000
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -m property -q --durations=0

# Each function's code as `sam build` deploys it (python3.13, arm64 wheels), with its sizes; fails over 5 MB.
package: $(STAMP)
	$(BIN)/python -m local.package

# A year in a box (local/soak): the real handler every 15 simulated minutes against the simulator and moto,
# checked against the alert model; prints the invariants (all 0) and the cost table, writes build/soak/year.html.
# SOAK_ARGS="--days 365 --licenses 1" is a year in 12-14 minutes here; 8 licenses need about 35 minutes of CPU and
# the full size, "--days 365 --licenses 50", about 3 hours (docs/performance.md, "A year unattended").
SOAK_ARGS ?=
soak: $(STAMP)
	$(BIN)/python -m local.soak $(SOAK_ARGS)

bench: $(STAMP)
	$(BIN)/python -m local.benchmark

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache
