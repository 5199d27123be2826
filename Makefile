# Every target creates .venv on first use and installs exactly the tested versions from
# requirements.lock (pip, hashes checked), so a fresh clone needs nothing else but Python >= 3.12,
# which scripts/find-python.sh finds (PATH, pyenv's versions, or CIT_BAYES_PYTHON).
PYTHON ?= $(shell scripts/find-python.sh)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The peer programs of benchmarks/bench_peers.py (Bambi + nutpie) in a virtual environment of
# their own, from their own lock: only `make bench` builds it; `make test` and `make run` never.
PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed
PEERS_LOCK := benchmarks/requirements-peers.lock
SEED ?= 20250101

.PHONY: run test lint bench slow lock clean help

help:
	@echo "make run       the whole reanalysis on the bundled data"
	@echo "make test      the fast test suite (what CI runs)"
	@echo "make lint      ruff check and format check"
	@echo "make bench     performance benchmarks (cold and warm)"
	@echo "make slow      slow statistical checks (long MCMC, SBC, the calibration; hours)"
	@echo "make lock      re-resolve requirements.lock from pyproject.toml (newest versions)"

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 (see scripts/find-python.sh)"; exit 1; }
	@test -x $(BIN)/python && $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
		|| { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/python -m pip check
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/cit-bayes run

test: $(STAMP)
	@scripts/ensure-debian-packages.sh "the report's browser test" CIT_BAYES_BROWSER_TEST \
		"command -v chromium" "command -v chromedriver" -- chromium chromium-driver
	@scripts/ensure-debian-packages.sh "the PDF supplement's test" CIT_BAYES_PDF_TEST \
		"command -v pdflatex" "command -v pdftotext" "kpsewhich lmodern.sty | grep -q ." \
		"kpsewhich longtable.sty | grep -q ." "kpsewhich microtype.sty | grep -q ." \
		-- texlive-latex-base texlive-latex-recommended texlive-fonts-recommended lmodern \
		poppler-utils
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# The peers' environment is built first if it can be; when it cannot (no registry reached),
# the benchmarks still run and bench_peers.py says that the Bambi rows are skipped.
bench: $(STAMP)
	-@$(MAKE) --no-print-directory $(PEERS_STAMP) \
		|| echo "note: $(PEERS) could not be built; bench_peers skips the Bambi rows"
	CIT_BAYES_PEERS_TRIED=1 $(BIN)/python benchmarks/run_all.py

$(PEERS_STAMP): $(PEERS_LOCK)
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 (see scripts/find-python.sh)"; exit 1; }
	@test -x $(PEERS)/bin/python && $(PEERS)/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
		|| { rm -rf $(PEERS); $(PYTHON) -m venv $(PEERS); }
	$(PEERS)/bin/python -m pip install --quiet --require-hashes --no-deps -r $(PEERS_LOCK)
	@$(PEERS)/bin/python -m pip check
	@touch $(PEERS_STAMP)

# The slow checks, then the full calibration of the default plan (docs/calibration.md): hours
# on a laptop. (Named `slow`, not `validate`: `cit-bayes validate` checks a cohort file.) CALIBRATE_ARGS adds options, e.g. CALIBRATE_ARGS="--scheduler tcp://host:8786".
slow: $(STAMP)
	$(BIN)/python -m pytest -m slow
	$(BIN)/cit-bayes calibrate --out reports/calibration $(CALIBRATE_ARGS)

# The one command that updates the lock: newest versions allowed by pyproject.toml, every
# platform, with hashes. Run it, then `make test` and `make run`, and commit both files.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.12 \
		--generate-hashes --upgrade --quiet -o requirements.lock

clean:
	rm -rf $(VENV) $(PEERS) reports/latest reports/audit reports/published
