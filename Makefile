# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
DATABASE_URL ?= sqlite:///./waypost.db

.PHONY: run test install install-dev lint bench clean chromium prometheus

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

run: install
	$(BIN)/waypost migrate --database-url $(DATABASE_URL)
	$(BIN)/waypost serve --host $(HOST) --port $(PORT) --database-url $(DATABASE_URL)

lint: install-dev
	$(BIN)/ruff check waypost tests bench
	$(BIN)/ruff format --check waypost tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The dashboard's browser tests use Debian's Chromium (root, or sudo, for apt-get).
chromium:
	@test -x /usr/bin/chromium || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

# The metrics tests run Debian's Prometheus themselves; RUNLEVEL=1 keeps the package's
# scripts from starting the system's own.
prometheus:
	@test -x /usr/bin/prometheus || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends prometheus; }

test: lint chromium prometheus
	$(BIN)/pytest

# nginx is the fast receiver of the benchmarks (bench/common.py starts its own on a free
# loopback port); installed from Debian's packages if missing. RUNLEVEL=1 keeps the
# package's scripts from starting the system's nginx on port 80.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BENCH_ARGS ?=

bench: install-dev
	@PATH="$$PATH:/usr/sbin:/sbin" command -v nginx >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends nginx-light || \
		$(SUDO) env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends nginx; }
	PATH="$$PATH:/usr/sbin:/sbin" $(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache
