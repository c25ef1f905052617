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
	@$(PY) -m pytest -q || { rc=$$?; if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): failing" >&2; fi; exit $$rc; }

clean:
	rm -rf .run  # and every report with its artefacts (a replay needs its run); reports/.gitkeep stays
	[ ! -d reports ] || find reports -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

# Detection quality on labelled data (issue 7): see docs/results.md
.PHONY: eval eval-matrix eval-nab results replay
EVAL_DATA ?= ../shared/datasets

eval: setup
	$(PY) -m evaluation.cli all --data $(EVAL_DATA) --out reports/eval.json

eval-matrix: setup
	$(PY) -m evaluation.cli matrix --data $(or $(DATA),$(EVAL_DATA)/smd) --out $(or $(OUT),reports/eval-matrix.json)

eval-nab: setup
	$(PY) -m evaluation.cli nab --data $(or $(DATA),$(EVAL_DATA)/nab) --out $(or $(OUT),reports/eval-nab.json)

replay: setup
	$(PY) -m evaluation.cli replay $(ARGS)

results:
	$(PY) -m evaluation.cli results --eval reports/eval.json --out docs/results.md
