# Two commands do all the set-up on a machine with Python 3.11 and pip: `make run`, `make test`.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Bytecode compiled at install: every Dagster run is a new process that imports Dagster and the
# code location, and where Python may not write its cache (PYTHONDONTWRITEBYTECODE, a read-only
# venv) it would compile them from source each time (~4 s of a run's start on 2 cores).
export UV_COMPILE_BYTECODE := 1

.PHONY: install run test bench chaos lint format clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The virtualenv, exactly as uv.lock pins it (fails if the lock is out of date).
install: $(UV)
	$(UV) sync --frozen --python $(PYTHON)

# The Odoo sandbox with demo data, and the Dagster UI against it on http://127.0.0.1:3000.
run: install
	$(BIN)/inventory-sync dev

# Whole modules to each worker, in collection order (the modules with a slow test first: see
# inventory_pipelines_tests/conftest.py), not xdist's default of the modules with most tests first.
test: install
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder -q $(PYTEST_ARGS)

# Benchmarks are not tests: they write their figures to bench-results.json.
bench: install
	$(BIN)/python -m inventory_pipelines_tests.bench $(BENCH_ARGS)

# The chaos suite, not part of `make test` (about 10 minutes): publishing and order ingestion
# killed with SIGKILL at 60 points each, a channel down, Odoo down and slow, webhooks duplicated
# and reordered, the ledger's PostgreSQL restarted; each trial ends with its invariants checked.
# The trials are listed at the end and in chaos-report.json.
chaos: install
	INVENTORY_CHAOS=1 $(BIN)/pytest inventory_pipelines_tests/chaos -n 2 --dist loadfile -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .data .dagster_home bench-results.json chaos-report.json
