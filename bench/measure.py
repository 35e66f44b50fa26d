"""One measurement: one operation, one variant (ours, naive or floor), at one size,
run in a fresh process so that its peak RSS is its own (see bench/inprocess.py).

Ours and naive go through the real view, `schema.view.GraphQLView` (naive: its
subclass on graphql-core's path without batching, bench/naive.py), called with a
`django.test.RequestFactory` POST carrying a Bearer token: everything a request
does but the middleware and the socket. The floor runs its one statement
(bench/floor.py) and fetches the JSON text.

The passes, in order: warm-up requests (counting SQL statements), timed requests
(nothing else running in the timed region), then one request under tracemalloc for
its peak Python allocation (tracemalloc slows Python down, so never while timing).
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config.runtime import tune_garbage_collector

from .environment import configure_django
from .floor import FloorInput, statement
from .operations import Operation

VARIANTS = ("ours", "naive", "floor")


@dataclass(frozen=True)
class Spec:
    """Everything a measurement needs; pickled to the child process."""

    database_url: str
    operation: Operation
    variant: str
    variables: dict[str, Any]
    token: str
    floor_input: FloorInput
    warmups: int
    repeats: int


@dataclass
class Runner:
    """`prepare()` builds what one request needs (outside the timed region);
    `run(prepared)` answers it and returns the response body."""

    prepare: Callable[[], Any]
    run: Callable[[Any], bytes | str]


class StatementCounter:
    """A `connection.execute_wrapper` that counts the SQL statements sent."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measure(spec: Spec) -> dict[str, Any]:
    """Run the passes of one measurement and return its figures and its last answer."""
    configure_django(spec.database_url)
    runner = build_runner(spec)
    rss_base_kb = max_rss_kb()
    statements = [counted(runner) for _ in range(max(spec.warmups, 1))]
    # As the web process does once the application is loaded (config/wsgi.py).
    tune_garbage_collector()
    samples = [timed(runner) for _ in range(spec.repeats)]
    rss_peak_kb = max_rss_kb()
    alloc_peak, body = traced(runner)
    text = body.decode() if isinstance(body, bytes) else body
    return {
        "sql_statements_seen": sorted(set(statements)),
        "sql_statements": max(statements),
        "latency_ms": summary(samples),
        "samples_ms": [round(sample, 3) for sample in samples],
        "warmups": max(spec.warmups, 1),
        "repeats": spec.repeats,
        "response_bytes": len(text.encode()),
        "alloc_peak_bytes": alloc_peak,
        "rss_base_kb": rss_base_kb,
        "rss_peak_kb": rss_peak_kb,
        "body": text,
    }


def build_runner(spec: Spec) -> Runner:
    if spec.variant == "floor":
        return floor_runner(spec.operation.name, spec.floor_input)
    from schema.view import GraphQLView

    from .naive import NaiveGraphQLView

    # naive: the same view and schema on graphql-core's path, with loaders that do not batch.
    view = GraphQLView.as_view() if spec.variant == "ours" else NaiveGraphQLView.as_view()
    return graphql_runner(view, spec)


def graphql_runner(view, spec: Spec) -> Runner:
    """POST the operation to `view` as the app does, with the power user's token."""
    from django.test import RequestFactory

    factory = RequestFactory()
    payload = json.dumps({"query": spec.operation.query, "variables": spec.variables})

    def prepare():
        return factory.post(
            "/graphql", payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {spec.token}"
        )

    def run(request) -> bytes:
        response = view(request)
        if response.status_code != 200:
            label = f"{spec.variant} {spec.operation.name}"
            raise RuntimeError(f"{label}: HTTP {response.status_code}: {response.content[:2000]!r}")
        return response.content

    return Runner(prepare, run)


def floor_runner(operation: str, floor_input: FloorInput) -> Runner:
    """Execute the floor statement and fetch its JSON text, on Django's connection."""
    from django.db import connection

    sql, params = statement(operation, floor_input)
    cursor = connection.cursor()

    def run(_prepared) -> str:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]

    return Runner(lambda: None, run)


def counted(runner: Runner) -> int:
    """One request; how many SQL statements it sent."""
    from django.db import connection

    counter = StatementCounter()
    prepared = runner.prepare()
    with connection.execute_wrapper(counter):
        check_answer(runner.run(prepared))
    return counter.count


def timed(runner: Runner) -> float:
    """One request's wall-clock time, in milliseconds."""
    prepared = runner.prepare()
    started = time.perf_counter()
    runner.run(prepared)
    return (time.perf_counter() - started) * 1000


def traced(runner: Runner) -> tuple[int, bytes | str]:
    """One request under tracemalloc: the peak of Python memory it allocated, and its answer."""
    prepared = runner.prepare()
    gc.collect()
    tracemalloc.start()
    try:
        body = runner.run(prepared)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, body


def check_answer(body: bytes | str) -> None:
    """An answer with errors would make every figure meaningless: stop there."""
    document = json.loads(body)
    if document.get("errors") or document.get("data") is None:
        raise RuntimeError(f"The answer has errors: {str(document)[:2000]}")


def max_rss_kb() -> int:
    """The process's peak resident set size so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def summary(samples_ms: list[float]) -> dict[str, float]:
    """Median, p90, min, max and mean of the timed requests, in milliseconds."""
    if not samples_ms:
        return {}
    p90 = statistics.quantiles(samples_ms, n=10, method="inclusive")[8] if len(samples_ms) > 1 else samples_ms[0]
    return {
        "median": round(statistics.median(samples_ms), 3),
        "p90": round(p90, 3),
        "min": round(min(samples_ms), 3),
        "max": round(max(samples_ms), 3),
        "mean": round(statistics.fmean(samples_ms), 3),
    }
