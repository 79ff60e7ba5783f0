# Two commands matter: `make run` (set up + start the app) and `make test` (set up + run all tests).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench screenshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py $(ARGS)

# ruff (lint + format), import-linter (the architecture contracts in pyproject.toml), mypy (types).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

test: lint
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m tests.benchmarks.bench_engine --out bench-out/bench.json
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.benchmarks.bench_canvas --out bench-out/canvas.json
	$(PY) -m tests.benchmarks.bench_ray --out bench-out/ray.json

screenshot: $(STAMP)
	bash packaging/screenshot.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
