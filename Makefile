# Every target creates .venv (pip, no system changes) on first use, so a fresh clone needs nothing else.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEED ?= 20250101

.PHONY: run test lint bench validate clean help

help:
	@echo "make run       the whole reanalysis on the bundled data"
	@echo "make test      the fast test suite (what CI runs)"
	@echo "make lint      ruff check and format check"
	@echo "make bench     performance benchmarks (cold and warm)"
	@echo "make validate  slow statistical validation (long MCMC, SBC, simulations)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/cit-bayes run

test: $(STAMP)
	@scripts/ensure-chromium.sh
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

validate: $(STAMP)
	$(BIN)/python -m pytest -m slow

clean:
	rm -rf $(VENV) reports/latest reports/audit reports/published
