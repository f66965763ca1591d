# Heron: `make serve` starts the server on the embedded default; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve test test-deps lint bench clean

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

test-deps:
	sh bench/install-peers.sh curl prometheus

test: lint test-deps
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
