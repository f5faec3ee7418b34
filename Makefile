# Two commands for a newcomer:
#   make run   set up what is missing, then run lint -> build -> smoke -> push to the embedded registry
#   make test  set up the same, then run the whole test suite
# Setup installs only what is missing; on a ready machine it takes seconds.

SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
INV   := $(VENV)/bin/invoke
PYTEST_ARGS ?=

.PHONY: run test setup bytecode engine host-tools platforms base-image clean help

help:
	@echo "make run    set up (engine, venv, node deps, base image) and run the whole pipeline"
	@echo "make test   set up the same and run the test suite"
	@echo "make setup  only the setup"
	@echo "make clean  stop the embedded registry, remove the venv and .hoist/"

run: setup
	$(INV) ci

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

setup: $(VENV)/.installed bytecode engine host-tools platforms node-app/node_modules/.installed base-image

$(VENV)/.installed: pyproject.toml
	@python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || \
	  { echo "hoist: installing python3-venv"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
	@# an existing venv (also one .venv links to) is updated in place, not re-created
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev,aws,gcp,azure]'
	@touch $@

# pip byte-compiles what it installs from a wheel, not an editable checkout: without this,
# under PYTHONDONTWRITEBYTECODE every hoist command compiles pipeline/ again (~0.1 s)
bytecode: $(VENV)/.installed
	@$(PY) -m compileall -q pipeline

engine:
	@scripts/ensure-engine.sh

host-tools:
	@scripts/ensure-host-tools.sh

# qemu through binfmt_misc, only when pipeline.yaml's build.platforms names a foreign one
platforms: $(VENV)/.installed
	@PYTHON=$(PY) scripts/ensure-platforms.sh

node-app/node_modules/.installed: node-app/package.json node-app/package-lock.json
	cd node-app && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

base-image: $(VENV)/.installed engine host-tools
	@$(INV) base-image

clean:
	-@$(INV) registry.down
	rm -rf $(VENV) .hoist
