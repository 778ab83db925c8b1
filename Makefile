# Every target builds the environment it needs: a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_VERSION := 0.13.8

.PHONY: install browser demo test coverage bench lint lock clean

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

# The console's browser tests drive Chromium. Debian's package is used (Playwright cannot download its own
# here); as root on Debian it is installed when missing, elsewhere the message says what to do.
browser:
	@command -v chromium >/dev/null 2>&1 || test -n "$$CHROMIUM_PATH" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	  else \
	    echo "the browser tests need Chromium: install your system's chromium package or set CHROMIUM_PATH"; exit 1; \
	  fi; }

demo: $(STAMP)
	$(BIN)/retail-pipeline demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 3 --dist loadfile -q

# Line coverage of retail_pipeline by the test suite (coverage.py; subprocesses not counted).
coverage: $(STAMP) browser
	$(BIN)/python -m pytest -n 3 --dist loadfile -q --cov=retail_pipeline --cov-report=term

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
