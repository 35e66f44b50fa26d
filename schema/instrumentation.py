"""Counting and timing the SQL an operation runs (the `extensions.debug` block
in DEBUG, and the SQL console log when GRAPHQL_LOG_SQL is on)."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

logger = logging.getLogger("calendar.sql")


class SqlRecorder:
    def __init__(self, log_statements: bool) -> None:
        self.count = 0
        self.seconds = 0.0
        self.log_statements = log_statements

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.count += 1
            self.seconds += elapsed
            if self.log_statements:
                logger.debug("(%.2f ms) %s; params=%r", elapsed * 1000, sql, params)

    def as_extension(self) -> dict:
        return {"sqlCount": self.count, "sqlTimeMs": round(self.seconds * 1000, 3)}


@contextmanager
def recording_sql():
    recorder = SqlRecorder(log_statements=settings.GRAPHQL_LOG_SQL)
    with connection.execute_wrapper(recorder):
        yield recorder
