# Heron: `make serve` starts the server on the embedded default; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve test test-deps lint bench clean web web-check

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml setup.py heron/protocols/_rwscan.c | $(PY)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/heron serve --data-dir ./data

lint: $(STAMP)
	$(VENV)/bin/ruff check heron tests bench
	$(VENV)/bin/ruff format --check heron
	$(VENV)/bin/mypy

# The web UI's Node packages, installed exactly as package-lock.json pins them (axe-core for the
# browser tests comes from here too).
WEB_MODULES := web/node_modules/.package-lock.json
$(WEB_MODULES): web/package-lock.json
	cd web && npm ci --no-audit --no-fund

# Rebuild the committed bundle in heron/web/static/ from web/ (reproducible from package-lock.json).
web: $(WEB_MODULES)
	cd web && npm run build

# The UI's type check and unit tests (node's test runner; no browser).
web-check: $(WEB_MODULES)
	cd web && npm run typecheck && npm test

test-deps: $(WEB_MODULES)
	sh bench/install-peers.sh curl prometheus chromium prometheus-alertmanager netdata bind9 dnsutils

test: lint test-deps web-check
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
