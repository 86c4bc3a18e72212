# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The demo runs on the embedded defaults: SQLite files under var/, in-process caches.
DEMO_ENV := env -u JIANGUAN_SUPERVISION_DATABASE_URL -u JIANGUAN_COMPLAINTS_DATABASE_URL \
	-u JIANGUAN_CREDIT_DATABASE_URL -u JIANGUAN_GOV_SERVICES_DATABASE_URL \
	-u JIANGUAN_DATABASE_URL -u JIANGUAN_REDIS_URL

.PHONY: demo test install runtime services browser lint typecheck unit docs schema client ckan lock clean

# The runtime: the locked versions (as the image has them), then the project itself. The demo
# needs nothing more; the development tools come on top for `make test`. Both share .venv, so
# either may run first.
$(BIN)/.runtime: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(BIN)/.installed: $(BIN)/.runtime
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

runtime: $(BIN)/.runtime

install: $(BIN)/.installed

demo: runtime
	$(DEMO_ENV) $(BIN)/jianguan db upgrade
	$(DEMO_ENV) $(BIN)/jianguan seed --scale small --if-empty
	$(DEMO_ENV) $(BIN)/jianguan demo-credentials
	$(DEMO_ENV) $(BIN)/jianguan publish --target dir:var/open-data
	$(DEMO_ENV) $(BIN)/jianguan serve --port $(PORT)

services:
	scripts/ensure-services

browser:
	scripts/ensure-browser

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

unit: install services browser
	$(BIN)/pytest

test: lint typecheck unit

docs: install
	$(BIN)/jianguan docs data-standard

schema: install
	$(BIN)/jianguan export-schema

client: install
	scripts/generate-client

ckan: services
	devtools/ckan/run.py install setup start

# Re-resolve the runtime dependencies (Python 3.11, Linux x86-64) with their hashes.
lock:
	test -x .venv-lock/bin/uv || { $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet uv; }
	.venv-lock/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --annotation-style line \
		--custom-compile-command "make lock" --upgrade -o requirements.lock

clean:
	-devtools/ckan/run.py stop
	rm -rf $(VENV) .venv-codegen .venv-ckan .venv-lock var .pytest_cache .mypy_cache .ruff_cache .hypothesis
