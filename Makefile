# The README's commands. Each target runs the idempotent set-up first.
PY := .venv/bin/python
DURATION ?= 120

.PHONY: setup demo bench chaos test unit integration lint clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(PY) -m embedded.demo --duration $(DURATION)

bench: setup
	$(PY) -m embedded.bench

chaos: setup
	$(PY) -m embedded.chaos --out reports/chaos.json

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

unit: setup
	$(PY) -m pytest -q -m "not integration and not cluster"

integration: setup
	$(PY) -m pytest -q -m "integration or cluster"

test: lint
	$(PY) -m pytest -q

clean:
	rm -rf .run reports/*.json
