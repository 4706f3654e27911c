# Topicdesk — every target does its own set-up (virtualenv + pinned pip installs,
# `npm ci` for the CDK CLI), so a fresh clone needs only `make local` / `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAGE ?= dev
ARGS ?=
CDK := npx --no-install cdk
PYTEST_ARGS ?=

.PHONY: setup check test lint typecheck unit integration infra e2e synth deploy local ops emulator bench bench-limits reliability clean

# functions/ (the `topicdesk` package) is installed in editable mode: every tool imports it
# the ordinary way, nobody sets PYTHONPATH (pyproject.toml's [build-system]).
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

## The developer's loop, under two minutes: lint, types, the unit, property and tooling tests
## (no CDK CLI, no servers but in-process moto).
check: $(VENV)/.installed lint typecheck
	$(BIN)/pytest -n 2 tests/unit tests/property tests/tooling $(PYTEST_ARGS)

## The whole suite: lint, types, then every test layer.
test: setup lint typecheck
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

infra: setup
	$(BIN)/pytest tests/infra $(PYTEST_ARGS)

e2e: setup
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

## Synthesise one stage into cdk.out/ (cdk-nag checked; the Lambda bundle is pip-installed
## for linux/arm64 once per requirements.txt into .cache/, then reused). E.g. make synth STAGE=prod
synth: setup
	source $(BIN)/activate && $(CDK) synth --quiet -c stage=$(STAGE) $(ARGS)

## Deploy one stage to the AWS account in your credentials (bootstrap it once first:
## npx cdk bootstrap). The local stage deploys to moto instead: make local.
deploy: setup
	@if [ "$(STAGE)" = "local" ]; then echo "the local stage deploys to moto: use make local" >&2; exit 2; fi
	source $(BIN)/activate && $(CDK) deploy -c stage=$(STAGE) --require-approval broadening $(ARGS)

## The embedded stage (local/) on the proving ground (devkit/): moto + local Lambda runtime +
## Bot API emulator, no AWS, no internet.
local: setup
	$(BIN)/python -m local.stage $(ARGS)

## Operations CLI, e.g. make ops STAGE=prod ARGS="dlq list"
ops: $(VENV)/.installed
	$(BIN)/python -m ops --stage $(STAGE) $(ARGS)

## Fault-injection suite on the local stage: one row per scenario, then a summary line.
reliability: setup
	$(BIN)/python -m local.reliability $(ARGS)

## devkit's Bot API emulator on its own (python -m devkit.telegram_emulator --help).
emulator: $(VENV)/.installed
	$(BIN)/python -m devkit.telegram_emulator $(ARGS)

## Webhook and consumer against a naive inline PTB webhook: loopback only, stops by itself.
bench: $(VENV)/.installed
	$(BIN)/python -m bench $(ARGS)

## Telegram's flood limits under load, K = 1, 4, 16 consumers: Topicdesk's shared limiter vs
## PTB's AIORateLimiter on the emulator (limits on) and moto; docs/benchmarks.md. Loopback only.
bench-limits: setup
	$(BIN)/python -m bench.limits $(ARGS)

clean:
	rm -rf cdk.out .local .cache
