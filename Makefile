# reels-live: every developer command. `make run` and `make test` install what they need on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

include local/tools.mk

VENV := .venv
PY := $(VENV)/bin/python
# Lambda's runtime is python3.12. pyenv's shim cannot be trusted (it fails when 3.12 is not the selected
# version), so look in pyenv's versions folder first, then for a python3.12 that really runs.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
PY312 ?= $(shell for p in $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.12.*/bin/python3.12))) python3.12; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { command -v "$$p"; break; }; done)
# `sam build` without containers looks for python3.12 on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(dir $(PY312)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export SAM_CLI_DISABLE_UPDATE_CHECK := 1
export LIVEKIT_SERVER_BIN RIE_BIN
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help
help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt constraints.txt
	@test -n "$(PY312)" || { echo "Python 3.12 was not found. Install it (pyenv install 3.12, or your OS package" \
	  "python3.12 with venv) and run make again." >&2; exit 1; }
	@echo "creating $(VENV) with $(PY312) (first run: a few minutes)"
	@rm -rf $(VENV) && $(PY312) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed ## create .venv with python3.12 and the pinned dev requirements

# The SAM CLI lives in a venv of its own: it pins boto3-stubs exactly, which would hold .venv's type stubs
# at a version other than its boto3's.
SAM_VENV := .sam-venv
SAM := $(SAM_VENV)/bin/sam

$(SAM_VENV)/.installed: local/sam-requirements.txt local/sam-constraints.txt
	@test -n "$(PY312)" || { echo "Python 3.12 was not found (see make venv)." >&2; exit 1; }
	@echo "creating $(SAM_VENV) (the SAM CLI) with $(PY312)"
	@rm -rf $(SAM_VENV) && $(PY312) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r local/sam-requirements.txt -c local/sam-constraints.txt
	@touch $@

.PHONY: sam-venv
sam-venv: $(SAM_VENV)/.installed ## the SAM CLI's own venv

.PHONY: constraints
constraints: venv sam-venv ## re-pin every transitive package after a requirements change (.venv and .sam-venv)
	@{ sed -n '1,2p' constraints.txt; $(PY) -m pip freeze --disable-pip-version-check; } > constraints.new && mv constraints.new constraints.txt
	@{ sed -n '1,2p' local/sam-constraints.txt; $(SAM_VENV)/bin/python -m pip freeze --disable-pip-version-check; } > constraints.new && mv constraints.new local/sam-constraints.txt

$(TOOLS_DIR)/livekit-server-$(LIVEKIT_SERVER_VERSION):
	$(call go_install,$(LIVEKIT_SERVER_MODULE),$(LIVEKIT_SERVER_VERSION),server,$@)

$(RIE_BIN):
	$(call go_install,$(RIE_MODULE),$(RIE_VERSION),aws-lambda-rie,$@)

.PHONY: livekit
livekit: $(LIVEKIT_SERVER_BIN) ## build the pinned livekit-server (skipped when one is on PATH)

.PHONY: rie
rie: $(RIE_BIN) ## build the pinned AWS Lambda Runtime Interface Emulator

.PHONY: lint
lint: venv ## ruff lint and format check
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

.PHONY: format
format: venv ## apply ruff fixes and formatting
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

.PHONY: imports
imports: venv ## the domain package's import contracts (import-linter, pyproject.toml)
	@PYTHONPATH=layers/common $(VENV)/bin/lint-imports pyproject.toml --no-cache

.PHONY: typecheck
typecheck: venv ## mypy, strict on the domain package (pyproject.toml)
	@$(VENV)/bin/mypy

.PHONY: validate
validate: sam-venv ## sam validate --lint
	@$(SAM) validate --lint --template template.yaml

.PHONY: build
build: venv sam-venv ## sam build (no containers) into .aws-sam/build
	@$(SAM) build --template template.yaml

.PHONY: test
test: venv livekit rie runtime-venv lint imports typecheck validate build ## lint, import contracts, mypy, validate, sam build, then every test (real livekit-server and RIE included)
	@$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: bench
bench: venv livekit build ## print AWS and LiveKit calls per operation and cold-import times (BENCH_ARGS=section)
	@$(PY) -m bench $(BENCH_ARGS)

# ---------------------------------------------------------------- local stack (local/stack.py)
RUNTIME_VENV := .runtime-venv

# What Lambda's python3.12 runtime provides around the code (awslambdaric, the runtime's boto3), nothing more.
$(RUNTIME_VENV)/.installed: local/runtime-requirements.txt
	@test -n "$(PY312)" || { echo "Python 3.12 was not found (see make venv)." >&2; exit 1; }
	@echo "creating $(RUNTIME_VENV) (awslambdaric + the runtime's boto3) with $(PY312)"
	@rm -rf $(RUNTIME_VENV) && $(PY312) -m venv $(RUNTIME_VENV)
	@$(RUNTIME_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r local/runtime-requirements.txt
	@touch $@

.PHONY: runtime-venv
runtime-venv: $(RUNTIME_VENV)/.installed ## the runtime venv functions run in under RIE

.PHONY: run
run: venv livekit rie runtime-venv build ## the whole system on 127.0.0.1 (API on :3000); Ctrl-C stops it
	@$(PY) -m local.stack $(RUN_ARGS)

# `make token USER=bob`; USER from the environment (your login) is ignored in favour of alice.
TOKEN_USER = $(if $(filter command line,$(origin USER)),$(USER),alice)
.PHONY: token
token: venv ## print a bearer token from the running stack (USER=alice by default)
	@$(PY) -m local.auth token $(TOKEN_USER)

.PHONY: invoke
invoke: venv livekit rie runtime-venv build ## one event through RIE: make invoke FN=GetStreamFunction EVENT=events/get_stream.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=events/<file>.json" >&2; exit 2; }
	@$(PY) -m local.invoke $(FN) $(EVENT)

.PHONY: demo
demo: venv livekit rie runtime-venv ## play the whole story against the running stack (or start one)
	@# Rebuilding under a running stack would swap code beneath its runtimes: build only to start a new one.
	@$(PY) -c "from local import state; raise SystemExit(0 if state.running() else 1)" || $(MAKE) --no-print-directory build
	@$(PY) -m local.demo $(DEMO_ARGS)

.PHONY: openapi
openapi: venv ## regenerate openapi.json (merged from the handlers; a test fails when it drifts)
	@$(PY) -m local.openapi

.PHONY: clean
clean: ## remove build output and caches (keeps .venv and the tools cache)
	@rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache .hypothesis .tmp .local-stack
