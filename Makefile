# weblogs: every target sets up what it needs (a virtualenv from the pinned
# requirements) so `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export WEBLOGS_LAKE_ROOT ?= $(CURDIR)/data/lake
export WEBLOGS_DUCKDB_PATH ?= $(CURDIR)/data/weblogs.duckdb

.PHONY: venv demo test pytest lint docs browser bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "weblogs needs Python >= 3.11 (set PYTHON=python3.11)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements-lock.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

## The demo: the whole pipeline on this machine, no AWS account needed.
demo: venv
	$(BIN)/weblogs demo

## The whole test suite, lint included.
test: venv browser lint pytest

pytest: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Headless Chromium for the docs-site test (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the docs-site test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

bench: venv
	$(BIN)/python bench/transform.py

clean:
	rm -rf $(VENV) target logs data .pytest_cache .hypothesis
