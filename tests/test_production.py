"""Production serving (issue 5): settings from the environment, gunicorn's configuration,
health endpoints and the request log."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings

from config.log_format import JsonFormatter, TextFormatter
from schema.errors import database_failure_message
from schema.persisted_queries import CACHE_KEY_PREFIX
from tests.conftest import utc

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = "config.settings.production"
STRONG_KEY = "a-production-secret-key-that-is-long-enough-and-random-0123456789-abcdefghij"
STRONG_ID_KEY = "another-long-random-secret-for-the-ids-0123456789"
VIEWER_QUERY = {"query": "query WhoAmI { viewer { id } }", "operationName": "WhoAmI"}
HOME_SCREEN = (ROOT / "tests" / "operations" / "home_screen.graphql").read_text()
CACHE_REDIS_URL = "redis://127.0.0.1:6379/15"


def django_process(code: str, settings_module: str = PRODUCTION, **env: str) -> subprocess.CompletedProcess:
    """Run `code` after django.setup() in a fresh process with only `env` (and PATH) set."""
    environment = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": settings_module, **env}
    script = f"import django\ndjango.setup()\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def request_with_database_down(client_call: str) -> tuple[int, dict]:
    """(status, JSON body) of `Client().<client_call>` in a process whose PostgreSQL is unreachable."""
    result = django_process(
        f"from django.test import Client\nr = Client().{client_call}\nprint(r.status_code, r.content.decode())",
        settings_module="config.settings.test",
        DATABASE_URL="postgres://root@127.0.0.1:1/nowhere",
    )
    assert result.returncode == 0, result.stderr
    status, _, body = result.stdout.strip().splitlines()[-1].partition(" ")
    return int(status), json.loads(body)


def settings_in(names: list[str], **env: str) -> dict:
    code = (
        "import json\nfrom django.conf import settings\n"
        f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}, default=str))"
    )
    result = django_process(code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


class TestProductionSettings:
    def test_missing_secret_key_is_a_clear_start_up_error(self):
        result = django_process("", ALLOWED_HOSTS="example.com")
        assert result.returncode != 0
        assert "ImproperlyConfigured: Set the SECRET_KEY environment variable" in result.stderr

    def test_missing_allowed_hosts_is_a_clear_start_up_error(self):
        result = django_process("", SECRET_KEY=STRONG_KEY)
        assert result.returncode != 0
        assert "ImproperlyConfigured: Set ALLOWED_HOSTS" in result.stderr

    def test_check_deploy_passes(self):
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=ROOT,
            env={
                "PATH": os.environ["PATH"],
                "DJANGO_SETTINGS_MODULE": PRODUCTION,
                "SECRET_KEY": STRONG_KEY,
                "GLOBAL_ID_KEY": STRONG_ID_KEY,
                "ALLOWED_HOSTS": "calendar.example.com",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no issues" in result.stdout

    def test_check_deploy_warns_when_the_ids_key_is_secret_keys(self):
        result = django_process(
            "from django.core.management import call_command\ncall_command('check', deploy=True)",
            SECRET_KEY=STRONG_KEY,
            ALLOWED_HOSTS="calendar.example.com",
        )
        assert "calendar.W001" in result.stderr and "GLOBAL_ID_KEY is not set" in result.stderr, result.stderr

    def test_a_short_ids_key_is_a_clear_start_up_error(self):
        result = django_process("", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="example.com", GLOBAL_ID_KEY="short")
        assert result.returncode != 0
        assert "ImproperlyConfigured: GLOBAL_ID_KEY must be a random secret of at least 32 characters" in result.stderr

    def test_debug_is_off_whatever_the_environment_says(self):
        values = settings_in(["DEBUG"], SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="a.example", DEBUG="true")
        assert values["DEBUG"] is False

    def test_the_asgi_and_wsgi_entry_points_load_production_settings(self):
        for module in ("config.asgi", "config.wsgi"):
            result = subprocess.run(
                [sys.executable, "-c", f"import {module}; from django.conf import settings; print(settings.DEBUG)"],
                cwd=ROOT,
                env={"PATH": os.environ["PATH"], "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "a.example"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip() == "False", module

    def test_database_comes_from_database_url_with_persistent_checked_connections(self):
        values = settings_in(
            ["DATABASES"],
            SECRET_KEY=STRONG_KEY,
            ALLOWED_HOSTS="a.example",
            DATABASE_URL="postgres://app:pw@db.internal:6543/calendar",
        )
        database = values["DATABASES"]["default"]
        assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.internal", 6543, "calendar")
        assert database["CONN_MAX_AGE"] == 60 and database["CONN_HEALTH_CHECKS"] is True
        assert database["OPTIONS"]["options"] == "-c statement_timeout=4000"

    def test_pgbouncer_mode_drops_startup_options_and_server_side_cursors(self):
        values = settings_in(
            ["DATABASES"],
            SECRET_KEY=STRONG_KEY,
            ALLOWED_HOSTS="a.example",
            DATABASE_URL="postgres://app@pgbouncer:6432/calendar",
            DATABASE_PGBOUNCER="1",
        )
        database = values["DATABASES"]["default"]
        assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
        assert "options" not in database.get("OPTIONS", {})

    def test_sqlite_without_database_url(self):
        values = settings_in(["DATABASES"], settings_module="config.settings.dev")
        assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"

    def test_redis_url_selects_django_redis_and_the_celery_broker(self):
        values = settings_in(
            ["CACHES", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER"],
            SECRET_KEY=STRONG_KEY,
            ALLOWED_HOSTS="a.example",
            REDIS_URL="redis://cache.internal:6379/0",
        )
        cache = values["CACHES"]["default"]
        assert cache["BACKEND"] == "django_redis.cache.RedisCache"
        assert cache["LOCATION"] == "redis://cache.internal:6379/0"
        assert cache["OPTIONS"]["IGNORE_EXCEPTIONS"] is True
        assert values["CELERY_BROKER_URL"] == "redis://cache.internal:6379/0"
        assert values["CELERY_TASK_ALWAYS_EAGER"] is False

    def test_redis_cache_url_gives_the_cache_a_redis_of_its_own(self):
        values = settings_in(
            ["CACHES", "CELERY_BROKER_URL", "RATE_LIMIT_REDIS_URL"],
            SECRET_KEY=STRONG_KEY,
            ALLOWED_HOSTS="a.example",
            REDIS_URL="redis://broker.internal:6379/0",
            REDIS_CACHE_URL="redis://cache.internal:6379/0",
        )
        assert values["CACHES"]["default"]["LOCATION"] == "redis://cache.internal:6379/0"
        assert values["RATE_LIMIT_REDIS_URL"] == "redis://cache.internal:6379/0"
        assert values["CELERY_BROKER_URL"] == "redis://broker.internal:6379/0"

    def test_without_redis_url_everything_stays_in_process(self):
        values = settings_in(["CACHES", "CELERY_TASK_ALWAYS_EAGER"], settings_module="config.settings.dev")
        assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
        assert values["CELERY_TASK_ALWAYS_EAGER"] is True


def gunicorn_config(**env: str) -> dict:
    with mock.patch.dict(os.environ, env, clear=True):
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


class TestGunicornConfig:
    def test_defaults_suit_the_platform(self):
        config = gunicorn_config(PORT="5123")
        assert config["bind"] == "0.0.0.0:5123"
        assert config["worker_class"] == "asgi"
        assert config["timeout"] < 30  # under the router's 30 s
        assert config["preload_app"] is True
        assert config["reuse_port"] is True  # the kernel spreads connections across the workers
        assert config["max_requests"] > 0 and 0 < config["max_requests_jitter"] < config["max_requests"]

    def test_the_timeouts_are_in_order(self):
        """A stalled body gets the bridge's JSON 408 before gunicorn gives up on it with a
        plain-text 500; every request ends before the platform's router gives up at 30 s."""
        values = settings_in(
            ["REQUEST_BODY_TIMEOUT_SECONDS", "REQUEST_DEADLINE_SECONDS", "DATABASE_STATEMENT_TIMEOUT_MS"],
            SECRET_KEY=STRONG_KEY,
            ALLOWED_HOSTS="a.example",
        )
        assert values["REQUEST_BODY_TIMEOUT_SECONDS"] < gunicorn_config()["timeout"]
        # The deadline is checked between statements: a statement started just before it may
        # run to its own timeout, which must still end before the router's 30 s.
        assert 0 < values["REQUEST_DEADLINE_SECONDS"] + values["DATABASE_STATEMENT_TIMEOUT_MS"] / 1000 < 30

    def test_workers_follow_web_concurrency(self):
        assert gunicorn_config(WEB_CONCURRENCY="7")["workers"] == 7

    def test_workers_are_sized_from_cpus_and_memory(self):
        module = gunicorn_config()
        with (
            mock.patch.object(os, "sched_getaffinity", return_value=set(range(8))),
            mock.patch.dict(module["default_workers"].__globals__, {"memory_limit_mb": lambda: 512}),
        ):
            assert module["default_workers"]() == 2  # 512 MB / 256 MB per worker, under 8 CPUs
        with (
            mock.patch.object(os, "sched_getaffinity", return_value={0, 1}),
            mock.patch.dict(module["default_workers"].__globals__, {"memory_limit_mb": lambda: 24_000}),
        ):
            assert module["default_workers"]() == 2  # one per CPU when memory is plenty
        with (
            mock.patch.object(os, "sched_getaffinity", return_value={0}),
            mock.patch.dict(module["default_workers"].__globals__, {"memory_limit_mb": lambda: 100}),
        ):
            assert module["default_workers"]() == 1  # never none


@pytest.mark.django_db
class TestHealth:
    def test_healthz_answers_without_touching_the_database(self, django_assert_num_queries):
        with django_assert_num_queries(0):
            response = Client().get("/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}

    def test_readyz_checks_the_database(self):
        response = Client().get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"]["database"]["ok"] is True
        assert "redis" not in response.json()["checks"]  # no REDIS_URL, no Redis to check

    @override_settings(REDIS_URL="redis://127.0.0.1:6379/15", REDIS_CACHE_URL="redis://127.0.0.1:6379/15")
    def test_readyz_checks_redis_when_configured(self):
        response = Client().get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"]["redis"]["ok"] is True
        assert "redis_cache" not in response.json()["checks"]  # the same Redis: checked once

    @override_settings(REDIS_URL="redis://127.0.0.1:6379/15", REDIS_CACHE_URL="redis://127.0.0.1:1/0")
    def test_readyz_checks_the_caches_own_redis_too(self):
        response = Client().get("/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["redis"]["ok"] is True and checks["redis_cache"]["ok"] is False

    @override_settings(REDIS_URL="redis://127.0.0.1:1/0", REDIS_CACHE_URL="redis://127.0.0.1:1/0")
    def test_readyz_is_503_when_redis_is_unreachable(self):
        response = Client().get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["redis"]["ok"] is False and body["checks"]["database"]["ok"] is True

    def test_readyz_is_503_when_the_database_is_unreachable(self):
        status, body = request_with_database_down("get('/readyz')")
        assert status == 503
        assert body["checks"]["database"] == {"ok": False, "error": "OperationalError", "ms": mock.ANY}

    def test_health_endpoints_refuse_writes(self):
        assert Client().post("/healthz").status_code == 405


def request_log_records(caplog) -> list[dict]:
    return [record.fields for record in caplog.records if record.name == "calendar.request"]


@pytest.mark.django_db
class TestRequestLog:
    def test_one_line_per_request_with_its_measures(self, caplog, world):
        token = world.token(world.user("ada"))
        with caplog.at_level(logging.INFO, logger="calendar.request"):
            response = Client().post(
                "/graphql", VIEWER_QUERY, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
        [line] = request_log_records(caplog)
        assert line["method"] == "POST" and line["path"] == "/graphql" and line["status"] == 200
        assert line["operations"] == ["WhoAmI"]
        assert line["sql_count"] >= 1 and line["sql_ms"] >= 0 and line["duration_ms"] > 0
        assert line["rss_kb"] > 0 and isinstance(line["rss_growth_kb"], int)
        assert response["X-Request-ID"] == line["request_id"]
        assert "slowest_sql" not in line

    def test_a_well_formed_incoming_request_id_is_kept(self, caplog):
        with caplog.at_level(logging.INFO, logger="calendar.request"):
            response = Client().get("/healthz", HTTP_X_REQUEST_ID="router-id-12345678")
        assert response["X-Request-ID"] == "router-id-12345678"
        assert request_log_records(caplog)[0]["request_id"] == "router-id-12345678"

    def test_a_malformed_incoming_request_id_is_replaced(self):
        response = Client().get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
        assert len(response["X-Request-ID"]) == 32 and response["X-Request-ID"].isalnum()

    @override_settings(REQUEST_LOG_SLOW_MS=0)
    def test_a_slow_request_lists_its_slowest_statements(self, caplog, world):
        token = world.token(world.user("ada"))
        with caplog.at_level(logging.INFO, logger="calendar.request"):
            Client().post(
                "/graphql", VIEWER_QUERY, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
        [line] = request_log_records(caplog)
        assert 1 <= len(line["slowest_sql"]) <= 5
        assert all(set(statement) == {"ms", "sql"} for statement in line["slowest_sql"])
        durations = [statement["ms"] for statement in line["slowest_sql"]]
        assert durations == sorted(durations, reverse=True)

    def test_batches_log_every_operation_name(self, caplog):
        batch = [VIEWER_QUERY, {"query": "query Second { viewer { id } }"}]
        with caplog.at_level(logging.INFO, logger="calendar.request"):
            Client().post("/graphql", batch, content_type="application/json")
        assert request_log_records(caplog)[0]["operations"] == ["WhoAmI", "Second"]


class TestLogFormats:
    def record(self) -> logging.LogRecord:
        record = logging.LogRecord("calendar.request", logging.INFO, __file__, 1, "GET %s %s", ("/healthz", 200), None)
        record.fields = {
            "request_id": "abc",
            "operations": ["HomeScreen", None],
            "duration_ms": 12.5,
            "sql_count": 5,
            "sql_ms": 3.25,
            "rss_kb": 71188,
            "rss_growth_kb": 12,
            "slowest_sql": [{"ms": 2.0, "sql": "SELECT 1"}],
        }
        return record

    def test_json_lines_carry_every_field(self):
        line = json.loads(JsonFormatter().format(self.record()))
        assert line["message"] == "GET /healthz 200" and line["level"] == "INFO"
        assert line["sql_count"] == 5 and line["operations"] == ["HomeScreen", None] and line["time"].endswith("+00:00")

    def test_djangos_own_records_format_too(self):
        """django.request puts the request object in its records' `request` attribute."""
        record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/x",), None)
        record.request, record.status_code = object(), 404
        assert json.loads(JsonFormatter().format(record))["message"] == "Not Found: /x"
        assert TextFormatter().format(record).endswith("django.request: Not Found: /x")

    def test_text_lines_read_as_a_sentence(self):
        text = TextFormatter().format(self.record())
        assert "GET /healthz 200 [HomeScreen,anonymous] 12.5 ms, 5 SQL in 3.25 ms, RSS 71,188 kB (+12) id=abc" in text
        assert "2.0 ms: SELECT 1" in text


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_postgresql_connections_carry_the_statement_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == f"{settings.DATABASE_STATEMENT_TIMEOUT_MS // 1000}s" == "4s"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_statement_over_the_timeout_is_a_clear_error_not_a_500(gql, world):
    token = world.token(world.user("ada"))

    def slow_event_statements(execute, sql, params, many, context):
        if "calendarapp_event" in sql:
            sql = "SELECT pg_sleep(1); " + sql
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 200")
    try:
        with connection.execute_wrapper(slow_event_statements):
            answer = gql('query { viewer { username eventCount(date: "2026-11-23") } }', token=token)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {settings.DATABASE_STATEMENT_TIMEOUT_MS}")
    assert answer.status == 200
    assert answer.data == {"viewer": None}
    [error] = answer.errors
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["message"] == (
        "The database took too long to answer and the operation was cancelled (statement timeout)."
    )


def test_the_database_unreachable_is_a_503_with_a_code_not_a_500_page():
    status, body = request_with_database_down(
        "post('/graphql', {'query': '{ viewer { id } }'}, content_type='application/json',"
        " HTTP_AUTHORIZATION='Bearer some-token')"
    )
    assert status == 503
    assert body == {
        "errors": [
            {
                "message": "The database is unavailable; try again shortly.",
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ]
    }


@pytest.fixture
def production_cache():
    """The cache as production configures it (django-redis on a real Redis), emptied around the test."""
    client = redis.Redis.from_url(CACHE_REDIS_URL)
    client.flushdb()
    backend = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "OPTIONS": {"IGNORE_EXCEPTIONS": True},
    }
    with override_settings(CACHES={"default": backend}):
        yield client
    client.flushdb()


@pytest.mark.django_db
class TestCacheNeverHidesChanges:
    """The home screen sent by its persisted-query hash (its document cached in Redis and in
    the process) always answers from the database as it is now."""

    def home_screen_by_hash(self, gql, token: str, with_query: bool = False) -> dict:
        sha = hashlib.sha256(HOME_SCREEN.encode()).hexdigest()
        operation = {
            "variables": {"date": "2026-11-23"},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}},
        }
        if with_query:
            operation["query"] = HOME_SCREEN
        return gql.post(operation, token=token).ok()["viewer"]["friends"]

    def test_a_new_friend_and_a_changed_event_show_at_once(self, gql, world, production_cache):
        viewer, ada = world.user("viewer"), world.user("ada")
        token = world.token(viewer)
        world.befriend(viewer, ada)
        lunch = world.event(ada, utc(2026, 11, 23, 12), title="Lunch")
        first = self.home_screen_by_hash(gql, token, with_query=True)
        assert [edge["node"]["displayName"] for edge in first["edges"]] == ["Ada"]

        bob = world.user("bob")
        world.befriend(viewer, bob)
        world.event(bob, utc(2026, 11, 23, 9), title="Standup")
        gql(
            "mutation($input: UpdateEventInput!) { updateEvent(input: $input) { event { id } } }",
            {"input": {"id": world.id(lunch), "title": "Long lunch"}},
            token=world.token(ada),
        ).ok()

        second = self.home_screen_by_hash(gql, token)
        assert second["totalCount"] == 2
        titles = {
            edge["node"]["displayName"]: [event["node"]["title"] for event in edge["node"]["events"]["edges"]]
            for edge in second["edges"]
        }
        assert titles == {"Ada": ["Long lunch"], "Bob": ["Standup"]}

    def test_redis_holds_persisted_query_texts_only(self, gql, world, production_cache):
        viewer = world.user("viewer")
        self.home_screen_by_hash(gql, world.token(viewer), with_query=True)
        keys = [key.decode() for key in production_cache.keys("*")]
        assert keys and all(CACHE_KEY_PREFIX in key for key in keys)


def test_graphiql_assets_have_hashed_names_and_a_ten_year_cache_lifetime(tmp_path):
    environment = {"SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "testserver", "STATIC_ROOT": str(tmp_path)}
    collected = django_process(
        "from django.core.management import call_command\n"
        "call_command('collectstatic', interactive=False, verbosity=0)",
        **environment,
    )
    assert collected.returncode == 0, collected.stderr
    served = django_process(
        "import json, re\nfrom django.test import Client\nclient = Client()\n"
        "page = client.get('/graphql', HTTP_ACCEPT='text/html', secure=True)\n"
        'urls = re.findall(r\'(?:src|href)="(/static/[^"]+)"\', page.content.decode())\n'
        "assets = {url: client.get(url, secure=True) for url in urls}\n"
        "print(json.dumps({url: [r.status_code, r.headers.get('Cache-Control')] for url, r in assets.items()}))",
        **environment,
    )
    assert served.returncode == 0, served.stderr
    assets = json.loads(served.stdout.strip().splitlines()[-1])
    assert len(assets) == 4  # GraphiQL's CSS, React, ReactDOM and GraphiQL itself
    for url, (status, cache_control) in assets.items():
        assert re.search(r"\.[0-9a-f]{12}\.(js|css)$", url), url
        assert status == 200 and "max-age=315360000" in cache_control and "immutable" in cache_control


def django_error_from(driver_error: Exception | None, message: str, kind=None) -> Exception:
    """A Django database error as Django's wrapper raises it: the driver's error as its cause."""
    from django.db import OperationalError

    error = (kind or OperationalError)(message)
    error.__cause__ = driver_error
    return error


class TestDatabaseFailureMessages:
    UNAVAILABLE = "The database is unavailable; try again shortly."

    def test_a_lost_or_refused_postgresql_connection_is_unavailable(self):
        import psycopg2

        lost = django_error_from(psycopg2.OperationalError("server closed the connection unexpectedly"), "closed")
        assert database_failure_message(lost) == self.UNAVAILABLE

    def test_a_closed_connection_and_a_locked_sqlite_are_unavailable(self):
        from django.db import InterfaceError

        assert database_failure_message(django_error_from(None, "connection already closed", InterfaceError)) == (
            self.UNAVAILABLE
        )
        assert database_failure_message(django_error_from(None, "database is locked")) == self.UNAVAILABLE

    def test_other_operational_errors_are_bugs_not_outages(self):
        assert database_failure_message(django_error_from(None, "LIKE or GLOB pattern too complex")) is None
        assert database_failure_message(ValueError("not a database error")) is None


@pytest.mark.django_db
def test_a_connection_lost_mid_request_answers_every_field_clearly_and_logs_once(gql, world, caplog):
    """The database going away between two batches of one home screen (measured with a
    PostgreSQL restart: every friend's events field reported "The future is still pending."
    and logged a traceback each, 905 of them)."""
    import psycopg2
    from django.db import OperationalError

    viewer = world.user("viewer")
    for name in ("ada", "bob", "cy"):
        friend = world.user(name)
        world.befriend(viewer, friend)
        world.event(friend, utc(2026, 11, 23, 9))
    token = world.token(viewer)

    def connection_lost_at_rsvps(execute, sql, params, many, context):
        # After the events' page, at the batch of attendeeCount / viewerRsvp (leaf fields).
        if "calendarapp_rsvp" in sql:
            error = OperationalError("server closed the connection unexpectedly")
            error.__cause__ = psycopg2.OperationalError("server closed the connection unexpectedly")
            raise error
        return execute(sql, params, many, context)

    with (
        caplog.at_level(logging.WARNING, logger="calendar.errors"),
        connection.execute_wrapper(connection_lost_at_rsvps),
    ):
        answer = gql(HOME_SCREEN, {"date": "2026-11-23"}, token=token)
    assert answer.status == 200 and answer.errors
    assert {error["message"] for error in answer.errors} == {"The database is unavailable; try again shortly."}
    assert {error["extensions"]["code"] for error in answer.errors} == {"INTERNAL_SERVER_ERROR"}
    logged = [record for record in caplog.records if record.name == "calendar.errors"]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING


def test_a_database_lost_as_a_mutation_commits_is_a_503_with_a_code_not_a_500(
    transactional_db, gql, world, monkeypatch
):
    """PostgreSQL shutting down while a mutation's transaction commits (scripts/fault_check.py
    met it once): the error escapes every field, so the operation answers it."""
    import psycopg2
    from django.db.backends.base.base import BaseDatabaseWrapper

    def lost(self):
        raise django_error_from(psycopg2.OperationalError("server closed the connection unexpectedly"), "lost")

    token = world.token(world.user("ada"))
    with monkeypatch.context() as patched:
        patched.setattr(BaseDatabaseWrapper, "commit", lost)
        answer = gql(
            'mutation { createEvent(input: {title: "Lunch", startsAt: "2026-11-23T12:00:00Z", '
            'endsAt: "2026-11-23T13:00:00Z"}) { event { id } } }',
            token=token,
        )
    assert answer.status == 503
    assert answer.body == {
        "errors": [
            {
                "message": "The database is unavailable; try again shortly.",
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ]
    }
