"""Counting and timing the SQL a request runs: the `extensions.debug` block in DEBUG, the
request log's `sql_count` (config/request_log.py), and the SQL console log when
GRAPHQL_LOG_SQL is on.

`extensions.debug.sqlCount` counts what the committed snapshots (tests/snapshots) and the
README count: every statement of the request, its authentication included. The first answer
of a request carries the statements run before any operation (reading the token or the
session), each answer those run since the previous one, so the answers of a batch add up to
the request's total, which is the request log's `sql_count`.
"""

from __future__ import annotations

import heapq
import logging
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

logger = logging.getLogger("calendar.sql")

SLOWEST_STATEMENTS_KEPT = 5
STATEMENT_CHARS_KEPT = 1000


class SqlRecorder:
    """Counts and times the SQL run while it is installed (connection.execute_wrapper),
    keeping the slowest statements."""

    def __init__(self, log_statements: bool = False) -> None:
        self.count = 0
        self.seconds = 0.0
        self.log_statements = log_statements
        self._slowest: list[tuple[float, int, str]] = []
        self._reported = (0, 0.0)  # count and seconds already given to an answer

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.record(sql, elapsed)
            if self.log_statements:
                logger.debug("(%.2f ms) %s; params=%r", elapsed * 1000, sql, params)

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

    def unreported(self) -> dict:
        """`extensions.debug` for the statements no answer has reported yet."""
        count, seconds = self._reported
        self._reported = (self.count, self.seconds)
        return {"sqlCount": self.count - count, "sqlTimeMs": round((self.seconds - seconds) * 1000, 3)}


@contextmanager
def recording_sql():
    recorder = SqlRecorder(log_statements=settings.GRAPHQL_LOG_SQL)
    with connection.execute_wrapper(recorder):
        yield recorder
