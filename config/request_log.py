"""One log line per request: what an operator reads to find the next slow operation or N+1.

Each line has the method, path, status, the GraphQL operation name(s), the duration, the
SQL statements' count and time, the worker's memory (RSS) after the request and how much
the request grew it, and a request id, which the response carries back as X-Request-ID
(a well-formed incoming X-Request-ID, e.g. the platform router's, is kept). A request slower
than REQUEST_LOG_SLOW_MS also lists its slowest SQL statements.

config/log_format.py formats the line: JSON when the log is not a terminal, text otherwise.
The same figures go to the Prometheus metrics (config/metrics.py).
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

from config import metrics, tracing
from schema.instrumentation import SqlRecorder

logger = logging.getLogger("calendar.request")

REQUEST_ID_HEADER = "X-Request-ID"
WELL_FORMED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def current_rss_kb() -> int | None:
    """The process's resident memory now (Linux), in kB; None where /proc is missing."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return None


def request_id_for(request: HttpRequest) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if WELL_FORMED_REQUEST_ID.match(incoming) else uuid.uuid4().hex


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_for(request)
        if tracing.tracer is not None:
            tracing.tag_request(request.request_id)
        rss_before = current_rss_kb()
        started = time.perf_counter()
        sql = SqlRecorder()
        with connection.execute_wrapper(sql):
            response = self.get_response(request)
        seconds = time.perf_counter() - started
        rss_after = current_rss_kb()
        metrics.request_finished(request, seconds, sql.count, rss_after)
        response[REQUEST_ID_HEADER] = request.request_id
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={"fields": log_fields(request, response, seconds * 1000, sql, rss_before, rss_after)},
        )
        return response


def log_fields(
    request: HttpRequest, response: HttpResponse, duration_ms: float, sql: SqlRecorder, rss_before, rss_after
) -> dict:
    fields = {
        "request_id": request.request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "operations": getattr(request, "graphql_operation_names", None),
        "duration_ms": round(duration_ms, 2),
        "sql_count": sql.count,
        "sql_ms": round(sql.seconds * 1000, 2),
        "rss_kb": rss_after,
        "rss_growth_kb": rss_after - rss_before if rss_after is not None and rss_before is not None else None,
    }
    if duration_ms >= settings.REQUEST_LOG_SLOW_MS:
        fields["slowest_sql"] = sql.slowest()
    return fields
