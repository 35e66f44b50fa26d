"""Traces (config/tracing.py): the spans of a request, an operation, its loader batches and its
SQL statements, read back from the SDK's in-memory exporter; Celery tasks through a real
worker and the Procfile's web process, exporting over OTLP/HTTP to a local receiver; and
nothing at all installed when no endpoint is set."""

from __future__ import annotations

import json
import sqlite3
import urllib.request

import psycopg2
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bench.harness import django_env, web_server
from bench.otlp_sink import OtlpSink
from calendarapp.models import AuthToken, User
from calendarapp.tasks import sweep_auth_tokens
from config import tracing
from loaders.users import FriendsByUserIdLoader
from tests import celery_worker
from tests.celery_worker import REDIS_URL, database_url_for_workers, start_worker
from tests.test_query_counts import DAY, OPERATIONS_DIR, seed

HOME_SCREEN = (OPERATIONS_DIR / "home_screen.graphql").read_text()
REQUEST_ID = "trace-test-request-0001"
OTEL_MIDDLEWARE = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
# The home screen's loader batches, one each (the viewer's permission to list friends, the
# friends' page, their events, and each event's RSVP summary, loaded by the attendee counts'
# batch and read from its cache by the viewer's RSVPs').
HOME_SCREEN_BATCHES = [
    "loader AttendeeCountByEventIdLoader",
    "loader EventsByOwnerIdLoader",
    "loader FriendsByUserIdLoader",
    "loader IsFriendByUserIdLoader",
    "loader RsvpSummaryByEventIdLoader",
    "loader ViewerRsvpByEventIdLoader",
]


@pytest.fixture
def spans():
    """Tracing installed through config/tracing.py, into the SDK's in-memory exporter."""
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.uninstall()


@pytest.fixture
def power(db) -> tuple[User, str]:
    return seed(friends=3)


def post(query: str, variables: dict | None = None, token: str | None = None, **headers: str):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables or {}})
    return Client().post("/graphql", body, content_type="application/json", **headers)


def by_name(finished: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [span for span in finished if span.name.startswith(prefix)]


def sql_spans(finished: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [span for span in finished if span.attributes.get("db.system") in ("postgresql", "sqlite")]


def descends_from(span: ReadableSpan, ancestor: ReadableSpan, finished: tuple[ReadableSpan, ...]) -> bool:
    parents = {each.context.span_id: each for each in finished}
    while span.parent is not None:
        if span.parent.span_id == ancestor.context.span_id:
            return True
        span = parents.get(span.parent.span_id)
        if span is None:
            return False
    return False


@pytest.mark.parametrize("compiled_plans", [True, False], ids=["compiled-plan", "graphql-core"])
def test_home_screen_is_a_request_span_an_operation_span_a_span_per_batch_and_per_statement(
    power, spans, compiled_plans, no_prepared_documents
):
    _, token = power
    with override_settings(GRAPHQL_COMPILED_PLANS=compiled_plans):
        response = post(HOME_SCREEN, {"date": DAY}, token, HTTP_X_REQUEST_ID=REQUEST_ID)
    assert response.status_code == 200 and "errors" not in response.json()
    finished = spans.get_finished_spans()

    [request] = [span for span in finished if span.kind == SpanKind.SERVER]
    assert request.parent is None and request.name == "POST graphql"
    [operation] = by_name(finished, "graphql")
    assert operation.name == "graphql HomeScreen"
    assert operation.parent.span_id == request.context.span_id
    assert operation.attributes["graphql.operation.name"] == "HomeScreen"
    assert operation.attributes["calendar.document_cache"] == "miss"
    assert "calendar.error_codes" not in operation.attributes

    batches = by_name(finished, "loader ")
    assert sorted(span.name for span in batches) == HOME_SCREEN_BATCHES
    assert all(descends_from(batch, operation, finished) for batch in batches)
    batch = {span.name.removeprefix("loader "): span for span in batches}
    assert batch["FriendsByUserIdLoader"].attributes["calendar.loader.keys"] == 1
    assert batch["FriendsByUserIdLoader"].attributes["calendar.loader.rows"] == 3  # seeded: 3 friends
    assert batch["EventsByOwnerIdLoader"].attributes["calendar.loader.keys"] == 3
    assert descends_from(batch["RsvpSummaryByEventIdLoader"], batch["AttendeeCountByEventIdLoader"], finished)

    statements = [span for span in sql_spans(finished) if descends_from(span, operation, finished)]
    assert len(statements) == operation.attributes["calendar.sql.count"] == 3
    # The token's lookup is the request's, before the operation.
    assert len(sql_spans(finished)) == 4
    assert {span.attributes["calendar.request_id"] for span in finished} == {response["X-Request-ID"]}
    assert {span.context.trace_id for span in finished} == {request.context.trace_id}


def test_a_document_found_in_the_cache_is_a_hit(power, spans, no_prepared_documents):
    _, token = power
    post(HOME_SCREEN, {"date": DAY}, token)
    post(HOME_SCREEN, {"date": DAY}, token)
    caches = [span.attributes["calendar.document_cache"] for span in by_name(spans.get_finished_spans(), "graphql")]
    assert caches == ["miss", "hit"]


def test_the_request_id_is_the_responses_when_the_client_sends_none(power, spans):
    _, token = power
    response = post(HOME_SCREEN, {"date": DAY}, token)
    request_ids = {span.attributes.get("calendar.request_id") for span in spans.get_finished_spans()}
    assert request_ids == {response["X-Request-ID"]}


def test_an_operations_errors_are_recorded_by_code(db, spans):
    query = 'query Forbidden { viewer { id } user(username: "nobody") { id } }'
    post(query)  # anonymous: `user` is UNAUTHENTICATED
    [operation] = by_name(spans.get_finished_spans(), "graphql")
    assert operation.name == "graphql Forbidden"
    assert operation.attributes["calendar.error_codes"] == ("UNAUTHENTICATED",)


def test_an_operation_the_server_failed_is_an_error_span_and_a_clients_mistake_is_not(power, spans, monkeypatch):
    """INTERNAL_SERVER_ERROR marks the operation span as failed (what an APM's error rate
    counts); UNAUTHENTICATED and the like are the client's, and leave its status unset."""
    _, token = power

    def failing_batch(loader, keys):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(FriendsByUserIdLoader, "batch_load", failing_batch)
    answer = post(HOME_SCREEN, {"date": DAY}, token).json()
    assert {error["extensions"]["code"] for error in answer["errors"]} == {"INTERNAL_SERVER_ERROR"}
    post('query Anonymous { user(username: "nobody") { id } }')
    failed, refused = by_name(spans.get_finished_spans(), "graphql")
    assert failed.attributes["calendar.error_codes"] == ("INTERNAL_SERVER_ERROR",)
    assert failed.status.status_code == StatusCode.ERROR
    assert refused.attributes["calendar.error_codes"] == ("UNAUTHENTICATED",)
    assert refused.status.status_code == StatusCode.UNSET


def test_an_incoming_traceparent_is_continued(power, spans):
    _, token = power
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    post(HOME_SCREEN, {"date": DAY}, token, HTTP_TRACEPARENT=f"00-{trace_id}-{parent_id}-01")
    finished = spans.get_finished_spans()
    [request] = [span for span in finished if span.kind == SpanKind.SERVER]
    assert request.parent.span_id == int(parent_id, 16) and request.parent.is_remote
    assert {span.context.trace_id for span in finished} == {int(trace_id, 16)}


def test_a_redis_command_is_traced(spans):
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert client.ping()
    finally:
        client.close()
    [command] = spans.get_finished_spans()
    assert command.name == "PING" and command.attributes["db.system"] == "redis"


@pytest.mark.django_db(transaction=True)
def test_a_celery_task_is_traced_where_it_is_published_and_where_it_runs(spans, tmp_path):
    queue = celery_worker.new_queue_name()
    with OtlpSink() as sink, celery_worker.sending_to(queue):
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        # Prefork, as the Procfile's worker: tracing is installed in the pool process.
        worker = start_worker(queue, tmp_path / "worker.log", pool="prefork", extra_env=otel)
        try:
            sweep_auth_tokens.delay()
            received = sink.wait_for(lambda spans: any(span.name.startswith("run/") for span in spans))
        finally:
            worker.kill()
            celery_worker.delete_queue(queue)
    [published] = by_name(spans.get_finished_spans(), "apply_async/")
    assert published.name == "apply_async/calendarapp.sweep_auth_tokens" and published.kind == SpanKind.PRODUCER
    [ran] = [span for span in received if span.name.startswith("run/")]
    assert ran.name == "run/calendarapp.sweep_auth_tokens" and ran.service == "calendar-worker"
    assert ran.trace_id == format(published.context.trace_id, "032x")
    assert ran.parent_span_id == format(published.context.span_id, "016x")
    # The worker's own connection, opened after tracing was installed, is traced too.
    assert any(span.parent_span_id == ran.span_id and "db.system" in span.attributes for span in received)


@pytest.mark.django_db(transaction=True)
def test_the_web_process_exports_its_spans_from_each_forked_worker(tmp_path, collected_static):
    """The Procfile's web process with preload_app: the app (and tracing) is loaded in the master,
    the spans are made and exported by a forked worker, through the asyncio bridge's threads."""
    user = User.objects.create_user(username="tracer", password="unused-password")
    token = AuthToken.issue(user)
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    with OtlpSink() as sink:
        env = {
            **django_env(database_url_for_workers()),
            "WEB_CONCURRENCY": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        with web_server(env, tmp_path / "web.log") as (url, _):
            body = json.dumps({"query": "query Me { viewer { username } }"}).encode()
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
                "traceparent": f"00-{trace_id}-b7ad6b7169203331-01",
            }
            with urllib.request.urlopen(urllib.request.Request(url, body, headers)) as response:
                assert json.load(response) == {"data": {"viewer": {"username": "tracer"}}}
                request_id = response.headers["X-Request-ID"]
            # The request span ends after the operation's and may come in a later export batch.
            received = sink.wait_for(
                lambda spans: (
                    {"graphql Me", "request"}
                    <= {"request" if span.parent_span_id == "b7ad6b7169203331" else span.name for span in spans}
                )
            )
    mine = [span for span in received if span.trace_id == trace_id]
    [request] = [span for span in mine if span.parent_span_id == "b7ad6b7169203331"]
    [operation] = [span for span in mine if span.name == "graphql Me"]
    assert operation.parent_span_id == request.span_id and request.service == "calendar-api"
    assert operation.attributes["calendar.sql.count"] == len(
        [span for span in mine if span.parent_span_id == operation.span_id and "db.system" in span.attributes]
    )
    assert {span.attributes["calendar.request_id"] for span in mine} == {request_id}


def test_an_endpoint_in_the_environment_installs_otlp_export_in_batches(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "calendar-api-staging")
    assert tracing.install_from_environment("calendar-api")
    try:
        processors = tracing._provider._active_span_processor._span_processors
        assert isinstance(processors[-1], BatchSpanProcessor)
        assert tracing._provider.resource.attributes["service.name"] == "calendar-api-staging"
        assert OTEL_MIDDLEWARE in settings.MIDDLEWARE
    finally:
        tracing.uninstall()


def test_without_an_endpoint_nothing_is_installed(monkeypatch, power):
    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not tracing.install_from_environment("calendar-api")
    assert tracing.tracer is None
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # no provider set
    assert OTEL_MIDDLEWARE not in settings.MIDDLEWARE
    assert not hasattr(psycopg2.connect, "__wrapped__") and not hasattr(sqlite3.connect, "__wrapped__")
    connection.ensure_connection()
    with connection.cursor() as cursor:  # the driver's own cursor, neither proxied nor subclassed
        assert not type(cursor.cursor).__module__.startswith("opentelemetry")

    # A loader's batch does no tracing work: the traced path would fail the request.
    def not_off(*_):
        raise AssertionError("traced while tracing is off")

    monkeypatch.setattr(tracing, "traced_batch", not_off)
    monkeypatch.setattr(tracing, "traced_operation", not_off)
    response = post(HOME_SCREEN, {"date": DAY}, power[1])
    assert response.status_code == 200 and "errors" not in response.json()
