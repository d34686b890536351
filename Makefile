# Two commands for a newcomer: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 (the Lambda runtime): pyenv's when there, else whatever python3.13 is on PATH.
PYTHON313 ?= $(shell PYENV_VERSION=3.13.0 pyenv which python 2>/dev/null || command -v python3.13)
VENV := .venv
TOOLS := .tools-venv
PY := $(VENV)/bin/python
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install test unit lint template-check build local demo bench fuzz reliability clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml layers/crmbridge/requirements.txt
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found: install it or set PYTHON313=/path/to/python3.13"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

$(TOOLS)/.installed: Makefile
	$(PYTHON313) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q aws-sam-cli==1.170.0 cfn-lint==1.58.0
	@touch $@

install: $(VENV)/.installed ## create .venv with the runtime and dev dependencies

test: $(VENV)/.installed ## lint, every suite in parallel, then the reliability suite alone (100 deals; make reliability: 200)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n auto --ignore=tests/reliability
	RELIABILITY_DEALS=$${RELIABILITY_DEALS:-100} $(PY) -m pytest tests/reliability -q

unit: $(VENV)/.installed ## the fast unit tests only
	$(PY) -m pytest tests/unit -q

lint: $(VENV)/.installed ## ruff
	$(VENV)/bin/ruff check .

template-check: $(TOOLS)/.installed $(VENV)/.installed ## cfn-lint, sam validate --lint, sam build
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --template template.yaml
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(TOOLS)/bin/sam build --template template.yaml

build: template-check ## alias: the SAM build

CRM ?= pipedrive
local: $(VENV)/.installed ## run the embedded stack in the foreground (CRM=pipedrive|hubspot), Xero connected (Ctrl-C to stop)
	$(PY) -m local.stack --crm $(CRM)

demo: $(VENV)/.installed ## run the scripted scenario on the embedded stack (CRM=pipedrive|hubspot); exits 0 only if all checks pass
	$(PY) -m local.demo --crm $(CRM)

bench: $(VENV)/.installed ## benchmarks: prints a table, writes bench/results.json
	$(PY) -m bench.run

fuzz: $(VENV)/.installed ## the long fuzz run of every webhook route (FUZZ_EXAMPLES=10000 per route)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-10000} $(PY) -m pytest tests/fuzz -q

reliability: $(VENV)/.installed ## the reliability suite alone, its figures printed (RELIABILITY_DEALS=200)
	$(PY) -m pytest tests/reliability -q

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam
