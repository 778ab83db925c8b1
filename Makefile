# Every target builds the environment it needs: a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_VERSION := 0.13.8

.PHONY: install demo test coverage bench lint lock clean

install: $(STAMP)

# requirements.lock pins every package (uv pip compile); the project itself installs editable on top.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@# Bytecode now, so no process (tests, demo, Dagster's subprocesses) compiles its imports again;
	@# with PYTHONDONTWRITEBYTECODE set, every one of them would, for seconds each.
	$(BIN)/python -m compileall -q retail_pipeline
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/retail-pipeline demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

# Line coverage of retail_pipeline by the test suite (coverage.py; subprocesses not counted).
coverage: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q --cov=retail_pipeline --cov-report=term

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# Dagster's tools read ./dagster.yaml, which takes its Postgres URL from the environment.
	eval "$$($(BIN)/retail-pipeline env)" && $(BIN)/dagster definitions validate -w workspace.yaml && $(BIN)/dg check defs

# Re-resolve the pins after editing pyproject.toml dependencies.
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
