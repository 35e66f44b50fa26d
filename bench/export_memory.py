"""`python -m bench.export_memory`: the peak memory of a CSV export through a real worker.

The requirement: an export of 100,000 events finishes with its peak memory no higher than
for 1,000 events plus a small constant, through a real worker and Redis. For each size
this seeds one user's events (bulk inserts, in the bench's own PostgreSQL database),
starts a fresh `celery worker --pool=solo` (production settings, Redis as broker, so the
task runs in the worker's main process), sends it the export through Redis, waits for the
job to be DONE and reads the worker's peak resident memory (VmHWM in /proc/<pid>/status),
its memory once started, the task's own time and the whole wait. A fresh worker per size
keeps one export's peak from hiding another's.

Prints a table, writes bench-output/export_memory.json (export_memory-ci.json with --ci),
and exits 1 when the largest export's peak exceeds the smallest's by more than
--allowance-mb. `--ci` is the size CI runs: 1,000 and 20,000 events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .celery_process import CeleryWorker, delete_queue, worker_command
from .environment import REPO, configure_django, ensure_database, machine

DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/calendar_bench_export"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
FULL_SIZES = (1_000, 100_000)
CI_SIZES = (1_000, 20_000)
# How much more the largest export's peak may be than the smallest's. Measured: within
# 1 MB of each other from 1,000 to 100,000 events; an export that kept its rows in memory
# grows by tens of megabytes at 20,000 events already.
DEFAULT_ALLOWANCE_MB = 8.0
# The exported range, and the user whose events fill it (recreated at every size).
FIRST_DAY = dt.date(2026, 1, 1)
LAST_DAY = dt.date(2026, 12, 31)
USERNAME = "export_bench"
TIMEZONE = "Europe/Paris"
INSERT_BATCH = 5_000
STARTUP_TIMEOUT = 60
EXPORT_TIMEOUT = 600


@dataclass(frozen=True)
class Measurement:
    events: int
    rows: int
    file_bytes: int
    peak_kb: int  # VmHWM of the worker once the export is DONE
    started_peak_kb: int  # VmHWM of the worker once it was ready, before the export
    started_rss_kb: int
    task_seconds: float  # as the worker logged it
    wait_seconds: float  # from sending the task to seeing the job DONE


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.export_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help=f"default {DEFAULT_DATABASE_URL}")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help=f"default {DEFAULT_REDIS_URL}")
    parser.add_argument("--ci", action="store_true", help="CI's size: 1,000 and 20,000 events")
    parser.add_argument("--allowance-mb", type=float, default=DEFAULT_ALLOWANCE_MB, help="largest peak - smallest")
    parser.add_argument("--out", type=Path, default=REPO / "bench-output", help="output folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["REDIS_URL"] = args.redis_url  # this process sends tasks to Redis, not in-process
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    ensure_database(args.database_url)
    configure_django(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    queue = f"export-bench-{uuid.uuid4().hex[:8]}"
    sizes = CI_SIZES if args.ci else FULL_SIZES
    print(f"Export memory through a real worker (queue {queue} on {args.redis_url}):")
    try:
        with tempfile.TemporaryDirectory(prefix="export-bench-") as export_root:
            measurements = [measure(events, queue, args, Path(export_root)) for events in sizes]
    finally:
        delete_queue(args.redis_url, queue)
    growth_kb = measurements[-1].peak_kb - measurements[0].peak_kb
    passed = growth_kb <= args.allowance_mb * 1024
    write_report(args, measurements, growth_kb, passed)
    verdict = "within" if passed else "OVER"
    print(
        f"Peak grew {growth_kb / 1024:+.1f} MB from {sizes[0]:,} to {sizes[-1]:,} events: "
        f"{verdict} the allowance of {args.allowance_mb} MB."
    )
    return 0 if passed else 1


def measure(events: int, queue: str, args: argparse.Namespace, export_root: Path) -> Measurement:
    owner = seed(events)
    job = new_job(owner)
    worker = start_worker(queue, args, export_root, args.out / f"export_memory-worker-{events}.log")
    try:
        started = memory_of(worker.pid)
        began = time.monotonic()
        send(job.pk, queue)
        job = wait_until_finished(job.pk, worker)
        if job.row_count != events:
            raise SystemExit(f"The export of {events:,} events has {job.row_count:,} rows")
        waited = time.monotonic() - began
        finished = memory_of(worker.pid)
    finally:
        worker.stop()
    measurement = Measurement(
        events=events,
        rows=job.row_count,
        file_bytes=os.path.getsize(export_root / job.file.name),
        peak_kb=finished["VmHWM"],
        started_peak_kb=started["VmHWM"],
        started_rss_kb=started["VmRSS"],
        task_seconds=task_seconds(args.out / f"export_memory-worker-{events}.log"),
        wait_seconds=round(waited, 3),
    )
    print(
        f"  {events:>7,} events: {measurement.rows:>7,} rows, {measurement.file_bytes / 1e6:6.1f} MB file, "
        f"worker peak {measurement.peak_kb / 1024:6.1f} MB (after start {measurement.started_peak_kb / 1024:.1f} MB), "
        f"task {measurement.task_seconds:.2f} s"
    )
    return measurement


def seed(events: int):
    """The bench user with exactly `events` events spread over the exported year."""
    from django.db import connection

    from calendarapp.exports import export_window
    from calendarapp.models import Event, User

    User.objects.filter(username=USERNAME).delete()
    owner = User.objects.create_user(username=USERNAME, display_name="Export Bench", timezone=TIMEZONE)
    start, end = export_window(TIMEZONE, FIRST_DAY, LAST_DAY)
    step = (end - start) / events
    for first in range(0, events, INSERT_BATCH):
        numbers = range(first, min(events, first + INSERT_BATCH))
        Event.objects.bulk_create(event_number(owner, number, start + step * number) for number in numbers)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Event._meta.db_table}")
    return owner


def event_number(owner, number: int, starts_at: dt.datetime):
    from calendarapp.models import Event

    return Event(
        owner=owner,
        title=f"Event {number}: " + ("=formula-looking title" if number % 50 == 0 else "weekly planning"),
        description="Agenda: review, plan, decide. " * (1 + number % 4),
        location=f"Room {number % 40}",
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=30 + number % 90),
        all_day=number % 25 == 0,
        visibility=("PUBLIC", "FRIENDS", "PRIVATE")[number % 3],
    )


def new_job(owner):
    from calendarapp.models import ExportJob

    return ExportJob.objects.create(owner=owner, date_from=FIRST_DAY, date_to=LAST_DAY)


def send(job_id: int, queue: str) -> None:
    from calendarapp import tasks

    tasks.export_events.apply_async((job_id,), queue=queue)


def wait_until_finished(job_id: int, worker: CeleryWorker):
    from calendarapp.models import ExportJob

    deadline = time.monotonic() + EXPORT_TIMEOUT
    while time.monotonic() < deadline and worker.alive():
        job = ExportJob.objects.get(pk=job_id)
        if job.status == ExportJob.Status.DONE:
            return job
        if job.status == ExportJob.Status.FAILED:
            raise SystemExit(f"The export failed: {job.error}")
        time.sleep(0.1)
    raise SystemExit(f"The export did not finish (worker exit code {worker.process.poll()}); see {worker.log_path}")


def start_worker(queue: str, args: argparse.Namespace, export_root: Path, log_path: Path) -> CeleryWorker:
    """A fresh `celery worker --pool=solo` on the bench database and Redis, ready to work."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "EXPORT_ROOT": str(export_root),
        "PYTHONUNBUFFERED": "1",
    }
    log_path.unlink(missing_ok=True)  # a fresh log per run: task_seconds reads the last task's
    return CeleryWorker(worker_command(queue), env, log_path, STARTUP_TIMEOUT).start()


def memory_of(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0])
    return fields


def task_seconds(log_path: Path) -> float:
    """The task's run time as the worker logged it ("... succeeded in 1.23s")."""
    found = re.findall(r"export_events\[[^\]]+\] succeeded in ([0-9.]+)s", log_path.read_text(errors="replace"))
    return round(float(found[-1]), 3) if found else float("nan")


def write_report(args: argparse.Namespace, measurements: list[Measurement], growth_kb: int, passed: bool) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / ("export_memory-ci.json" if args.ci else "export_memory.json")
    report: dict[str, Any] = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "worker": "celery worker --pool=solo, production settings, Redis broker, one fresh worker per size",
        "measurements": [asdict(measurement) for measurement in measurements],
        "peak_growth_kb": growth_kb,
        "allowance_kb": int(args.allowance_mb * 1024),
        "passed": passed,
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


if __name__ == "__main__":
    sys.exit(main())
