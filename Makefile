# videogen_dagster: `make demo` makes a real video on a fresh machine; `make test` runs the suite.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/var/dagster
DEMO_PROMPT ?= Explain the Pythagorean theorem
DEMO_SCENES ?= 3
WEB_PORT ?= 3000
API_PORT ?= 8000

.PHONY: deps system-deps venv node-deps demo up up-cluster down-cluster test test-fast lint bench bench-all clean

deps: system-deps venv node-deps

system-deps:
	@bash scripts/install-system.sh

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed

# Convex functions: TypeScript, type-checked and tested with convex-test (npm registry).
node_modules/.installed: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node-deps: node_modules/.installed

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $@

demo: deps $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/videogen generate "$(DEMO_PROMPT)" --scenes $(DEMO_SCENES) --quality preview --project demo

# Dagster webserver + daemon on the ./var/dagster instance, and the REST bridge.
up: deps $(DAGSTER_HOME)/dagster.yaml
	@echo "Dagster UI: http://127.0.0.1:$(WEB_PORT)   REST API: http://127.0.0.1:$(API_PORT)/docs   (Ctrl-C stops all)"
	@# Create/upgrade the instance's SQLite storage once, before two processes race to create it
	@# (a fresh DAGSTER_HOME crashed the webserver: UNIQUE constraint failed: alembic_version).
	@$(BIN)/dagster instance migrate >/dev/null
	@# Every URL the three make is a signed HTTP URL of this bridge (README: Objects over HTTP).
	@export VIDEOGEN_PUBLIC_URL="$${VIDEOGEN_PUBLIC_URL:-http://127.0.0.1:$(API_PORT)}"; \
	trap 'kill 0' INT TERM EXIT; \
	$(BIN)/dagster-daemon run -w workspace.yaml & \
	$(BIN)/dagster-webserver -w workspace.yaml -h 127.0.0.1 -p $(WEB_PORT) & \
	DAGSTER_PORT=$(WEB_PORT) $(BIN)/uvicorn api_bridge.main:app --host 127.0.0.1 --port $(API_PORT) & \
	wait

# Cluster mode on one machine (README, "Cluster mode"): PostgreSQL, Redis, moto_server as S3 (unless
# S3_BUCKET is set), daemon + webserver + bridge, and WORKERS Celery workers in their own folders
# under var/cluster. Ctrl-C stops all of it, PostgreSQL and Redis included.
up-cluster: deps
	@WEB_PORT=$(WEB_PORT) API_PORT=$(API_PORT) bash scripts/cluster/up.sh

# Stops a running `make up-cluster` (or what a killed one left running); the data stays.
down-cluster:
	@bash scripts/cluster/up.sh down

test: deps
	$(BIN)/ruff check videogen_dagster api_bridge mcp_server tests bench
	npm run --silent typecheck
	npm test --silent
	@# One process per core (at most 4); each test file stays in one process, so a module's
	@# real stack (webserver, daemon, bridge; or the cluster) is started once.
	$(BIN)/pytest -q -n auto --maxprocesses 4 --dist loadfile --durations 25

test-fast: venv
	$(BIN)/pytest -q -m "not slow"

lint: venv
	$(BIN)/ruff check videogen_dagster api_bridge mcp_server tests bench
	$(BIN)/ruff format --check videogen_dagster api_bridge mcp_server tests bench

# Issue 20's table: each ratio against a baseline measured in the same run (bench/bench_table.py).
bench: deps
	$(BIN)/python bench/bench_table.py

# Every benchmark, one after another (each prints its own figures).
bench-all: deps
	$(BIN)/python bench/bench_table.py
	$(BIN)/python bench/bench_cluster.py
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_generate.py --via-bridge
	$(BIN)/python bench/bench_hops.py
	$(BIN)/python bench/bench_s3_upload.py
	$(BIN)/python bench/bench_narration.py
	$(BIN)/python bench/bench_evaluate.py
	$(BIN)/python bench/bench_reuse.py
	$(BIN)/python bench/bench_events.py

clean:
	rm -rf var bench/out
