"""One log line per request: what an operator reads to find the next slow operation or N+1.

Each line has the method, path, status, the GraphQL operation name(s), the duration, the
SQL statements' count and time, the worker's memory (RSS) after the request and how much
the request grew it, and a request id, which the response carries back as X-Request-ID
(a well-formed incoming X-Request-ID, e.g. the platform router's, is kept). A request slower
than REQUEST_LOG_SLOW_MS also lists its slowest SQL statements.

config/log_format.py formats the line: JSON when the log is not a terminal, text otherwise.
"""

from __future__ import annotations

import heapq
import logging
import os
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("calendar.request")

REQUEST_ID_HEADER = "X-Request-ID"
WELL_FORMED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
SLOWEST_STATEMENTS_KEPT = 5
STATEMENT_CHARS_KEPT = 1000
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def current_rss_kb() -> int | None:
    """The process's resident memory now (Linux), in kB; None where /proc is missing."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return None


class SqlTally:
    """Counts and times the SQL a request runs, keeping its slowest statements."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._slowest: list[tuple[float, int, str]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.record(sql, time.perf_counter() - started)

    def record(self, sql: str, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds
        entry = (seconds, self.count, sql)
        if len(self._slowest) < SLOWEST_STATEMENTS_KEPT:
            heapq.heappush(self._slowest, entry)
        elif seconds > self._slowest[0][0]:
            heapq.heapreplace(self._slowest, entry)

    def slowest(self) -> list[dict]:
        return [
            {"ms": round(seconds * 1000, 2), "sql": sql[:STATEMENT_CHARS_KEPT]}
            for seconds, _, sql in sorted(self._slowest, reverse=True)
        ]


def request_id_for(request: HttpRequest) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if WELL_FORMED_REQUEST_ID.match(incoming) else uuid.uuid4().hex


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_for(request)
        rss_before = current_rss_kb()
        started = time.perf_counter()
        tally = SqlTally()
        with connection.execute_wrapper(tally):
            response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        response[REQUEST_ID_HEADER] = request.request_id
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={"fields": log_fields(request, response, duration_ms, tally, rss_before)},
        )
        return response


def log_fields(request: HttpRequest, response: HttpResponse, duration_ms: float, tally: SqlTally, rss_before) -> dict:
    rss_after = current_rss_kb()
    fields = {
        "request_id": request.request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "operations": getattr(request, "graphql_operation_names", None),
        "duration_ms": round(duration_ms, 2),
        "sql_count": tally.count,
        "sql_ms": round(tally.seconds * 1000, 2),
        "rss_kb": rss_after,
        "rss_growth_kb": rss_after - rss_before if rss_after is not None and rss_before is not None else None,
    }
    if duration_ms >= settings.REQUEST_LOG_SLOW_MS:
        fields["slowest_sql"] = tally.slowest()
    return fields
