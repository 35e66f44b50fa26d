"""CSV exports of a user's own events (`requestEventsExport` in docs/api.md).

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
import uuid
from collections.abc import Iterator
from functools import partial
from typing import IO, Any
from zoneinfo import ZoneInfo

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from config import deadline as request_deadline
from config.deadline import DeadlineExceeded

from . import tasks
from .ids import global_id
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

FAILED_TO_QUEUE = "The export could not be started: the job queue was unavailable. Please request it again later."
# Jobs the sweep sends again at most at once: a backlog left by a long outage goes out over
# a few sweeps rather than in one burst.
SWEEP_BATCH = 500
FAILED_TO_STORE = "The export file could not be stored. Please request the export again."
FAILED_UNEXPECTEDLY = "The export failed because of an unexpected error. Please request it again."
FAILED_TOO_LONG = "The export took too long and was stopped. Please request fewer days."


# ------------------------------------------------------------------ requesting


def request_export(owner: User, date_from: dt.date, date_to: dt.date) -> ExportJob:
    """A new PENDING export of `owner`'s events on the days `date_from` to `date_to`
    (both included, in the owner's time zone), queued when the transaction commits.
    Raises ValidationError (keyed "from" or "to") for a range it cannot export, and
    (unkeyed) when the owner already has EXPORT_MAX_UNFINISHED exports in progress."""
    export_window(owner.timezone, date_from, date_to)
    unfinished = ExportJob.objects.filter(owner=owner, status__in=(ExportJob.Status.PENDING, ExportJob.Status.RUNNING))
    if unfinished.count() >= settings.EXPORT_MAX_UNFINISHED:
        # One user's taps must not fill the queue every user's exports wait in. (Two requests
        # at the same instant may both pass: the limit is a guard, not an exact count.)
        raise ValidationError(
            f"You already have {settings.EXPORT_MAX_UNFINISHED} exports in progress: "
            "wait until one of them is done, then ask again."
        )
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
    """Hand the job to a worker, as a task whose id the job records (see `_claim`). If the
    queue cannot take it (Redis down), the job stays PENDING: the sweep sends it again once
    Redis is back."""
    task_id = str(uuid.uuid4())
    ExportJob.objects.filter(pk=job_id).update(task_id=task_id, updated_at=timezone.now())
    try:
        tasks.export_events.apply_async((job_id,), task_id=task_id)
    except Exception:
        logger.warning("Could not queue export job %s; the sweep will retry", job_id, exc_info=True)


# ------------------------------------------------------------------- the sweep


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Send again the jobs whose task was lost, and give up on those that waited too long.

    Redis can lose a queued task (restarted without persistence) or never get one (down when
    the job was requested), and a worker's death is only made good by Redis itself. So a job
    PENDING untouched for EXPORT_REQUEUE_AFTER, or RUNNING untouched for longer than Redis
    would take to hand a dead worker's task to another, is sent again under a new task id;
    a job still PENDING EXPORT_QUEUE_GIVE_UP after it was requested is FAILED; jobs finished
    EXPORT_RETENTION ago are deleted with their files. Run every
    EXPORT_SWEEP_INTERVAL by the worker's beat (CELERY_BEAT_SCHEDULE). A job merely waiting
    behind others may be sent twice: whichever copy comes first runs it (`_claim`)."""
    now = now or timezone.now()
    given_up = ExportJob.objects.filter(
        status=ExportJob.Status.PENDING, created_at__lt=now - dt.timedelta(seconds=settings.EXPORT_QUEUE_GIVE_UP)
    ).update(status=ExportJob.Status.FAILED, error=FAILED_TO_QUEUE, updated_at=now)
    lost = ExportJob.objects.filter(
        Q(status=ExportJob.Status.PENDING, updated_at__lt=now - dt.timedelta(seconds=settings.EXPORT_REQUEUE_AFTER))
        | Q(status=ExportJob.Status.RUNNING, updated_at__lt=now - dt.timedelta(seconds=_running_is_lost_after()))
    )
    requeued = list(lost.values_list("pk", flat=True)[:SWEEP_BATCH])
    for job_id in requeued:
        enqueue(job_id)
    if requeued or given_up:
        logger.warning("Export sweep: sent %s lost jobs again, gave up on %s", len(requeued), given_up)
    return {"requeued": len(requeued), "given_up": given_up, "expired": _delete_expired(now)}


def _delete_expired(now: dt.datetime) -> int:
    """Delete the jobs finished more than EXPORT_RETENTION seconds ago, with their files:
    afterwards they are as unknown as a job that never existed."""
    finished = (ExportJob.Status.DONE, ExportJob.Status.FAILED)
    cutoff = now - dt.timedelta(seconds=settings.EXPORT_RETENTION)
    expired = list(ExportJob.objects.filter(status__in=finished, updated_at__lt=cutoff)[:SWEEP_BATCH])
    for job in expired:
        if job.file:
            job.file.storage.delete(job.file.name)  # first: a row left behind is deleted next time
    ExportJob.objects.filter(pk__in=[job.pk for job in expired]).delete()
    return len(expired)


def _running_is_lost_after() -> int:
    """Seconds after which a RUNNING job's task is lost: past the hard time limit, Redis
    should have handed a dead worker's task to another within the visibility timeout."""
    return max(settings.CELERY_TASK_TIME_LIMIT, settings.CELERY_VISIBILITY_TIMEOUT) + 60


# ------------------------------------------------------------------- running


def run_export(job_id: int, task_id: str = "") -> None:
    """Make the job's file, whatever state a previous attempt left: a job still PENDING
    or RUNNING (a worker died mid-way and the task was delivered again) is written from
    scratch; a job already DONE or FAILED, or gone, or since sent again under another
    task id, is left alone."""
    job = _claim(job_id, task_id)
    if job is None:
        logger.info("Export job %s is finished, gone or sent again: nothing to do", job_id)
        return
    try:
        name, row_count = write_file(job)
    except OSError:
        logger.exception("Could not store the file of export job %s", job_id)
        _set_status(job_id, (ExportJob.Status.RUNNING,), ExportJob.Status.FAILED, error=FAILED_TO_STORE)
    except SoftTimeLimitExceeded:
        logger.error("Export job %s ran past EXPORT_TIME_LIMIT (%s s)", job_id, settings.EXPORT_TIME_LIMIT)
        _set_status(job_id, (ExportJob.Status.RUNNING,), ExportJob.Status.FAILED, error=FAILED_TOO_LONG)
    except DeadlineExceeded:
        # Run in-process, within a request whose deadline has passed; its warning counts it.
        logger.info("Export job %s stopped at its request's deadline", job_id)
        deadline = request_deadline.current()
        if deadline is not None:
            deadline.cut("exports")
        _set_status(job_id, (ExportJob.Status.RUNNING,), ExportJob.Status.FAILED, error=FAILED_TOO_LONG)
    except Exception:
        logger.exception("Export job %s failed", job_id)
        _set_status(job_id, (ExportJob.Status.RUNNING,), ExportJob.Status.FAILED, error=FAILED_UNEXPECTEDLY)
    else:
        _finish(job, name, row_count)


def _claim(job_id: int, task_id: str) -> ExportJob | None:
    """Mark the job RUNNING as this task's and return it (with its owner), unless it is DONE,
    FAILED, gone, or RUNNING as another task's. A task delivered again after its worker died
    keeps its id; a RUNNING job the sweep sent again carries the new task's id; the other
    copies of a job sent twice find it taken and do nothing."""
    unfinished = (ExportJob.Status.PENDING, ExportJob.Status.RUNNING)
    free_or_ours = Q(status=ExportJob.Status.PENDING) | Q(task_id__in=(task_id, ""))
    if not _set_status(
        job_id, unfinished, ExportJob.Status.RUNNING, free_or_ours, task_id=task_id, row_count=None, error=""
    ):
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


def _set_status(job_id: int, expected: tuple[str, ...], status: str, *conditions: Q, **fields: Any) -> bool:
    """Move the job from one of the `expected` statuses to `status` (one UPDATE, so two
    workers cannot both make the same move); whether it moved."""
    jobs = ExportJob.objects.filter(*conditions, pk=job_id, status__in=expected)
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
            if row_count % CHUNK_SIZE == 0:
                # In-process (no REDIS_URL) the export runs inside the request that asked for
                # it, and ends with it at the request's deadline; in the worker, no deadline.
                request_deadline.check()
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
        global_id("Event", event_id),
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
