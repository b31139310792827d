# ten99 — make help lists what you can do.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
PACKAGES := contracts libs/kit libs/testing $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml))
STAMP := $(VENV)/.installed

TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

help: ## list the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock $(wildcard */pyproject.toml */*/pyproject.toml)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/pip install -q uv
	$(UV) pip sync --python $(BIN)/python -q requirements.lock
	$(UV) pip install --python $(BIN)/python -q --no-deps --no-build-isolation $(addprefix -e ,$(PACKAGES))
	@touch $@

install: $(STAMP) ## create .venv and install every package (pinned by requirements.lock)

lock: ## re-pin third-party packages from requirements.in into requirements.lock
	$(UV) pip compile requirements.in --python-version 3.11 --generate-hashes --no-header -q -o requirements.lock

run: install ## start the whole system on the embedded default (SQLite, local nats-server, SMTP catcher)
	$(BIN)/python scripts/run_local.py

test: install ## run unit and integration tests against real PostgreSQL and NATS (e2e and browser too)
	$(BIN)/python scripts/test_env.py -- $(BIN)/python -m pytest $(PYTEST_ARGS)

# the deployment validators (kubectl's kustomize, kubernetes-validate, checkov, check-jsonschema) in a
# venv of their own: checkov pins many packages the services must not get
$(TOOLS_STAMP): requirements-tools.lock
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(UV) pip sync --python $(TOOLS)/bin/python -q --require-hashes requirements-tools.lock
	@touch $@

validate: install $(TOOLS_STAMP) ## validate what CI cannot run: k8s overlays (schemas, checkov), compose schema, NATS configs
	$(BIN)/python deploy/validate.py

test-stress: install ## the whole suite STRESS_RUNS times (default 3) with a CPU hog on one core
	$(BIN)/python scripts/test_stress.py

lint: install ## ruff, mypy and the architecture's import rules (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(shell ls -d contracts/src libs/*/src services/*/src 2>/dev/null)
	$(BIN)/lint-imports

fmt: install ## format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install ## upgrade every service database (uses each service's *_DB__URL)
	@for s in $(notdir $(wildcard services/*)); do $(BIN)/python -m $$s migrate || exit 1; done

contracts: install ## regenerate contracts/schemas and contracts/examples from the message types
	$(BIN)/python -m ten99_contracts.generate

bench: install ## run the benchmarks under bench/ and write results to bench/results
	$(BIN)/python scripts/test_env.py -- $(BIN)/python bench/run.py $(BENCH_ARGS)

soak: install ## sustained mixed load, 30 min by default, not in CI (SOAK_ARGS="--minutes 3 --scale 2"); bench/results/soak.json
	$(BIN)/python scripts/test_env.py -- $(BIN)/python bench/soak.py $(SOAK_ARGS)

chaos: install ## faults under load, invariants after each iteration (CHAOS_ARGS="--iterations 50 --seed 1"); bench/results/chaos.json
	$(BIN)/python bench/chaos.py $(or $(CHAOS_ARGS),--iterations 50 --seed 1)

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var

.PHONY: help install lock run test validate test-stress lint fmt migrate contracts bench soak chaos clean
