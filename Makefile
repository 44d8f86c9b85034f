# City OS developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --locked
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit test-integration test-e2e lint format typecheck protos protos-check bench loadtest charts clean

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml charts/tools/checkov-requirements.txt $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --locked --all-packages
	charts/tools/checkov.sh --install-only
	@touch $@

install: .venv/.synced ## Install every dependency into .venv (uv, from uv.lock)

run: install ## Run the whole City OS locally with embedded Valkey and S3 (Ctrl-C stops it)
	$(RUN) cityos-dev run

test: install ## Run every test: unit, integration and end to end
	$(RUN) pytest

test-unit: install ## Run the unit tests only
	$(RUN) pytest -m "not integration and not e2e"

test-integration: install ## Run the integration tests only
	$(RUN) pytest -m integration

test-e2e: install ## Run the end-to-end tests only
	$(RUN) pytest -m e2e

lint: install ## ruff lint and format check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: install ## Format and fix what ruff can
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

typecheck: install ## mypy --strict over every package's src
	$(RUN) mypy libs/cityos-runtime/src libs/cityos-devtools/src services/*/src

protos: install ## Regenerate the gRPC code from protos/
	$(RUN) bash scripts/gen_protos.sh

protos-check: install ## Fail when the committed generated code is stale
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; $(RUN) bash scripts/gen_protos.sh $$tmp/src >/dev/null && \
	  diff -r -q $$tmp/src/cityos libs/cityos-protos/src/cityos && echo "generated protos are up to date"

charts: install ## Render and validate the Helm chart (helm lint, kubernetes-validate, checkov, hadolint)
	$(RUN) pytest tests/charts

bench: install ## Measure the performance figures of ARCHITECTURE.md section 6
	$(RUN) python -m loadtests.bench

loadtest: install ## Run the locust scenarios headless against a fresh local stack (reports/)
	$(RUN) python -m loadtests.scenarios

clean: ## Remove the virtualenvs and local data
	rm -rf .venv $(TOOLS) .data
