# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two stamps: running needs requirements.txt only; tests, lint and benchmarks the dev tools too.
APP_STAMP := $(VENV)/.installed-app-$(shell sha1sum requirements.txt | cut -c1-12)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
PORT ?= 8000
# Tests and benchmarks run the production settings (DEBUG off) with a throwaway secret, over
# plain HTTP: TLS belongs to the proxy in front, which the test client and servers do not have.
THROWAWAY_SECRET := $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')
lint typecheck test-unit pytest test-embedded test-rabbitmq test-two-databases test-model check-deploy check-runtime soak bench bench-peer bench-http bench-crud bench-cost bench-cost-http: export SECRET_KEY ?= $(THROWAWAY_SECRET)
lint test-unit pytest test-embedded test-rabbitmq test-two-databases test-model check-runtime soak bench bench-peer bench-http bench-crud bench-cost bench-cost-http: export HTTPS ?= false
# The benchmarks' app is installed only for them (config/settings.py).
bench bench-peer bench-http bench-crud bench-cost bench-cost-http: export BENCH = 1
# The test suite proves guarantees on the real services; these are the machine's defaults.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0
TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672//
TEST_READ_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test_read

.PHONY: help soak bench browser-deps screenshots install install-app run migrate seed test test-unit lint typecheck check-deploy check-runtime pytest test-embedded test-rabbitmq test-two-databases test-model web worker beat up bench bench-peer bench-http bench-crud bench-cost bench-cost-http bench-report bench-short clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/\1\t\2/' | expand -t 22

install: $(DEV_STAMP) ## Install the runtime and dev requirements into .venv
install-app: $(APP_STAMP) ## Install the runtime requirements only into .venv

# A stamp's name is the requirements' hash, so only a change of their content reinstalls (a fresh
# checkout's newer mtimes must not reinstall into a virtualenv that already has them).
define install_requirements # (requirements file, stamp kind)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(1)
	rm -f $(VENV)/.installed-$(2)-*
	touch $@
endef
$(APP_STAMP):
	$(call install_requirements,requirements.txt,app)
$(DEV_STAMP):
	$(call install_requirements,requirements-dev.txt,dev)

migrate: install-app ## Apply the migrations (DATABASE_URL, SQLite by default)
	$(PY) manage.py migrate --noinput -v0

# The embedded default: SQLite, projections in-process after commit. The one place that opts
# into development settings (DEBUG: debug pages, no HTTPS, a development secret).
run seed: export DEBUG = true
run seed: export LOG_FORMAT ?= console
seed: migrate ## Demo data (40 orders, user admin/admin) on an empty database
	$(PY) manage.py seed_demo --orders 40 --if-empty --admin

run: seed ## The embedded default on http://127.0.0.1:PORT/admin/ (SQLite, no services)
	@echo "Back office on http://127.0.0.1:$(PORT)/admin/ (user admin, password admin)"
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# The gates: style, migrations in step with the models, the OpenAPI schema without a warning, and the
# import contracts (pyproject.toml). The Django checks run on the embedded default: no service needed.
lint: install ## ruff, makemigrations --check, the OpenAPI schema, the import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	env -u DATABASE_URL -u READ_DATABASE_URL $(PY) manage.py makemigrations --check --dry-run
	env -u DATABASE_URL -u READ_DATABASE_URL $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(VENV)/bin/lint-imports

typecheck: install ## mypy (strict on the write side)
	$(VENV)/bin/mypy .

# Debian's Chromium and ChromeDriver for the real-browser test (no browser download of its own).
screenshots: install browser-deps ## The README's pictures of the admin (docs/images), from make run's demo data
	env -u DATABASE_URL -u READ_DATABASE_URL -u CELERY_BROKER_URL $(PY) -m tests.screenshots

browser-deps: ## Debian's Chromium and ChromeDriver for the browser test
	@command -v chromedriver >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

# The unit tests alone, in seconds: fakes, no PostgreSQL, Redis or broker (none is configured).
test-unit: install ## The unit tests (seconds, no services)
	env -u DATABASE_URL -u CELERY_BROKER_URL -u READ_DATABASE_URL -u CACHE_URL $(PY) -m pytest tests/unit $(PYTEST_ARGS)

pytest: install browser-deps ## The suite on PostgreSQL and Redis (the machine's defaults)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m pytest -m "not embedded" $(PYTEST_ARGS)

# The embedded default gets its own run: SQLite, no broker.
test-embedded: install ## The embedded default's tests (SQLite, no broker)
	env -u DATABASE_URL -u CELERY_BROKER_URL -u READ_DATABASE_URL $(PY) -m pytest -m embedded $(PYTEST_ARGS)

# The real-worker projection tests once more with RabbitMQ as the broker.
test-rabbitmq: install ## The real-worker tests with RabbitMQ as the broker
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$(TEST_AMQP_URL) \
		$(PY) -m pytest -m worker $(PYTEST_ARGS)

# The read side's tests once more with read models in a second PostgreSQL database.
test-two-databases: install ## The read side's tests with read models in a second database
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} READ_DATABASE_URL=$(TEST_READ_DATABASE_URL) \
		CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m pytest tests/integration tests/e2e -m "not embedded and not browser and not one_database and not soak" $(PYTEST_ARGS)

# The model-based test (tests/integration/test_model.py) at length: Hypothesis' long profile
# (200 runs of 50 steps; `make test` runs its short "ci" profile). docs/reliability.md has the last result.
test-model: install ## The model-based test's long profile (minutes; HYPOTHESIS_PROFILE=long)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/integration/test_model.py --timeout 0 $(PYTEST_ARGS)

# Django's deployment checks on an environment file (the production example by default; the
# suite runs the same in tests/unit/test_production_settings.py): no warning may remain.
DEPLOY_ENV_FILE ?= .env.production.example
check-deploy: install ## Django's deployment checks on an environment file
	ENV_FILE=$(DEPLOY_ENV_FILE) $(PY) manage.py check --deploy --fail-level WARNING

# The runtime requirements alone must run the product: a virtualenv from requirements.txt only
# starts the web app and a worker (tests/runtime_check.py), so a package that only the dev tools
# pull in cannot hide.
RUNTIME_VENV := .venv-runtime
RUNTIME_STAMP := $(RUNTIME_VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
$(RUNTIME_STAMP):
	rm -rf $(RUNTIME_VENV)
	$(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install -q --upgrade pip
	$(RUNTIME_VENV)/bin/python -m pip install -q -r requirements.txt
	touch $@

check-runtime: $(RUNTIME_STAMP) ## The web app and a worker start from requirements.txt alone
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(RUNTIME_VENV)/bin/python tests/runtime_check.py

test: lint typecheck check-runtime pytest test-embedded test-rabbitmq test-two-databases ## Every gate and test run

web: migrate ## gunicorn on PORT (DATABASE_URL, CELERY_BROKER_URL from the environment)
	$(PY) manage.py collectstatic --noinput -v0
	$(VENV)/bin/gunicorn config.wsgi -c config/gunicorn.py --bind 127.0.0.1:$(PORT) --workers $${WEB_WORKERS:-3} --access-logfile -

worker: install-app ## A Celery worker (projections, fulfilment, emails)
	$(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency=$${WORKER_CONCURRENCY:-2}

beat: install-app ## Celery beat (catch-up, periodic sends)
	$(VENV)/bin/celery -A config beat --loglevel=INFO --schedule=$${TMPDIR:-/tmp}/celerybeat-schedule

# The inbound integration consumer (integration/consumer.py); exits 0 at once, saying so, when
# INTEGRATION_BROKER_URL is not set.
.PHONY: consumer
consumer: migrate ## The inbound integration consumer (payment and shipment events from RabbitMQ)
	$(PY) manage.py consume_inbound

# Web and workers share one metrics directory (prometheus_client multiprocess mode), emptied here.
METRICS_DIR ?= $(or $(PROMETHEUS_MULTIPROC_DIR),$(or $(TMPDIR),/tmp)/backoffice-metrics)
# Each Procfile entry runs under ops/keep-running, which starts it again when it exits: honcho
# alone stops the whole stack as soon as one process does.
up: migrate ## The full stack from the Procfile (honcho; a process that dies is restarted)
	$(PY) manage.py collectstatic --noinput -v0
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) PORT=$(PORT) $(VENV)/bin/honcho start

# The chaos soak (tests/soak/): `make up` on a database, Redis database and RabbitMQ vhost of its
# own, behind proxies it cuts, while it kills processes, for SOAK_MINUTES (default 10) of traffic;
# then it proves the books. The report goes to bench/results/ (JSON, and the stack's log beside it).
# `make test` runs a short one (tests/e2e/test_soak.py).
SOAK_MINUTES ?= 10
SOAK_SEED ?= 1
soak: install ## The chaos soak: faults on a schedule, then the books proven (SOAK_MINUTES, SOAK_SEED)
	mkdir -p bench/results
	$(PY) -m tests.soak.run --minutes $(SOAK_MINUTES) --seed $(SOAK_SEED) \
		--report bench/results/soak-$$(date -u +%Y%m%dT%H%M%SZ).json

# Benchmarks on their own PostgreSQL database (created if missing), never the test one.
# Arguments: BENCH_ARGS, e.g. BENCH_ARGS="--orders 200 --seconds 5 --read-orders 2000 --json".
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
BENCH_DB_NAME = $(lastword $(subst /, ,$(BENCH_DATABASE_URL)))
bench: install ## The benchmarks on their own database (BENCH_ARGS)
	$(call ensure_db,$(BENCH_DB_NAME))
	DATABASE_URL=$(BENCH_DATABASE_URL) DEBUG=false $(PY) manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DATABASE_URL) DEBUG=false CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/3} \
		$(PY) manage.py bench --fresh $(BENCH_ARGS)

# Ours vs the `eventsourcing` library on the same workload (bench/compare.py), alternating, 3 rounds.
# The peer lives in its own virtualenv, never a dependency of the product. Arguments: PEER_ARGS,
# e.g. PEER_ARGS="--orders 200 --rounds 1 --load --json".
PEER_VENV := bench/.peer-venv
PEER_STAMP := $(PEER_VENV)/.installed-$(shell sha1sum bench/peer/requirements.txt | cut -c1-12)
PEER_DBNAME ?= bench_peer
define ensure_db
	psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$(1)'" test | grep -q 1 || \
		psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE $(1)" test
endef

$(PEER_STAMP):
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install -q -r bench/peer/requirements.txt
	rm -f $(PEER_VENV)/.installed-*
	touch $@

# Both databases of a run beside the peer, ours migrated; then the environment both sides read.
define peer_databases
	$(call ensure_db,$(BENCH_DB_NAME))
	$(call ensure_db,$(PEER_DBNAME))
	DATABASE_URL=$(BENCH_DATABASE_URL) DEBUG=false $(PY) manage.py migrate --noinput -v0
endef
PEER_ENV = DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/3} \
	POSTGRES_DBNAME=$(PEER_DBNAME) POSTGRES_HOST=$${POSTGRES_HOST:-127.0.0.1} POSTGRES_USER=$${POSTGRES_USER:-postgres}

bench-peer: install $(PEER_STAMP) ## Ours vs the eventsourcing library (PEER_ARGS)
	$(peer_databases)
	$(PEER_ENV) $(PY) bench/compare.py $(PEER_ARGS)

# What each guarantee costs the writes (bench/guarantee_cost.py): the write phases with all on and
# with each switched off in turn (bench/guarantees.py: a benchmark's settings only, never the
# product's), alternating. COST_ARGS, e.g. COST_ARGS="--rounds 3 --peer" (the peer as one more variant).
bench-cost: install $(PEER_STAMP) ## What each guarantee costs the writes (COST_ARGS)
	$(peer_databases)
	$(PEER_ENV) $(PY) bench/guarantee_cost.py $(COST_ARGS)

# The workload over HTTP (bench/http_load.py) against gunicorn + a Celery worker that it starts on
# a fresh database of their own (dropped and recreated) and broker db, polls until ready, and
# stops afterwards; its logs go to bench/results/logs/. HTTP_ARGS e.g. "--orders 200 --workers 8 --json".
HTTP_DB_NAME ?= bench_http
HTTP_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/$(HTTP_DB_NAME)
HTTP_BROKER_URL ?= redis://127.0.0.1:6379/7
HTTP_PORT ?= 8765
bench-http: install ## The workload over HTTP against gunicorn and a worker (HTTP_ARGS)
	psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $(HTTP_DB_NAME) WITH (FORCE)" test
	psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $(HTTP_DB_NAME)" test
	DATABASE_URL=$(HTTP_DATABASE_URL) CELERY_BROKER_URL=$(HTTP_BROKER_URL) \
		$(PY) bench/http_load.py --start-stack --url http://127.0.0.1:$(HTTP_PORT) $(HTTP_ARGS)

# The same HTTP workload against the product and a plain DRF CRUD service (bench/crud/, its own
# Django project sharing no code with the product), alternating, each on a database of its own
# recreated every round; prints both sides and the ratio. CRUD_ARGS e.g. "--orders 1000 --rounds 3".
CRUD_DB_NAME ?= bench_crud
CRUD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/$(CRUD_DB_NAME)
bench-crud: install ## The product against a plain DRF CRUD service over HTTP (CRUD_ARGS)
	DATABASE_URL=$(HTTP_DATABASE_URL) CELERY_BROKER_URL=$(HTTP_BROKER_URL) CRUD_DATABASE_URL=$(CRUD_DATABASE_URL) \
		$(PY) bench/http_compare.py --port $(HTTP_PORT) $(CRUD_ARGS)

# What each guarantee costs over HTTP: bench-crud's comparison plus the product with each of the
# audit row, the idempotency record, telemetry and the read-your-writes wait switched off in turn
# (bench/http_compare.py --without). COST_HTTP_ARGS e.g. "--orders 1000 --rounds 3".
bench-cost-http: install ## What each guarantee costs over HTTP (COST_HTTP_ARGS)
	DATABASE_URL=$(HTTP_DATABASE_URL) CELERY_BROKER_URL=$(HTTP_BROKER_URL) CRUD_DATABASE_URL=$(CRUD_DATABASE_URL) \
		$(PY) bench/http_compare.py --port $(HTTP_PORT) --without audit,record,telemetry,read_your_writes $(COST_HTTP_ARGS)

# Every target with its newest figure and met/not met (bench/targets.py reads bench/results/).
# REPORT_ARGS e.g. "--strict" (exit 1 unless every target is met) or "--json".
bench-report: install ## Every performance target, its newest figure, met or not (REPORT_ARGS)
	$(PY) bench/targets.py $(REPORT_ARGS)

# A short run of every benchmark (minutes, figures marked "short"), then the report. The
# databases, broker db and ports are the targets' own variables.
bench-short: install ## Short runs of every benchmark, then bench-report
	$(MAKE) bench BENCH_ARGS="--orders 200 --seconds 10 --reads 1000 --read-orders 2000"
	$(MAKE) bench BENCH_ARGS="--phase rebuild_live --events 100000"
	$(MAKE) bench-peer PEER_ARGS="--orders 200 --rounds 1 --phases write,write2"
	$(MAKE) bench-crud CRUD_ARGS="--orders 100 --rounds 1 --workers 4"
	$(MAKE) bench-report

clean: ## Remove the virtualenvs, the SQLite database and collected static files
	rm -rf $(VENV) $(RUNTIME_VENV) db.sqlite3 db.sqlite3-* staticfiles
