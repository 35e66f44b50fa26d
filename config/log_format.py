"""Log formatting: one JSON object per line for log collectors, or a readable line on a
terminal. A record's structured fields travel in its `fields` extra (config/request_log.py)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys

import orjson


def log_format() -> str:
    """LOG_FORMAT=json|text; by default JSON unless the log goes to a terminal."""
    chosen = os.environ.get("LOG_FORMAT", "").strip().lower()
    if chosen in {"json", "text"}:
        return chosen
    return "text" if sys.stderr.isatty() else "json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`POST /graphql 200 [HomeScreen] 152.3 ms, 5 SQL in 10.2 ms, RSS 71,188 kB (+12)`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if not fields or "sql_count" not in fields:
            return text  # not a request's line: its message says it all
        operations = ",".join(name or "anonymous" for name in fields["operations"] or [])
        text += f" [{operations}] {fields['duration_ms']} ms"
        text += f", {fields['sql_count']} SQL in {fields['sql_ms']} ms"
        if fields["rss_kb"] is not None:
            text += f", RSS {fields['rss_kb']:,} kB ({fields['rss_growth_kb']:+,})"
        text += f" id={fields['request_id']}"
        for statement in fields.get("slowest_sql", []):
            text += f"\n    {statement['ms']} ms: {statement['sql']}"
        return text
