# The two commands: `make demo` and `make test`. Both set everything up from a clean clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test deps lint types unit nbval notebooks bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mtop list
	$(BIN)/mtop report run fleet-overview --output-dir build/demo

# System packages and the kube-apiserver build for the integration tests (cached in ~/.cache/mtop).
deps:
	bash scripts/install-test-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check mtop tests benchmarks
	$(BIN)/ruff format --check mtop tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

# Every report notebook, re-executed and compared with its stored outputs (volatile text sanitized).
nbval: $(STAMP)
	$(BIN)/pytest --nbval notebooks/ --ignore=notebooks/dashboard.ipynb --nbval-sanitize-with tests/nbval/sanitize.cfg --nbval-current-env -p no:cacheprovider -q

# Refresh the stored outputs after editing a report notebook.
notebooks: $(STAMP)
	$(BIN)/python -c "from pathlib import Path; from mtop.reports.execute import store_outputs; [store_outputs(p) for p in sorted(Path('notebooks').glob('*.ipynb')) if p.name != 'dashboard.ipynb']"

test: deps lint types unit nbval

bench: $(STAMP)
	$(BIN)/python benchmarks/collectors.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
