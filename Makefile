# Everyday commands. On a fresh machine `make serve` and `make test` set everything up first.
#
#   make serve [PORT=8000]     demo server on http://127.0.0.1:8000/graphql (user power, password demo); prints
#                              a token, GraphiQL opens on the home screen with it; the demo data is seeded the
#                              first time and kept after (RESEED=1 seeds it again, with FRIENDS=50 friends)
#   make test [ARGS="-k x"]    the whole suite on SQLite, then on PostgreSQL
#   make differential          the differential suite alone (both execution paths compared), SQLite then PostgreSQL
#   make lint                  ruff check + ruff format --check, mypy, makemigrations --check
#   make update-snapshots      rewrite the committed query-count snapshots (SQLite and PostgreSQL)
#   make schema                rewrite schema.graphql, the committed SDL, from the schema (commit its diff)
#   make bench                 the benchmarks (PostgreSQL), then docs/benchmarks.md, .png and the README's figures
#   make bench-ci              the small bench CI runs: asserts SQL counts and answers, never times
#   make load                  sustained load on the web process (PostgreSQL, Redis), then docs/load.md
#   make load-ci               the short sustained load CI runs: fails on an error or a login flood that slows the reader
#   make faults                faults under load (restarts PostgreSQL and Redis!), then docs/faults.md
#   make faults-ci             the same faults with less data, as CI runs them: fails on a lost write
#   make clean                 remove the SQLite database, collected static files and caches

SHELL := /bin/bash

VENV    ?= .venv
FRIENDS ?= 50
RESEED  ?=
PORT    ?= 8000
PG_URL  ?= postgres://root@127.0.0.1:5432/test
ARGS    ?=
# The benchmarks' own database (created when missing, reseeded at every size), and more
# arguments for `python -m bench`, e.g. make bench BENCH_ARGS="--sizes 10,100 --repeats 10",
# and for `python -m bench.http_load`, e.g. BENCH_HTTP_ARGS="--rounds 1 --soak-requests 1000".
BENCH_URL  ?= postgres://root@127.0.0.1:5432/calendar_bench
BENCH_HTTP_URL ?= postgres://root@127.0.0.1:5432/calendar_bench_http
BENCH_EXPORT_URL ?= postgres://root@127.0.0.1:5432/calendar_bench_export
FAULTS_URL ?= postgres://root@127.0.0.1:5432/calendar_bench_faults
BENCH_ARGS ?=
BENCH_HTTP_ARGS ?=
# The sustained-load bench's own database (reseeded at every run) and Redis database.
LOAD_URL ?= postgres://root@127.0.0.1:5432/calendar_bench_load
LOAD_REDIS_URL ?= redis://127.0.0.1:6379/10

PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# wrk, the HTTP load generator of the HTTP benchmarks: the installed one, else where apt puts it.
WRK   := $(or $(shell command -v wrk),/usr/bin/wrk)

# Recipes start from the embedded defaults (manage.py's dev settings, pytest's test settings,
# SQLite) whatever the calling shell exports; the PostgreSQL runs set DATABASE_URL themselves.
unexport DATABASE_URL DJANGO_SETTINGS_MODULE

.DEFAULT_GOAL := help
.PHONY: help venv services serve test differential lint update-snapshots schema bench bench-ci faults faults-ci load load-ci clean

# help: list the targets (the comment block at the top of this file).
help:
	@sed -n '1,/^$$/s/^#   //p' $(firstword $(MAKEFILE_LIST))

# The virtualenv itself: Python 3.11 when the machine has it, else the default python3.
$(PY):
	python3.11 -m venv $(VENV) || { rm -rf $(VENV); python3 -m venv $(VENV); }

# The dependencies, installed again only when a requirements file changed since last time.
$(STAMP): $(wildcard requirements*.txt) | $(PY)
	$(PY) -m pip install --quiet --progress-bar off -r requirements-dev.txt
	touch $@

# venv: create the virtualenv and install requirements-dev.txt.
venv: $(STAMP)

# services: start (or install, as root) PostgreSQL, Redis and Chromium when missing.
services:
	@scripts/ensure_services.sh

# serve: migrate the SQLite database, seed the demo data unless user power exists (RESEED=1
# deletes it and seeds again), print a new token for power and run the development server,
# whose GraphiQL opens on the home screen with that token in its Headers tab (DEBUG only).
serve: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --friends $(FRIENDS) $(if $(RESEED),--reset,--if-missing)
	@token=$$($(PY) manage.py demo_token) || exit 1; \
	echo; \
	echo "GraphiQL: http://127.0.0.1:$(PORT)/graphql opens on the home screen as power, with this token:"; \
	echo "  Authorization: Bearer $$token"; \
	echo; \
	GRAPHIQL_TOKEN=$$token exec $(PY) manage.py runserver 127.0.0.1:$(PORT)

# run_pytest(label, environment): one pytest run with $(PYTEST_ARGS), inside a recipe that
# started with `status=0`; records a failure in status, and counts "no tests collected"
# (exit 5) as one, so a wrong path or -k never passes silently.
define run_pytest
echo "==> pytest on $(1)"; \
$(2) $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
if [ $$rc -eq 5 ]; then echo "ERROR: pytest on $(1) collected no tests (exit 5)" >&2; status=1; \
elif [ $$rc -ne 0 ]; then echo "ERROR: pytest on $(1) failed (exit $$rc)" >&2; status=1; fi
endef

# test: the whole suite twice, SQLite first then PostgreSQL ($(PG_URL)); both always run,
# and the target fails if either does. Extra pytest arguments: make test ARGS="-k friends".
test: PYTEST_ARGS = $(ARGS)
test: $(STAMP) services
	@status=0; \
	$(call run_pytest,SQLite,env -u DATABASE_URL); \
	$(call run_pytest,PostgreSQL,DATABASE_URL='$(PG_URL)'); \
	exit $$status

# differential: tests/test_differential.py alone on both databases; a longer run:
# make differential DIFFERENTIAL_EXAMPLES=5000 (DIFFERENTIAL_SEED=n for other examples).
differential: PYTEST_ARGS = tests/test_differential.py $(ARGS)
differential: $(STAMP) services
	@status=0; \
	$(call run_pytest,SQLite,env -u DATABASE_URL); \
	$(call run_pytest,PostgreSQL,DATABASE_URL='$(PG_URL)'); \
	exit $$status

# update-snapshots: rewrite tests/snapshots from the query-count test, on both databases.
update-snapshots: PYTEST_ARGS = tests/test_query_counts.py --update-snapshots $(ARGS)
update-snapshots: $(STAMP) services
	@status=0; \
	$(call run_pytest,SQLite,env -u DATABASE_URL); \
	$(call run_pytest,PostgreSQL,DATABASE_URL='$(PG_URL)'); \
	exit $$status

# schema: rewrite schema.graphql from the graphene schema (tests/test_schema_file.py fails until
# the file and the schema agree; reviewers read API changes in its diff).
schema: $(STAMP)
	$(PY) manage.py schema_sdl

# lint: ruff's checks and formatting, mypy over loaders/ and schema/ (pyproject.toml), and
# models that need no migration; each reported even when one before it fails.
lint: $(STAMP)
	@status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/ruff format --check . || status=1; \
	$(VENV)/bin/mypy || status=1; \
	$(PY) manage.py makemigrations --check --dry-run || status=1; \
	exit $$status

# The benchmarks' extra dependency (matplotlib, for the chart), installed again only when
# requirements-bench.txt or requirements.txt changed since last time.
$(BENCH_STAMP): requirements-bench.txt requirements.txt | $(STAMP)
	$(PY) -m pip install --quiet --progress-bar off -r requirements-bench.txt
	touch $@

# wrk from Debian's packages when it is missing (only root can install it).
$(WRK):
	@[ "$$(id -u)" -eq 0 ] || { echo "wrk is missing: sudo apt-get install -y wrk" >&2; exit 1; }
	apt-get update -qq && apt-get install -y -qq wrk >/dev/null

# bench: the in-process bench at 10 to 5,000 friends (ours, the naive baseline and the
# one-statement floor, then delta sync; bench-output/inprocess.json), the Procfile's web process
# under wrk against the floor's HTTP endpoint (bench/urls.py) at 100 and 1,000 friends with a
# 10,000-request memory soak (http.json), a profile of the home screen at 1,000 friends
# (profile.json), the fixed cost of a request (fixed_cost.json), the home screen at 100 friends with
# OpenTelemetry's tracing off and on (tracing_overhead.json), and with the Prometheus metrics'
# hooks recording and as no-ops (metrics_cost.json), a CSV export of 1,000 and
# 100,000 events through a real worker (export_memory.json: its peak memory), then the report:
# docs/benchmarks.md and .png, and the README's headline figures, against issue 12's "before"
# (bench/baseline-issue12.json; `python -m bench.baseline` after a run makes that run the before).
bench: $(BENCH_STAMP) services $(WRK)
	$(PY) -m bench --database-url '$(BENCH_URL)' $(BENCH_ARGS)
	$(PY) -m bench.http_load --database-url '$(BENCH_HTTP_URL)' $(BENCH_HTTP_ARGS)
	$(PY) -m bench.profile --database-url '$(BENCH_URL)'
	$(PY) -m bench.fixed_cost --database-url '$(BENCH_URL)'
	$(PY) -m bench.tracing_overhead --database-url '$(BENCH_URL)'
	$(PY) -m bench.metrics_cost --database-url '$(BENCH_URL)'
	$(PY) -m bench.export_memory --database-url '$(BENCH_EXPORT_URL)'
	$(PY) -m bench.report

# bench-ci: the bench at 10 and 100 friends with few requests, as CI runs it: fails on an SQL
# count or an answer that differs from ours, never on a time; then an export of 1,000 and
# 20,000 events through a real worker, failing if its peak memory grows with the events.
bench-ci: $(STAMP) services
	$(PY) -m bench --ci --database-url '$(BENCH_URL)'
	$(PY) -m bench.export_memory --ci --database-url '$(BENCH_EXPORT_URL)'

# load: the home screen by its persisted-query hash against the Procfile's web process with
# PostgreSQL and Redis: a third of the measured capacity at a fixed rate (open loop) for 300 s,
# then capacity (wrk) for 120 s, worker memory sampled throughout, then login floods of 4 and
# 16 connections while one client reads the home screen; writes docs/load.md.
load: $(STAMP) services $(WRK)
	$(PY) -m bench.sustained_load --database-url '$(LOAD_URL)' --redis-url '$(LOAD_REDIS_URL)'

# load-ci: the same, short (3 requests/s for 30 s, 15 s at capacity, 12 s floods), as CI runs it:
# fails on an error at the fixed rate, a flood that doubles the reader's p90 or gets no
# RATE_LIMITED within 5 s, or a failed setup; never on another time or memory figure.
load-ci: $(STAMP) services $(WRK)
	$(PY) -m bench.sustained_load --ci --database-url '$(LOAD_URL)' --redis-url '$(LOAD_REDIS_URL)'

# faults: the Procfile's web and worker processes under load while PostgreSQL restarts, Redis
# stops, and Celery and gunicorn workers are killed (scripts/fault_check.py): failed requests,
# recovery times and acknowledged writes lost, in docs/faults.md. It restarts this machine's
# PostgreSQL and Redis: run it when nothing else is using them.
faults: $(STAMP) services
	$(PY) -m scripts.fault_check --database-url '$(FAULTS_URL)'

# faults-ci: the same faults with less data and shorter phases; fails when an acknowledged
# write is lost, an export never finishes or the server does not recover by itself.
faults-ci: $(STAMP) services
	$(PY) -m scripts.fault_check --ci --database-url '$(FAULTS_URL)'

# clean: remove generated files; the virtualenv stays (rm -rf .venv to rebuild it).
clean:
	rm -f db.sqlite3 db.sqlite3-journal
	rm -rf staticfiles .pytest_cache .ruff_cache .mypy_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
