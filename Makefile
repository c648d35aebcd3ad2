# Everyday targets. `make test` and `make demo` set up everything they need on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
RF := $(VENV)/bin/releaseflow
STAMP := $(VENV)/.installed
# Debian packages the local rehearsal runs on (a real Rails app, puma, HAProxy, a real database).
# sass-rails, byebug and listen: the rest of a stock `rails new --minimal` Gemfile (local up --app-repo); bootsnap: the
# sample app boots through it, as `rails new` (without --minimal) sets an app up.
DEB_PACKAGES := git curl shellcheck ruby-rails puma ruby-sqlite3 sqlite3 haproxy postgresql ruby-pg \
	ruby-sass-rails ruby-byebug ruby-listen ruby-bootsnap

CHECKOV_VENV := .venv-checkov
# pytest-xdist workers, a test file each. On a 2-core machine the end-to-end modules are CPU-bound (Ruby
# boots and the endpoint, docs/benchmarks.md): 4 workers keep both cores busy; 6 were slower.
TEST_WORKERS ?= 4

.PHONY: venv system-packages lint validate cfn-lint test test-fast test-portable test-default demo bench clean docs documents runbooks

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# checkov pins packaging<24, which the test tools cannot use, so it gets a virtualenv of its own.
$(CHECKOV_VENV)/bin/checkov:
	test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov

# Installs only what is missing, and only as root (a developer without root gets the unit tests).
system-packages:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "note: not root, not installing: $$missing (rehearsal tests will be skipped)"; exit 0; fi; \
	echo "installing Debian packages: $$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null

lint: venv
	$(VENV)/bin/ruff check tooling tests bench devtools
	$(VENV)/bin/ruff format --check tooling tests bench devtools
	$(VENV)/bin/mypy

# In GitHub Actions, findings are annotations on the pull request's files.
validate: venv
	$(RF) validate --strict $(if $(GITHUB_ACTIONS),--format github)

cfn-lint: venv
	$(VENV)/bin/cfn-lint template.yaml

# The static checks (lint, validate, cfn-lint) are prerequisites here and steps of checks.yml: one list.
test: venv system-packages $(CHECKOV_VENV)/bin/checkov lint validate cfn-lint
	# A short base temp: xdist's popen-gwN/ level would push HAProxy's socket path past the unix limit.
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25 \
		--basetemp=$$(mktemp -d /tmp/rf-XXXX)

# Everything but the end-to-end deploys (tests/e2e, marked `slow`): unit and harness tests, a few minutes.
test-fast: venv system-packages $(CHECKOV_VENV)/bin/checkov
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not slow" --basetemp=$$(mktemp -d /tmp/rf-XXXX)

# Every test that needs neither root nor the rehearsal's Debian packages (not marked `rehearsal`): what
# a pull request's checks run (checks.yml) on a stock runner.
test-portable: venv $(CHECKOV_VENV)/bin/checkov
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not rehearsal" --basetemp=$$(mktemp -d /tmp/rf-XXXX)

# The scenario modules, and the lock's proofs on scripted agents, again on fleets playing the default
# readings (docs/aws-semantics.md, Open readings): a cross-check of what `make test` concludes from the
# endpoint's ledger of readings met when it runs a module under strict alone.
test-default: venv system-packages
	RELEASEFLOW_AWS_READINGS=default $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		--basetemp=$$(mktemp -d /tmp/rf-XXXX) tests/e2e/test_failures_*.py tests/e2e/test_deploy_lock.py

demo: venv system-packages
	$(RF) demo

# The documents and runbooks first: docs/parameters.md tabulates them. docs/conformance.md: the register.
docs: documents runbooks
	$(PY) -m devtools.docs
	$(PY) -m devtools.conformance

# documents/*.yaml from documents-src/ and the parameter catalogue (parameters.yaml).
documents: venv
	$(PY) -m devtools.documents

# automation/*.yaml from automation-src/, the parameter catalogue and the script modules
# (tooling/releaseflow/runbook_scripts/).
runbooks: venv
	$(PY) -m devtools.runbooks

bench: venv system-packages
	$(PY) -m pip install --quiet -e '.[test,bench]'
	PYTHONPATH=. $(PY) -m bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build .rehearsal
