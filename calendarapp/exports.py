"""CSV exports of a user's own events (`requestEventsExport` in ../shared/API.md).

Requesting one validates the range of days and creates a PENDING `ExportJob`; the job
is queued once the request's transaction commits, so a worker never looks for a job it
cannot see yet. The worker (`calendarapp.tasks.export_events`) then runs `run_export`:
RUNNING, the file written from scratch, DONE with its row count, or FAILED with a
sentence for the user. The file is streamed from a database cursor into a temporary
file, a chunk of rows at a time, and saved through the "exports" storage: the worker's
memory does not grow with the number of events.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import tempfile
from collections.abc import Iterator
from functools import partial
from typing import IO, Any
from zoneinfo import ZoneInfo

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from graphql_relay import to_global_id

from . import tasks
from .models import Event, ExportJob, Rsvp, User
from .timezones import day_bounds

logger = logging.getLogger("calendar.exports")

# The CSV's header row. `id` is the event's ID as the API shows it; times are ISO 8601
# with the owner's UTC offset on that day.
COLUMNS = (
    "id",
    "title",
    "description",
    "location",
    "starts_at",
    "ends_at",
    "all_day",
    "visibility",
    "attendee_count",
)
# Rows fetched from the database at a time: the export's memory is about one chunk.
CHUNK_SIZE = 2000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# such a cell gets a leading apostrophe, which spreadsheets show as text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

FAILED_TO_QUEUE = "The export could not be started: the job queue is unavailable. Please request it again later."
FAILED_TO_STORE = "The export file could not be stored. Please request the export again."
FAILED_UNEXPECTEDLY = "The export failed because of an unexpected error. Please request it again."
FAILED_TOO_LONG = "The export took too long and was stopped. Please request fewer days."


# ------------------------------------------------------------------ requesting


def request_export(owner: User, date_from: dt.date, date_to: dt.date) -> ExportJob:
    """A new PENDING export of `owner`'s events on the days `date_from` to `date_to`
    (both included, in the owner's time zone), queued when the transaction commits.
    Raises ValidationError (keyed "from" or "to") for a range it cannot export."""
    export_window(owner.timezone, date_from, date_to)
    job = ExportJob.objects.create(owner=owner, date_from=date_from, date_to=date_to)
    transaction.on_commit(partial(enqueue, job.pk))
    return job


def export_window(timezone_name: str, date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC: from the start of `date_from` to the end of `date_to` in the time zone."""
    if date_to < date_from:
        raise ValidationError({"to": "to must not be before from."})
    days = (date_to - date_from).days + 1
    if days > settings.EXPORT_MAX_DAYS:
        raise ValidationError(
            {"to": f"An export covers at most {settings.EXPORT_MAX_DAYS} days; this range has {days}."}
        )
    return _day_bound(date_from, timezone_name, "from")[0], _day_bound(date_to, timezone_name, "to")[1]


def _day_bound(day: dt.date, timezone_name: str, field: str) -> tuple[dt.datetime, dt.datetime]:
    try:
        return day_bounds(day, timezone_name)
    except (OverflowError, ValueError):  # the first or last day of the calendar
        raise ValidationError({field: f"{day} is out of the supported range of days."}) from None


def enqueue(job_id: int) -> None:
    """Hand the job to a worker. If the queue cannot take it (Redis down), the job
    fails at once with a message saying so, rather than staying PENDING forever."""
    try:
        tasks.export_events.delay(job_id)
    except Exception:
        logger.exception("Could not queue export job %s", job_id)
        _set_status(job_id, (ExportJob.Status.PENDING,), ExportJob.Status.FAILED, error=FAILED_TO_QUEUE)


# ------------------------------------------------------------------- running


def run_export(job_id: int) -> None:
    """Make the job's file, whatever state a previous attempt left: a job still PENDING
    or RUNNING (a worker died mid-way and the task was delivered again) is written from
    scratch; a job already DONE or FAILED, or gone, is left alone."""
    job = _claim(job_id)
    if job is None:
        logger.info("Export job %s is finished or gone: nothing to do", job_id)
        return
    try:
        name, row_count = write_file(job)
    except OSError:
        logger.exception("Could not store the file of export job %s", job_id)
        _set_status(job_id, (ExportJob.Status.RUNNING,), ExportJob.Status.FAILED, error=FAILED_TO_STORE)
    except SoftTimeLimitExceeded:
        logger.error("Export job %s ran past EXPORT_TIME_LIMIT (%s s)", job_id, settings.EXPORT_TIME_LIMIT)
        _set_status(job_id, (ExportJob.Status.RUNNING,), ExportJob.Status.FAILED, error=FAILED_TOO_LONG)
    except Exception:
        logger.exception("Export job %s failed", job_id)
        _set_status(job_id, (ExportJob.Status.RUNNING,), ExportJob.Status.FAILED, error=FAILED_UNEXPECTEDLY)
    else:
        _finish(job, name, row_count)


def _claim(job_id: int) -> ExportJob | None:
    """Mark the job RUNNING and return it (with its owner), unless it is DONE, FAILED or gone."""
    unfinished = (ExportJob.Status.PENDING, ExportJob.Status.RUNNING)
    if not _set_status(job_id, unfinished, ExportJob.Status.RUNNING, row_count=None, error=""):
        return None
    return ExportJob.objects.select_related("owner").filter(pk=job_id).first()


def _finish(job: ExportJob, name: str, row_count: int) -> None:
    """DONE with the file just written. Should another delivery of the task have finished
    the job meanwhile, the file it recorded stays and this one goes."""
    if _set_status(job.pk, (ExportJob.Status.RUNNING,), ExportJob.Status.DONE, row_count=row_count, file=name):
        return
    recorded = ExportJob.objects.filter(pk=job.pk).values_list("file", flat=True).first()
    if recorded != name:
        job.file.storage.delete(name)


def _set_status(job_id: int, expected: tuple[str, ...], status: str, **fields: Any) -> bool:
    """Move the job from one of the `expected` statuses to `status` (one UPDATE, so two
    workers cannot both make the same move); whether it moved."""
    jobs = ExportJob.objects.filter(pk=job_id, status__in=expected)
    return bool(jobs.update(status=status, updated_at=timezone.now(), **fields))


# ------------------------------------------------------------------- the file


def file_name(job: ExportJob) -> str:
    """Where the job's file is kept in the storage (the download names it differently)."""
    return f"exports/{job.owner_id}/{job.pk}.csv"


def download_name(job: ExportJob) -> str:
    """The file name the download offers."""
    return f"events-{job.date_from.isoformat()}-to-{job.date_to.isoformat()}.csv"


def write_file(job: ExportJob) -> tuple[str, int]:
    """Write the job's CSV to a temporary file, then save it to the storage, replacing
    whatever an earlier attempt left; the stored name and the number of event rows."""
    storage = job.file.storage
    with tempfile.TemporaryFile() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        row_count = write_csv(job, text)
        text.detach()  # flushes into `raw` and leaves it open
        raw.seek(0)
        name = file_name(job)
        storage.delete(name)
        saved = storage.save(name, File(raw, name=name))
    return saved, row_count


def write_csv(job: ExportJob, out: IO[str]) -> int:
    """The header row, then one row per event; how many events."""
    zone = ZoneInfo(job.owner.timezone)
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    row_count = 0
    with transaction.atomic():  # one snapshot; on PostgreSQL a server-side cursor streams within it
        for row in event_rows(job):
            writer.writerow(csv_cells(row, zone))
            row_count += 1
    return row_count


def event_rows(job: ExportJob) -> Iterator[tuple]:
    """The job's events as tuples of COLUMNS' values, by startsAt then id, fetched a chunk at a time."""
    start, end = export_window(job.owner.timezone, job.date_from, job.date_to)
    events = (
        Event.objects.visible_to(job.owner)
        .filter(owner=job.owner)
        .overlapping(start, end)
        .annotate(attendee_count=_attendee_count())
        .order_by("starts_at", "id")
        .values_list(*("pk" if column == "id" else column for column in COLUMNS))
    )
    return events.iterator(chunk_size=CHUNK_SIZE)


def _attendee_count() -> Coalesce:
    """How many users are GOING to the row's event: a subquery per row on the
    (event, status) index, so rows still stream in order (no GROUP BY of them all)."""
    going = (
        Rsvp.objects.filter(event=OuterRef("pk"), status=Rsvp.Status.GOING)
        .order_by()
        .values("event")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(going, output_field=IntegerField()), Value(0))


def csv_cells(row: tuple, zone: ZoneInfo) -> list[Any]:
    event_id, title, description, location, starts_at, ends_at, all_day, visibility, attendee_count = row
    return [
        to_global_id("Event", str(event_id)),
        safe_text(title),
        safe_text(description),
        safe_text(location),
        starts_at.astimezone(zone).isoformat(),
        ends_at.astimezone(zone).isoformat(),
        "true" if all_day else "false",
        visibility,
        attendee_count,
    ]


def safe_text(value: str) -> str:
    """The cell as a spreadsheet shows it as text, never as a formula."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value
