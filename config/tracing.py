"""Traces with OpenTelemetry, exported over OTLP (HTTP/protobuf) when OTEL_EXPORTER_OTLP_ENDPOINT
(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; the other standard OTEL_* variables are the
SDK's and the exporter's own (service name, resource attributes, headers, sampler, batching).

A span for each HTTP request (opentelemetry-instrumentation-django's middleware, which continues
an incoming W3C `traceparent`), each GraphQL operation (schema/view.py: its name, SQL statement
count, document-cache hit or miss, error codes), each loader batch (loaders/base.py: the loader,
its keys, its rows), each SQL statement (the database driver's instrumentation: psycopg2, or
sqlite3 in development and tests), Celery tasks published and run, and Redis commands. Every
span of a request carries its request id (config/request_log.py) as `calendar.request_id`.

Django runs each request whole on one thread (config/asgi_bridge.py), so the request span,
started by the middleware on that thread, is the current span of everything the request does.

Off, the cost is nil: without an endpoint nothing is installed and nothing of OpenTelemetry is
imported; each hook in the request path is one test of `tracer` against None.

Installed once per process that serves: config/wsgi.py and config/asgi.py (with gunicorn's
preload_app, in the master: the batch span processor's export thread is started again in each
worker by the SDK's own fork hook), and each Celery pool process (config/celery.py). Tests
`install` a provider of their own and `uninstall` it: the global tracer provider, which can be
set only once, is never set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Tracer

    from loaders.base import DataLoader
    from schema.instrumentation import SqlRecorder
    from schema.pipeline import OperationResult

# The tracer of the installed provider; None when tracing is off (the hooks' one check).
tracer: Tracer | None = None
_provider: TracerProvider | None = None
_instrumentors: list[Any] = []

REQUEST_ID = "calendar.request_id"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configured() -> bool:
    """Whether the environment asks for traces: an OTLP endpoint, and the SDK not disabled."""
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return not disabled and any(os.environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def install_from_environment(service_name: str) -> bool:
    """Trace to the OTLP endpoint the environment names, in batches; nothing at all without
    one. `service_name` unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) names another."""
    if not configured() or tracer is not None:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    install(BatchSpanProcessor(OTLPSpanExporter()), service_name)
    return True


def install(span_processor: SpanProcessor, service_name: str = "calendar-api") -> TracerProvider:
    """Trace through `span_processor` with a provider of this module's own: instrument Django's
    request handling, the database driver, Celery and Redis, and switch the hooks on."""
    global tracer, _provider
    if tracer is not None:
        raise RuntimeError("Tracing is already installed: uninstall() it first.")
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider(resource=_resource(service_name))
    provider.add_span_processor(_request_id_processor())
    provider.add_span_processor(span_processor)
    for instrumentor in _instrumentations():
        instrumentor.instrument(tracer_provider=provider)
        _instrumentors.append(instrumentor)
    _trace_open_connections(provider)
    _provider, tracer = provider, provider.get_tracer("calendar")
    return provider


def uninstall() -> None:
    """Undo `install`: the instrumentation removed, the provider's spans flushed and its
    processors shut down. Nothing is traced afterwards."""
    global tracer, _provider
    if _provider is None:
        return
    while _instrumentors:
        _instrumentors.pop().uninstrument()
    _untrace_open_connections()
    provider, _provider, tracer = _provider, None, None
    provider.shutdown()


def flush() -> None:
    """Export the spans still queued now (a Celery pool process that exits, the bench)."""
    if _provider is not None:
        _provider.force_flush()


def _resource(service_name: str):
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, if set
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    return resource


def _instrumentations() -> list[Any]:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    # Django's first: its middleware goes first, so the request span covers all the rest.
    return [DjangoInstrumentor(), CeleryInstrumentor(), RedisInstrumentor(), *_database_drivers()]


def _database_drivers() -> list[Any]:
    """The instrumentation of each database driver the settings use."""
    from django.db import connections

    vendors = {connections[alias].vendor for alias in connections}
    drivers = []
    if "postgresql" in vendors:
        from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor

        drivers.append(Psycopg2Instrumentor())
    if "sqlite" in vendors:
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

        drivers.append(SQLite3Instrumentor())
    return drivers


def _trace_open_connections(provider: TracerProvider) -> None:
    """The driver's instrumentation traces connections opened from now on; this thread's
    already open ones (a test's) are traced too."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        raw = connection.connection
        if raw is None:
            continue
        if connection.vendor == "postgresql":
            from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor

            Psycopg2Instrumentor.instrument_connection(raw, tracer_provider=provider)
        elif connection.vendor == "sqlite":
            from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

            connection.connection = SQLite3Instrumentor.instrument_connection(raw, tracer_provider=provider)


def _untrace_open_connections() -> None:
    """This thread's open connections no longer traced, however they were opened."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        raw = connection.connection
        if raw is None:
            continue
        if connection.vendor == "postgresql":
            from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor

            Psycopg2Instrumentor.uninstrument_connection(raw)
        elif connection.vendor == "sqlite" and hasattr(raw, "__wrapped__"):
            connection.connection = raw.__wrapped__


def _request_id_processor() -> SpanProcessor:
    """A processor that gives every span the request id of its parent span (the request's, set
    by `tag_request`): each span of a request is found by the id its log line has."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import SpanProcessor

    class RequestIdProcessor(SpanProcessor):
        def on_start(self, span, parent_context=None) -> None:
            parent = trace.get_current_span(parent_context)
            request_id = (getattr(parent, "attributes", None) or {}).get(REQUEST_ID)
            if request_id is not None:
                span.set_attribute(REQUEST_ID, request_id)

    return RequestIdProcessor()


def tag_request(request_id: str) -> None:
    """The current span (the request's) carries `request_id`, and the spans started under it."""
    from opentelemetry import trace

    trace.get_current_span().set_attribute(REQUEST_ID, request_id)


def traced_operation(run: Callable[..., OperationResult], sql: SqlRecorder, *args: Any) -> OperationResult:
    """`run(*args)` (one GraphQL operation) in a span of its own, described once it has run;
    `sql` is the request's recorder, so the operation's statements are what it adds."""
    from opentelemetry.trace import Status, StatusCode

    from schema.errors import INTERNAL_SERVER_ERROR

    with tracer.start_as_current_span("graphql") as span:
        statements_before = sql.count
        result = run(*args)
        name = result.operation_name
        if name:
            span.update_name(f"graphql {name}")
            span.set_attribute("graphql.operation.name", name)
        span.set_attribute("calendar.sql.count", sql.count - statements_before)
        if result.document_cached is not None:
            span.set_attribute("calendar.document_cache", "hit" if result.document_cached else "miss")
        codes = {code for code in result.error_codes if code}
        if codes:
            span.set_attribute("calendar.error_codes", sorted(codes))
        if INTERNAL_SERVER_ERROR in codes:  # the server failed, not the client's request
            span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("calendar.http_status", result.status)
        return result


def traced_batch(loader: DataLoader, keys: Sequence[Any]) -> Sequence[Any]:
    """`loader`'s batch for `keys` in a span of its own: the loader, its keys and rows."""
    name = type(loader).__name__
    with tracer.start_as_current_span(f"loader {name}") as span:
        span.set_attribute("calendar.loader", name)
        span.set_attribute("calendar.loader.keys", len(keys))
        values = loader.batch_load(keys)
        span.set_attribute("calendar.loader.rows", sum(_rows_in(value) for value in values))
        return values


def _rows_in(value: Any) -> int:
    """How many rows a loader's value for one key holds: a page's edges, a list's items, else one."""
    if isinstance(value, Exception):
        return 0
    edges = getattr(value, "edges", None)
    if edges is not None:
        return len(edges)
    return len(value) if isinstance(value, list) else 1
