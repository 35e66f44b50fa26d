"""The Celery app some worker tests start (`celery -A tests.export_worker_hooks worker`):
the project's own app, and an export that pauses in the middle so that a test can kill
the worker there.

With EXPORT_TEST_PAUSE_FILE set, the first export to run in this worker writes its first
row, then creates that file (holding the pid of the process running the task) and sleeps.
An export that finds the file already there runs straight through.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import django

from config.celery import app

django.setup()

from calendarapp import exports  # noqa: E402  (needs Django set up)

PAUSE_FILE = os.environ.get("EXPORT_TEST_PAUSE_FILE")


def rows_pausing_after_the_first(job, rows=exports.event_rows) -> Iterator[tuple]:
    pause_file = Path(PAUSE_FILE)
    for index, row in enumerate(rows(job)):
        if index == 1 and not pause_file.exists():
            pause_file.write_text(str(os.getpid()))
            time.sleep(600)
        yield row


if PAUSE_FILE:
    exports.event_rows = rows_pausing_after_the_first

__all__ = ["app"]
