# The commands a user types. Everything runs from the project's own virtualenv (.venv) and
# keeps its state (binaries, jars, service data, logs) in the ignored .stack/ folder.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.11
UV_VERSION ?= 0.13.8
VENV := .venv
PY := $(VENV)/bin/python
LAKEHOUSE := $(VENV)/bin/lakehouse
# Every group ends with its slowest steps (setup, call, teardown): the profile in docs/testing.md
# (DURATIONS=0 lists every step).
DURATIONS ?= 15
PYTEST := $(PY) -m pytest --durations=$(DURATIONS)
PROFILE ?= local
DEMO_PROFILE ?= embedded

.PHONY: help install venv jars s3-server services-up services-down status up down demo run report docs deploy-aws \
        seed sample test test-unit test-integration test-reliability test-e2e test-compose lint format clean \
        down-volumes logs ps shell-spark psql drop-sample alerts alerts-test bench

# `make up` / `make down` drive Docker Compose (docker-compose.yml) when a Docker engine answers
# and the native services on machines without a `docker` CLI. A `docker` CLI whose engine does
# not answer is an error, not a silent switch to the native stack. STACK=native|compose forces
# one; S3_SERVER=versitygw adds docker/compose.versitygw.yml (versitygw instead of MinIO).
STACK ?= auto
S3_SERVER ?= minio
COMPOSE_FILES := -f docker-compose.yml $(if $(filter versitygw,$(S3_SERVER)),-f docker/compose.versitygw.yml)
COMPOSE := docker compose $(COMPOSE_FILES)
STACK_SH := COMPOSE="$(COMPOSE)" S3_SERVER="$(S3_SERVER)" docker/stack.sh
USE_COMPOSE = { [ "$(STACK)" = compose ] || { [ "$(STACK)" = auto ] && command -v docker >/dev/null \
  && { docker info >/dev/null 2>&1 || { echo "a docker CLI is installed but no Docker engine answers \
  (docker info): start Docker (Docker Desktop, or dockerd), or use the native services: \
  make $@ STACK=native" >&2; exit 1; }; }; }; }
NEED_ENGINE = docker info >/dev/null 2>&1 || { echo "no Docker engine answers (docker info): \
  this target is for the Compose stack; the native one: make status, logs in .stack/$(PROFILE)/logs"; exit 1; }
SERVICE ?=
DB ?= warehouse

help: ## list the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: venv jars s3-server ## everything the native stack needs (Python deps, jars, S3 server)

venv: $(VENV)/.installed ## the virtualenv from the committed lock (requirements.lock)
$(VENV)/.installed: requirements.lock pyproject.toml
	@command -v uv >/dev/null || python$(PYTHON_VERSION) -m pip install -q "uv==$(UV_VERSION)"
	uv venv --allow-existing --python $(PYTHON_VERSION) $(VENV)
	uv pip sync --python $(PY) requirements.lock
	uv pip install --python $(PY) --no-deps -e .
	@touch $@

lock: ## re-resolve requirements.lock from pyproject.toml, and its runtime subset for the images
	uv pip compile pyproject.toml --extra dev --python-version $(PYTHON_VERSION) -o requirements.lock
	uv pip compile pyproject.toml --python-version $(PYTHON_VERSION) -c requirements.lock \
		-o requirements.runtime.lock

jars: venv ## fetch the Spark jars (Delta, S3A, JDBC) with Maven into .stack/jars
	$(LAKEHOUSE) jars >/dev/null

s3-server: venv ## build the S3 server (versitygw) from the Go module proxy into .stack/bin
	$(PY) -c "from lakehouse.platform.s3_server import versitygw_binary; print(versitygw_binary())"

services-up: install ## start the native services of PROFILE (default local) and wait for health
	$(LAKEHOUSE) --profile $(PROFILE) services start

services-down: ## stop the native services of PROFILE
	-$(LAKEHOUSE) --profile $(PROFILE) services stop

status: ## health of every service of PROFILE
	$(LAKEHOUSE) --profile $(PROFILE) services status

up: ## bring the local platform up: Docker Compose if a Docker engine answers, else native services
	@if $(USE_COMPOSE); then \
	  $(COMPOSE) up -d --build && $(STACK_SH) wait && $(STACK_SH) info; \
	else \
	  $(MAKE) --no-print-directory services-up; \
	fi

down: ## stop the local platform (Compose: containers stop, volumes stay; native: services-down)
	@if $(USE_COMPOSE); then \
	  $(COMPOSE) down; \
	else \
	  $(MAKE) --no-print-directory services-down; \
	fi

down-volumes: ## Compose: stop and DELETE all its volumes (lake, warehouse, Airflow DB), after asking
	@$(NEED_ENGINE)
	@read -r -p "Delete every volume of the Compose stack (object store, warehouse, Airflow DB)? [y/N] " answer \
	  && [ "$$answer" = y -o "$$answer" = Y ] || { echo "kept the volumes"; exit 1; }
	$(COMPOSE) down --volumes --remove-orphans
	@# Volumes of the other S3 server's file (MinIO vs versitygw) belong to the project as well.
	@docker volume ls -q --filter label=com.docker.compose.project=lakehouse | xargs -r docker volume rm

logs: ## Compose: follow the logs (SERVICE=airflow-scheduler for one service)
	@$(NEED_ENGINE)
	$(COMPOSE) logs --follow --tail 200 $(SERVICE)

ps: ## Compose: the containers and their health
	@$(NEED_ENGINE)
	$(COMPOSE) ps --all

shell-spark: ## Compose: a shell in the Spark master container
	@$(NEED_ENGINE)
	$(COMPOSE) exec spark-master bash

psql: ## Compose: psql on the warehouse PostgreSQL (DB=operational for the source DB)
	@$(NEED_ENGINE)
	$(COMPOSE) exec warehouse-db sh -c 'psql -U "$$POSTGRES_USER" -d "$(DB)"'

BATCH ?= 1
drop-sample: ## Compose: batch BATCH of the committed sample into RAW and the operational DB
	@$(NEED_ENGINE)
	$(COMPOSE) exec airflow-api-server lakehouse drop-sample --batch $(BATCH)

alerts: ## Compose: the alerts the stack's mail sink received (failures, missed deadlines)
	@$(NEED_ENGINE)
	$(COMPOSE) exec -T mail lakehouse alerts --maildir /opt/airflow/mail/inbox

alerts-test: ## Compose: send a test alert through Airflow's SMTP connection, then list the sink
	@$(NEED_ENGINE)
	$(COMPOSE) exec -T airflow-scheduler lakehouse --profile compose alerts --send-test
	$(COMPOSE) exec -T mail lakehouse alerts --maildir /opt/airflow/mail/inbox

demo: venv jars ## run the whole pipeline on sample data (embedded profile: no Docker, no services)
	$(LAKEHOUSE) --profile $(DEMO_PROFILE) demo

deploy-aws: venv ## deploy the Glue jobs, artifacts and warehouse DDL (aws profile; DRY_RUN=1 to print only)
	$(LAKEHOUSE) --profile aws deploy $(if $(DRY_RUN),--dry-run,)

run: ## trigger the master DAG and follow it to the end (Compose: from the api-server container)
	@if $(USE_COMPOSE); then \
	  $(COMPOSE) exec airflow-api-server lakehouse --profile compose run; \
	else \
	  $(LAKEHOUSE) --profile $(PROFILE) run; \
	fi

report: ## fetch the latest run's HTML report into .stack/ and open it (RUN=<run id> for another)
	@if $(USE_COMPOSE); then \
	  mkdir -p .stack/compose/reports; \
	  $(COMPOSE) exec airflow-api-server lakehouse --profile compose report --out /tmp/report.html $(if $(RUN),--run "$(RUN)") \
	  && $(COMPOSE) cp airflow-api-server:/tmp/report.html .stack/compose/reports/latest.html \
	  && echo ".stack/compose/reports/latest.html" \
	  && (command -v xdg-open >/dev/null && xdg-open .stack/compose/reports/latest.html || true); \
	else \
	  $(LAKEHOUSE) --profile $(PROFILE) report --open $(if $(RUN),--run "$(RUN)"); \
	fi

docs: venv ## regenerate docs/configuration.md (config models) and docs/datasets.md's tables (input contract)
	$(PY) -m lakehouse.config.reference > docs/configuration.md
	$(PY) -m lakehouse.config.contract_docs docs/datasets.md

SCALE ?= 0.01
SEED ?= 42
seed: venv ## generate the reference dataset (SCALE=0.01, SEED=42) into .stack/seed/scale-SCALE
	$(PY) -m seed_data generate --scale $(SCALE) --seed $(SEED) --out .stack/seed/scale-$(SCALE)

sample: venv ## regenerate the committed sample (seed_data/sample, scale 0.01, seed 42)
	rm -rf seed_data/sample
	$(PY) -m seed_data generate --scale 0.01 --seed 42 --out seed_data/sample

BENCH_SCALE = $(if $(filter command line,$(origin SCALE)),$(SCALE),0.1)
RUNS ?= 3
bench: venv jars ## benchmark every stage at SCALE (0.1 | 1 | 10; RUNS=3) into benchmarks/results/ (needs `make services-up`)
	$(PY) -m benchmarks.suite --scale $(BENCH_SCALE) --runs $(RUNS)

# The settings the e2e group needs from the scheduler it talks to (no hourly run beside the
# tests' own, a deadline every run misses, short retry delays), used when `make test` starts
# the native services itself (for the services and for the tests, which read them too).
TEST_SERVICE_ENV := LAKEHOUSE_MASTER_SCHEDULE=none LAKEHOUSE_DEADLINE_MINUTES=0.5 LAKEHOUSE_RETRY_DELAY_SECONDS=5
# The groups `make test` runs (e.g. make test TEST_GROUPS="lint test-unit"); test-compose is
# added when a Docker engine answers and COMPOSE_GROUP is not 0.
TEST_GROUPS ?= lint test-unit test-integration test-reliability test-e2e
COMPOSE_GROUP ?= 1
# A command the compose group waits for first (CI builds the Compose plugin and the stand-in
# images in the background while the other groups run: .ci/docker-prep).
COMPOSE_PREPARE ?=
test: install ## every group: lint, unit, integration, reliability, e2e, compose (when a Docker engine answers); starts and stops what it needs
	@groups="$(TEST_GROUPS)"; \
	if [ "$(COMPOSE_GROUP)" = 0 ]; then :; \
	elif docker info >/dev/null 2>&1; then groups="$$groups test-compose"; \
	else echo "::: no Docker engine answers (docker info): the compose group does not run"; fi; \
	started=; \
	if ! $(LAKEHOUSE) --profile local status >/dev/null 2>&1; then \
	  echo "::: starting the native services of the local profile (stopped again at the end)"; \
	  t0=$$(date +%s); $(TEST_SERVICE_ENV) $(MAKE) --no-print-directory services-up PROFILE=local || exit 1; \
	  started=1; echo "::: native services started in $$(( $$(date +%s) - t0 ))s"; fi; \
	for group in $$groups; do \
	  if [ $$group = test-compose ] && [ -n '$(COMPOSE_PREPARE)' ] && ! $(COMPOSE_PREPARE); then \
	    echo "::: $(COMPOSE_PREPARE) failed: the compose group cannot run"; \
	    [ -n "$$started" ] && $(MAKE) --no-print-directory services-down PROFILE=local >/dev/null 2>&1; \
	    exit 1; fi; \
	  if [ $$group = test-compose ]; then \
	    echo "::: stopping the native services: the Compose stack publishes the same ports"; \
	    $(MAKE) --no-print-directory services-down PROFILE=local >/dev/null 2>&1; fi; \
	  t0=$$(date +%s); rc=0; \
	  env $${started:+$(TEST_SERVICE_ENV)} $(MAKE) --no-print-directory $$group || rc=$$?; \
	  took=$$(( $$(date +%s) - t0 )); \
	  if [ $$rc -ne 0 ]; then echo "::: $$group FAILED after $${took}s"; \
	    [ -n "$$started" ] && $(MAKE) --no-print-directory services-down PROFILE=local >/dev/null 2>&1; \
	    exit $$rc; fi; \
	  echo "::: $$group passed in $${took}s"; done; \
	if [ -n "$$started" ]; then $(MAKE) --no-print-directory services-down PROFILE=local >/dev/null 2>&1; \
	elif [ "$${groups%test-compose}" != "$$groups" ]; then \
	  echo "::: restarting the native services that were running before"; \
	  $(MAKE) --no-print-directory services-up PROFILE=local >/dev/null; fi

test-unit: venv jars ## fast tests, no services
	$(PYTEST) -m unit tests/unit

test-integration: venv jars ## real S3 server, PostgreSQL, Spark with Delta over S3A
	$(PYTEST) -m integration tests/integration

test-reliability: venv jars ## hostile input, faults and security on the native services
	$(PYTEST) -m reliability tests/reliability

test-e2e: venv jars ## the master DAG through the real Airflow scheduler; `make demo` on embedded
	$(PYTEST) -m e2e tests/e2e

test-compose: venv jars ## the Compose stack on a real Docker engine: make up, a master run, a worker kill, down/up (native services stopped)
	$(PYTEST) -m compose tests/compose

lint: venv ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: services-down ## stop services and remove all local state (.stack/, keeping built binaries and jars)
	rm -rf .stack/local .stack/embedded .stack/test-airflow
