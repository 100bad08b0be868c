# weblogs: every target sets up what it needs (a virtualenv from the pinned
# requirements) so `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export WEBLOGS_LAKE_ROOT ?= $(CURDIR)/data/lake
export WEBLOGS_DUCKDB_PATH ?= $(CURDIR)/data/weblogs.duckdb

.PHONY: venv demo dashboard dashboard-dev dashboard-install test test-fast pytest lint docs browser bench fuzz clean trino trino-stop lint-python lint-imports lint-sql lint-semantic lint-docker lint-cfn lint-workflows

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "weblogs needs Python >= 3.11 (set PYTHON=python3.11)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements-lock.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

## The demo: the whole pipeline on this machine, no AWS account needed
## (DEMO_ARGS, e.g. --events 1500, are passed to `weblogs demo`).
DEMO_ARGS ?=
demo: venv dashboard-install
	$(BIN)/weblogs demo $(DEMO_ARGS)

## The whole test suite, lint included.
test: venv browser dashboard-install lint pytest

## The pytest suite on PYTEST_WORKERS processes (pytest-xdist; 0 runs it serially in
## this process). tests/python/conftest.py groups the tests: one file per work unit,
## the Trino tests in one unit (one Trino at a time), the slowest units first.
PYTEST_WORKERS ?= 2
pytest: venv
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder

## The inner loop: the `unit` tests only (no dbt, Trino, AWS or slow tool; the kinds are
## marked by tests/python/conftest.py), the same workers and units as `make pytest`.
test-fast: venv
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder -m unit -q

## Every check CI runs on a pull request (docs/contributing.md). A step is skipped
## only while its input does not exist yet; each lint-* target also runs alone.
SQL_DIRS    := $(wildcard models macros tests analyses snapshots)
DOCKERFILES := $(wildcard deploy/[Dd]ockerfile*)
CFN_TEMPLATE := $(wildcard deploy/template.yaml deploy/template.yml)
WORKFLOWS   := $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)

lint: venv lint-python lint-imports lint-sql lint-semantic lint-docker lint-cfn lint-workflows

lint-python:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The layers (pyproject.toml [tool.importlinter]): nothing imports a layer above it.
lint-imports:
	$(BIN)/lint-imports --no-cache

# The dbt templater renders on the local target; an in-memory DuckDB keeps lint
# off data/weblogs.duckdb (no lock, no data needed).
lint-sql:
ifneq ($(wildcard dbt_project.yml),)
	WEBLOGS_DUCKDB_PATH=:memory: $(BIN)/sqlfluff lint $(SQL_DIRS)
else
	@echo "lint-sql: skipped, no dbt_project.yml yet"
endif

# The semantic layer (models/semantic/_semantic.yml): `dbt parse` runs MetricFlow's
# validations and writes target/semantic_manifest.json (what tests/python/dbt/test_dashboard.py
# queries); on an in-memory DuckDB, like lint-sql.
lint-semantic:
ifneq ($(wildcard dbt_project.yml),)
	@mkdir -p target/profiles && cp profiles.yml.example target/profiles/profiles.yml
	WEBLOGS_DUCKDB_PATH=:memory: DBT_PROFILES_DIR=$(CURDIR)/target/profiles $(BIN)/dbt parse --target local --quiet
else
	@echo "lint-semantic: skipped, no dbt_project.yml yet"
endif

lint-docker:
ifneq ($(DOCKERFILES),)
	$(BIN)/hadolint $(DOCKERFILES)
else
	@echo "lint-docker: skipped, no deploy/dockerfile-* yet"
endif

lint-cfn:
ifneq ($(CFN_TEMPLATE),)
	$(BIN)/cfn-lint $(CFN_TEMPLATE)
else
	@echo "lint-cfn: skipped, no deploy/template.yaml yet"
endif

lint-workflows:
ifneq ($(WORKFLOWS),)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(WORKFLOWS)
else
	@echo "lint-workflows: skipped, no .github/workflows/*.yml yet"
endif

## The analysts' docs site (dbt docs, docs/analytics.md): generated from the local
## target, served on http://127.0.0.1:$(DOCS_PORT) until Ctrl-C.
DOCS_PORT ?= 8080
DBT_LOCAL_PROFILES := $(CURDIR)/target/profiles
docs: venv
	@mkdir -p $(DBT_LOCAL_PROFILES) $(dir $(WEBLOGS_DUCKDB_PATH)) && cp profiles.yml.example $(DBT_LOCAL_PROFILES)/profiles.yml
	DBT_PROFILES_DIR=$(DBT_LOCAL_PROFILES) $(BIN)/dbt docs generate --target local
	@echo "docs: http://127.0.0.1:$(DOCS_PORT)"
	DBT_PROFILES_DIR=$(DBT_LOCAL_PROFILES) $(BIN)/dbt docs serve --target local --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

## The dashboards (docs/dashboards.md): a static site built from the demo's warehouse
## with the chart libraries of dashboard/package-lock.json (npm ci, once; offline after).
DASHBOARD_OUT ?= $(CURDIR)/data/dashboard
DASHBOARD_PORT ?= 8081
dashboard-install: dashboard/node_modules/.package-lock.json

dashboard/node_modules/.package-lock.json: dashboard/package.json dashboard/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing Debian's nodejs and npm for the dashboards"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	cd dashboard && npm ci --no-audit --no-fund --ignore-scripts

dashboard: venv dashboard-install
	$(BIN)/weblogs dashboard --out $(DASHBOARD_OUT)

dashboard-dev: venv dashboard-install
	$(BIN)/weblogs dashboard --out $(DASHBOARD_OUT) --serve --port $(DASHBOARD_PORT)

## Headless Chromium for the docs-site test (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the docs-site test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## A local Trino over the lake (the third engine; Athena's SQL, docs/analytics.md):
## fetched from Maven Central on first use into ~/.cache/weblogs/trino, one JVM on
## 127.0.0.1, the lake's tables declared and its partitions registered. It prints
## the exports for `dbt build --target trino`; `make trino-stop` stops it.
export WEBLOGS_TRINO_STATE_DIR ?= $(CURDIR)/data/trino
trino: venv
	$(BIN)/python -m weblogs.trino start

trino-stop: venv
	$(BIN)/python -m weblogs.trino stop

bench: venv
	$(BIN)/python bench/transform.py
	$(BIN)/python bench/consume.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/models.py

## Fuzz the contract, the page splitter and the Kinesis record decoder for
## FUZZ_SECONDS (default one hour): atheris (coverage-guided) when it installs, else
## hypothesis. Findings are saved under fuzz/findings/; each becomes a test.
## First, the long fault-injection suite (tests/python/adapters/test_faults.py): SIGKILL and a
## full disk at every write step, and 40 pairs of concurrent faulty runs per command.
FUZZ_SECONDS ?= 3600
fuzz: venv
	WEBLOGS_FAULTS=long $(BIN)/python -m pytest -n 0 tests/python/adapters/test_faults.py -q -s
	$(BIN)/python -m fuzz.run --seconds $(FUZZ_SECONDS)

clean:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m weblogs.trino stop; fi
	rm -rf $(VENV) target logs data .pytest_cache .hypothesis .import_linter_cache fuzz/corpus
