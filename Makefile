# One command to run, one to test. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup system-test-deps ingest eval calibrate bench lint clean clean-data

run: setup  ## set up, sync the index with kb/, start the web app (and Telegram when TELEGRAM_BOT_TOKEN is set)
	$(BIN)/tanya serve

# The checks first (seconds); the tuned model is built before pytest (once per machine), outside any test's limit.
test: lint system-test-deps  ## set up, run the checks and every test (unit, end-to-end, browser, answer quality)
	$(BIN)/tanya tune --if-missing --quiet
	$(BIN)/python -m pytest

setup: $(STAMP)

# torch is installed first and pinned: the CPU build lies on these machines, an unpinned torch pulls CUDA.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Browser tests drive Debian's Chromium (never a downloaded browser); the replica tests start Debian's PostgreSQL.
system-test-deps:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && \
		ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver postgresql)

ingest: setup
	$(BIN)/tanya ingest

eval: setup  ## quality report on the demo and held-back sets
	$(BIN)/tanya eval

calibrate: setup  ## re-fit confidence and the answer threshold on the demo set (writes kb/calibration.json)
	$(BIN)/tanya eval --calibrate

bench: setup  ## speed and memory figures
	$(BIN)/python -m evals.benchmark

lint: setup  ## ruff, the formatter, mypy and the import contract (pyproject.toml: which layer may import which)
	$(BIN)/ruff check bot ingest ui evals tests
	$(BIN)/ruff format --check --quiet bot ingest ui evals tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

clean:  ## remove caches; keeps var/ (tickets, analytics, the index, tuned models)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

# var/ is the bot's data: deleting it loses every ticket, conversation and analytics record.
clean-data:  ## delete var/ (asks for CONFIRM=yes)
	@if [ "$(CONFIRM)" != "yes" ]; then \
		echo "This deletes var/: every ticket, conversation, analytics record and draft, the web-state key, the index and the tuned models."; \
		echo "Back it up first, then run: make clean-data CONFIRM=yes"; exit 1; fi
	rm -rf var
