"""What every request pays before its own work (issue 12's fixed cost): Django's handler, the
middleware, the request log, the view, authentication, finding the document.

`python -m bench.fixed_cost [--requests 300] [--rounds 5] [--friends 10] [--skip-seed]`

In-process, with the bench's settings (production's plus the floor's endpoint, bench/settings.py),
each request through Django's whole handler (bench/handler.py), on the bench database (seeded at
--friends unless --skip-seed). Two passes:

1. **Totals**: the same trivial answer, `{"data": {"__typename": "Query"}}`, several ways, one
   request of each way in turn (--rounds rounds of --requests requests of each way; the median
   of the rounds' medians):
   the floor's trivial statement (`POST /bench/floor/typename`: the handler, the middleware and
   one round trip), `{ __typename }` anonymous and with the power user's token through
   /graphql, the same with the token through the view alone (no middleware, no signals),
   through a handler with no middleware at all, and through the whole handler with the
   connection's health check off (production sets CONN_HEALTH_CHECKS: a `SELECT 1` before a
   request's first statement).
2. **Where it goes**: `{ __typename }` with the token, --requests x --rounds more times, with a
   timer around each step (each middleware, the signals, the view's stages, authentication and
   its SQL, the request log's parts): the median per request of each step's inclusive time, and
   each middleware's own time (its time less the next one's). The timers cost about a
   microsecond each per call.

Writes bench-output/fixed_cost.json (read by bench/report.py) and prints both tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .environment import configure_django, ensure_database, machine, seeded_bench_parser, write_json
from .floor import floor_body
from .handler import WholeRequest, log_like_the_web_process, quiet_request_log

BENCH_SETTINGS = "bench.settings"
TRIVIAL = json.dumps({"query": "{ __typename }"})
TRIVIAL_ANSWER = {"data": {"__typename": "Query"}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = seeded_bench_parser("python -m bench.fixed_cost", __doc__.split("\n\n")[0], friends=10)
    parser.add_argument("--requests", type=int, default=300, help="requests per variant per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; figures are medians of the rounds' medians")
    parser.add_argument("--output", type=Path, default=Path("bench-output") / "fixed_cost.json")
    return parser.parse_args(argv)


# --- totals ------------------------------------------------------------------------------------


Way = tuple[Callable[[], Any], Callable[[Any], Any]]  # (prepare a request, untimed; send it, timed)


def variants(fixture) -> dict[str, Way]:
    """Each way of answering the trivial operation."""
    from django.conf import settings
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import override_settings

    from schema.view import GraphQLView

    whole = WholeRequest()
    with override_settings(MIDDLEWARE=[]):
        bare = WholeRequest()
    view = GraphQLView.as_view()
    factory = RequestFactory()
    floor = floor_body(fixture.floor_input)
    token = fixture.token

    def through(client: WholeRequest, path: str, body: str | bytes, with_token: bool) -> Way:
        def prepare() -> Any:
            return client.environ(path, body, token if with_token else None)

        return prepare, client.send

    def view_alone() -> Way:
        def prepare() -> Any:
            authorization = f"Bearer {token}"
            return factory.post("/graphql", TRIVIAL, content_type="application/json", HTTP_AUTHORIZATION=authorization)

        return prepare, view

    def without_health_check() -> Way:
        prepare, send = through(whole, "/graphql", TRIVIAL, True)

        def unchecked(environ: Any) -> Any:
            connection.health_check_enabled = False
            try:
                return send(environ)
            finally:
                connection.health_check_enabled = settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]

        return prepare, unchecked

    return {
        "floor: trivial statement, whole handler": through(whole, "/bench/floor/typename", floor, False),
        "`{ __typename }` anonymous, whole handler": through(whole, "/graphql", TRIVIAL, False),
        "`{ __typename }` with token, whole handler": through(whole, "/graphql", TRIVIAL, True),
        "`{ __typename }` with token, whole handler, no health check": without_health_check(),
        "`{ __typename }` with token, handler without middleware": through(bare, "/graphql", TRIVIAL, True),
        "`{ __typename }` with token, view alone": view_alone(),
    }


def check(name: str, answer: Any) -> None:
    content = answer.content
    status = answer.status if hasattr(answer, "status") else answer.status_code
    if status != 200 or json.loads(content) != TRIVIAL_ANSWER:
        raise SystemExit(f"{name}: expected {TRIVIAL_ANSWER} (200), got {status}: {content[:500]!r}")


def time_totals(ways: dict[str, Way], requests: int, rounds: int) -> dict[str, dict]:
    """Each way's median ms per round, one request of each way in turn, so that all see the same
    machine; the median of the rounds' medians, and each round's."""
    for name, (prepare, send) in ways.items():
        for _ in range(20):
            check(name, send(prepare()))
    medians: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        samples: dict[str, list[float]] = defaultdict(list)
        for _ in range(requests):
            # One request of each way in turn: a burst of other work on the machine hits all alike.
            for name, (prepare, send) in ways.items():
                prepared = prepare()
                started = time.perf_counter()
                send(prepared)
                samples[name].append((time.perf_counter() - started) * 1000)
        for name, values in samples.items():
            medians[name].append(statistics.median(values))
    return {
        name: {"median_ms": round(statistics.median(values), 4), "rounds_ms": [round(v, 4) for v in values]}
        for name, values in medians.items()
    }


# --- where it goes ---------------------------------------------------------------------------


class Spans:
    """Inclusive time per named step within one request, summed over its calls."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.requests: list[dict[str, float]] = []

    def timed(self, name: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def timer(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.current[name] += time.perf_counter() - started
                self.calls[name] += 1

        return timer

    def end_request(self, total: float) -> None:
        self.current["total"] = total
        self.requests.append(dict(self.current))
        self.current.clear()

    def medians_ms(self) -> dict[str, float]:
        names = dict.fromkeys(name for request in self.requests for name in request)
        return {
            name: round(1000 * statistics.median(request.get(name, 0.0) for request in self.requests), 4)
            for name in names
        }


class TimedMiddleware:
    """A middleware instance whose calls are timed; the handler still finds its process_view,
    process_exception and process_template_response (delegated)."""

    def __init__(self, instance: Any, name: str, spans: Spans) -> None:
        self.instance = instance
        self.call = spans.timed(name, instance.__call__)

    def __call__(self, request: Any) -> Any:
        return self.call(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.instance, name)


def middleware_span(path: str) -> str:
    return "middleware " + path.rpartition(".")[2]


@contextmanager
def patched(target: Any, attribute: str, replacement: Any) -> Iterator[None]:
    """`target.attribute` is `replacement` within the block; then as it was (an attribute the
    target only inherited, or found on its class, is removed again)."""
    had_own = attribute in vars(target)
    original = vars(target).get(attribute)
    setattr(target, attribute, replacement)
    try:
        yield
    finally:
        if had_own:
            setattr(target, attribute, original)
        else:
            delattr(target, attribute)


def timed_attribute(spans: Spans, owner: Any, attribute: str, step: str) -> Any:
    """What replaces `owner.attribute` to time it: a classmethod stays a classmethod."""
    raw = vars(owner).get(attribute) if isinstance(owner, type) else None
    if isinstance(raw, classmethod):
        return classmethod(spans.timed(step, raw.__func__))
    if isinstance(raw, staticmethod):
        return staticmethod(spans.timed(step, raw.__func__))
    return spans.timed(step, raw if raw is not None else getattr(owner, attribute))


def timed_handler(spans: Spans) -> WholeRequest:
    """A WSGIHandler whose middleware instances are timed (TimedMiddleware)."""
    from django.core.handlers import base

    real_import = base.import_string

    def timing_import(path: str) -> Any:
        middleware = real_import(path)

        def factory(get_response: Callable) -> TimedMiddleware:
            return TimedMiddleware(middleware(get_response), middleware_span(path), spans)

        factory.sync_capable = getattr(middleware, "sync_capable", True)
        factory.async_capable = getattr(middleware, "async_capable", False)
        return factory

    with patched(base, "import_string", timing_import):
        return WholeRequest()


STEPS = (
    # (module path, object name, attribute, step): patched where the caller looks them up.
    ("django.core.signals", "request_started", "send", "signal request_started (close_old_connections)"),
    ("django.core.signals", "request_finished", "send", "signal request_finished (close_old_connections)"),
    ("django.core.handlers.base", "BaseHandler", "_get_response", "URL resolving + view (_get_response)"),
    ("schema.view", "GraphQLView", "dispatch", "view: GraphQLView.dispatch"),
    ("schema.view", "GraphQLView", "operations_from_body", "view: read the body (orjson)"),
    ("schema.view", None, "authenticate", "view: authenticate (schema/auth.py)"),
    ("calendarapp.tokens", None, "check", "auth: tokens.check (calendarapp/tokens.py)"),
    ("calendarapp.tokens", None, "record_use", "auth: record_use (no write when used today)"),
    (
        "django.db.backends.postgresql.base",
        "DatabaseWrapper",
        "is_usable",
        "SQL: health check SELECT 1 (CONN_HEALTH_CHECKS)",
    ),
    ("django.db.models.sql.compiler", "SQLCompiler", "as_sql", "ORM: compiling SELECTs (as_sql)"),
    ("django.db.backends.utils", "CursorWrapper", "execute", "SQL: execute (with its execute_wrappers)"),
    ("django.db.models.base", "Model", "from_db", "ORM: model instances from rows (from_db)"),
    ("schema.view", "GraphQLView", "run_all", "view: run the operations (run_all)"),
    ("schema.view", "RequestContext", "__init__", "view: RequestContext (loaders registry)"),
    ("schema.view", None, "run_operation", "operation: run_operation (schema/pipeline.py)"),
    ("schema.pipeline", None, "variables_refusal", "operation: variables checked (schema/variables.py)"),
    ("schema.pipeline", None, "document_for", "operation: document_for (SHA-256, size, cache; schema/documents.py)"),
    ("schema.introspection", None, "shows_schema", "operation: shows_schema"),
    ("throttling.budget", None, "spend", "operation: cost budget (throttling/budget.py)"),
    ("schema.pipeline", None, "_execute", "operation: execution (the plan, else graphql-core's path)"),
    ("schema.pipeline", None, "run_planned", "operation: the compiled plan (schema/plans/)"),
    ("schema.pipeline", None, "execute_reference", "operation: graphql-core's path (schema/graphql_core_path.py)"),
    ("schema.view", None, "json_response", "view: orjson + HttpResponse (json_response)"),
    ("config.request_log", None, "request_id_for", "request log: request id (uuid4)"),
    ("config.request_log", None, "current_rss_kb", "request log: RSS reads (/proc/self/statm)"),
    ("config.request_log", "logger", "info", "request log: format + write the line"),
    ("config.metrics", None, "request_finished", "metrics: the request's figures (config/metrics.py)"),
    ("config.metrics", None, "count_errors", "metrics: errors counted by code"),
)


@contextmanager
def timed_steps(spans: Spans, missing: list[str]) -> Iterator[None]:
    """Every step of STEPS timed within the block; a step whose function is not where STEPS says
    (the code moved) is left out and named in `missing`, so the bench still runs."""
    import importlib
    from contextlib import ExitStack

    with ExitStack() as stack:
        for module_path, owner_name, attribute, step in STEPS:
            try:
                module = importlib.import_module(module_path)
                owner = getattr(module, owner_name) if owner_name else module
                getattr(owner, attribute)
            except (ImportError, AttributeError):
                missing.append(f"{step}: {module_path}.{owner_name + '.' if owner_name else ''}{attribute} not found")
                continue
            stack.enter_context(patched(owner, attribute, timed_attribute(spans, owner, attribute, step)))
        yield


def where_it_goes(fixture, requests: int, rounds: int) -> dict[str, Any]:
    from django.conf import settings

    spans, missing = Spans(), []
    with timed_steps(spans, missing):
        client = timed_handler(spans)  # after the patches: the handler binds _get_response
        for _ in range(20):
            check("timed", client.post("/graphql", TRIVIAL, fixture.token))
        spans.requests.clear()
        spans.current.clear()
        for _ in range(requests * rounds):
            environ = client.environ("/graphql", TRIVIAL, fixture.token)
            started = time.perf_counter()
            client.send(environ)
            spans.end_request(time.perf_counter() - started)
    chain = [middleware_span(path) for path in settings.MIDDLEWARE]
    measured = spans.medians_ms()
    # Outermost first: the whole request, the signals, the middleware, then each step's order in STEPS.
    order = ["total", *(step for *_, step in STEPS[:2]), *chain, *(step for *_, step in STEPS[2:])]
    medians = {name: measured[name] for name in order if name in measured}
    own = {}
    for outer, inner in zip(chain, [*chain[1:], "URL resolving + view (_get_response)"], strict=True):
        if outer in medians:
            own[outer] = round(medians[outer] - medians.get(inner, 0.0), 4)
    for step in missing:
        print(f"WARNING: step not timed (update bench/fixed_cost.py's STEPS): {step}")
    return {"requests": len(spans.requests), "inclusive_ms": medians, "middleware_own_ms": own, "missing": missing}


# --- entry point -----------------------------------------------------------------------------


def prepare(args: argparse.Namespace):
    from bench.inprocess import build_fixture, prepare_size

    if args.skip_seed:
        return build_fixture(args.friends, {})
    return prepare_size(args.friends)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    log_like_the_web_process()
    configure_django(args.database_url, BENCH_SETTINGS)
    quiet_request_log()
    fixture = prepare(args)
    from config.runtime import tune_garbage_collector

    tune_garbage_collector()  # as the web process does once the application is loaded
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": os.getloadavg(),
        "requests": args.requests,
        "rounds": args.rounds,
        "totals": time_totals(variants(fixture), args.requests, args.rounds),
        "steps": where_it_goes(fixture, args.requests, args.rounds),
        "load_average_end": os.getloadavg(),
    }
    write_json(args.output, report)
    print_report(report)
    print(f"wrote {args.output}")
    return 0


def print_report(report: dict[str, Any]) -> None:
    print(f"Totals (median of {report['rounds']} rounds of {report['requests']} requests):")
    for name, figures in report["totals"].items():
        print(f"  {figures['median_ms']:8.3f} ms  {name}")
    steps = report["steps"]
    print(f"Where {{ __typename }} with a token goes (median per request of {steps['requests']}, inclusive):")
    for name, ms in steps["inclusive_ms"].items():
        print(f"  {ms:8.3f} ms  {name}")
    print("Each middleware's own time (its time less the next one's):")
    for name, ms in steps["middleware_own_ms"].items():
        print(f"  {ms:8.3f} ms  {name}")


if __name__ == "__main__":
    raise SystemExit(main())
