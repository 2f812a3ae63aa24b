# Titanic Ops: `make run` sets everything up and runs the platform; `make test` passes the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# all: every test; fast: without Spark, browser and multi-process tests (CI's SQLite pass).
TEST_SUITE ?= all
PYTEST_ARGS ?=

# Tests and commands run with DEBUG off, so they need a key; never use this one in production.
export DJANGO_SECRET_KEY ?= titanic-ops-local-test-key-not-for-production

.PHONY: help install java-check migrate data repro run manage test lint format bench clean

help:
	@echo "make run    set up everything (venv, data, database, first champion), run web, worker, MLflow UI"
	@echo "make test   set up and run lint, migration check and the test suite"
	@echo "make bench  run the benchmarks in bench/ (prints tables, writes bench/results/)"
	@echo "make manage ARGS='drift_check --json'  any manage.py command on make run's settings"
	@echo "make repro  the DVC pipeline (dvc.yaml): preprocess to Parquet, then train from it"
	@echo "make clean  remove generated state (var/, .venv/ stays unless you remove it)"

java-check:
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	  echo "Java 17+ is required for Spark (found: $${v:-none})."; \
	  echo "Install it, e.g. on Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless"; \
	  exit 1; fi

install: java-check $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput -v0

# The data set, then the DVC pipeline's typed Parquet (`dvc repro preprocess`: nothing to do when
# it is up to date; training reads it).
data: migrate
	$(PY) manage.py ingest_data
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/dvc repro --quiet preprocess

# The whole DVC pipeline (dvc.yaml): preprocess, then train from the Parquet; only what changed.
repro: export DJANGO_DEBUG ?= true
repro: data
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/dvc repro

run: export DJANGO_DEBUG ?= true
run: data
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py ensure_admin
	$(PY) manage.py setup_roles
	$(PY) manage.py setup_schedules
	$(PY) manage.py reconcile_registry --schedule
	$(PY) manage.py train --if-no-champion
	$(PY) manage.py run_platform

# Any manage.py command with the embedded platform's settings, e.g. make manage ARGS=models
manage: export DJANGO_DEBUG ?= true
# Exit 42 (drift_check: drift found) is an answer, not a failure of make.
manage: install
	@$(PY) manage.py $(ARGS); code=$$?; [ $$code -eq 42 ] && code=0; exit $$code

# Style, then the floors of the house (import-linter contracts in pyproject.toml), then types.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(PY) manage.py makemigrations --check --dry-run -v1
	$(PY) -m pytest $(if $(filter fast,$(TEST_SUITE)),-m "not spark and not slow and not browser") $(PYTEST_ARGS)

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf var/ data/processed/ reports/ dvc.lock mlruns/ spark-warehouse/ metastore_db/ derby.log test-artifacts/
