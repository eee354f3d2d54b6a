# Targets are what CI runs; each one installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): requirements-dev.txt src/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

demo: $(STAMP)
	$(BIN)/python -m local.run

lint: $(STAMP)
	$(BIN)/ruff check src tests local
	$(BIN)/ruff format --check src tests local

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

test: lint typecheck
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m local.benchmark

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
