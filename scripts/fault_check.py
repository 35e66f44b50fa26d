"""Faults under load (issue 6): does the server recover by itself, and does it keep every
write it acknowledged?

`python -m scripts.fault_check [--ci] [--faults postgres_restart,...] [--seconds 15]`

Seeds a dedicated PostgreSQL database, starts the Procfile's `web:` and `worker:` lines
with production settings on 127.0.0.1 against PostgreSQL and Redis, and puts them under
load: clients asking for the home screen back to back (as a plain query and by its
persisted-query hash), clients creating events (each with a title of its own) and a client
requesting a one-day CSV export every second. Every answer is recorded; every write the
server acknowledged (an event, an export job) is remembered. Then, one fault at a time:

- postgres_restart: `pg_ctlcluster ... restart -m fast`, which drops every connection.
- redis_restart: Redis shut down for a few seconds, then started again (empty).
- queued_exports_lost: the worker stopped (as during a deploy) while exports are requested,
  then Redis restarted empty, losing their queued tasks; the worker's sweep must send them
  again once it is back (EXPORT_SWEEP_INTERVAL, EXPORT_REQUEUE_AFTER: short here too).
- worker_killed: the whole Celery worker SIGKILLed in the middle of a large export (as the
  platform kills a process over its memory), then started again, as the platform restarts
  a crashed process. The export comes back once the broker's visibility timeout has passed
  (CELERY_VISIBILITY_TIMEOUT: short here, so the run stays short).
- pool_process_killed: the worker's pool processes SIGKILLed mid-export; the worker itself
  lives on and must run the export again on its own.
- web_worker_killed: one gunicorn worker SIGKILLed while it is serving a request (its CPU
  time rising and a client's connection open); the master must replace it.

For each fault: the requests made and how many failed (and how), the time from the end of
the fault to the first success after the last failure, the writes acknowledged, and how
many of them are missing from the database afterwards. Every acknowledged export must end
DONE (or FAILED with its reason) and one requested after the fault must end DONE: the
worker recovered too.

Prints a table, writes bench-output/faults.json and, without --ci, docs/faults.md. Exits 1
when an acknowledged write is missing, a fault was not recovered from, a request failed
well after the fault, or an export was left unfinished. It restarts this machine's
PostgreSQL and Redis: never run it beside other work using them (CI runs it after the
tests). Every loop is bounded in time, and everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import redis

from bench import export_memory
from bench.celery_process import CeleryWorker, procfile_worker_command
from bench.environment import configure_django, machine
from bench.harness import (
    HOST,
    OUTPUT_DIR,
    ROOT,
    django_env,
    home_screen_body,
    login,
    post,
    prepare_database,
    web_server,
    worker_pids,
)
from bench.probes import PersistedHomeScreen, Probe, ProbeLog, readiness, timed_request
from calendarapp.ids import parse_global_id  # with the servers' key: bench.environment.BENCH_GLOBAL_ID_KEY

DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/calendar_bench_faults"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
REDIS_PORT = 6379
FAULTS = (
    "postgres_restart",
    "redis_restart",
    "queued_exports_lost",
    "worker_killed",
    "pool_process_killed",
    "web_worker_killed",
)
DOCS_PATH = ROOT / "docs" / "faults.md"
OPERATIONS = ROOT / "tests" / "operations"
# Short, so that a killed worker's export comes back within the run; production's default
# is in config/settings/base.py and bounds the same recovery there.
VISIBILITY_TIMEOUT = 10
# Likewise for the sweep that sends lost exports again (production: 60 s and 120 s).
SWEEP_INTERVAL = 1
REQUEUE_AFTER = 3
# How long exports pile up in Redis while the worker is stopped, before Redis loses them.
QUEUE_BUILD_SECONDS = 4
REDIS_DOWN_SECONDS = 4
EXPORT_INTERVAL = 1.0
WRITE_INTERVAL = 0.05
# A request failing this long after its fault ended means the server did not recover.
RECOVERY_LIMIT = 15
EXPORT_LIMIT = 120
WORKER_START_TIMEOUT = 60
EXPORT_BENCH_PASSWORD = "demo"


@dataclass
class FaultResult:
    fault: str
    requests: int
    failed: int
    failures: dict[str, int]
    fault_seconds: float
    recovered_after_s: float | None
    failed_after_fault: int
    failed_after_recovery_window: int
    writes_acknowledged: int
    writes_missing: int
    writes_unacknowledged_but_kept: int
    exports_acknowledged: int
    exports_done: int
    exports_failed: dict[str, int]
    exports_unfinished: int
    export_after_fault_done: bool
    notes: dict = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = []
        if self.writes_missing:
            found.append(f"{self.writes_missing} acknowledged writes are missing")
        if self.recovered_after_s is None:
            found.append("no request succeeded after the last failure")
        if self.failed_after_recovery_window:
            found.append(f"{self.failed_after_recovery_window} requests failed over {RECOVERY_LIMIT} s after the fault")
        if self.exports_unfinished:
            found.append(f"{self.exports_unfinished} acknowledged exports never finished")
        if not self.export_after_fault_done:
            found.append("no export requested after the fault finished DONE")
        return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.fault_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dedicated database (created if missing)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="a Redis database of its own (flushed)")
    parser.add_argument("--ci", action="store_true", help="smaller data and shorter phases; no docs/faults.md")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, from {', '.join(FAULTS)}")
    parser.add_argument("--seconds", type=float, help="load after each fault (default 12, 6 with --ci)")
    parser.add_argument("--friends", type=int, help="friends of `power` (default 100, 30 with --ci)")
    parser.add_argument("--export-events", type=int, help="events in the large export (default 100,000; 40,000)")
    parser.add_argument("--readers", type=int, default=3, help="clients asking for the home screen back to back")
    parser.add_argument("--writers", type=int, default=2, help="clients creating events")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR / "faults.json")
    args = parser.parse_args(argv)
    args.faults = [name.strip() for name in args.faults.split(",") if name.strip()]
    if unknown := set(args.faults) - set(FAULTS):
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    args.seconds = args.seconds or (6 if args.ci else 12)
    args.friends = args.friends or (30 if args.ci else 100)
    args.export_events = args.export_events or (40_000 if args.ci else 100_000)
    return args


# --- the GraphQL calls ------------------------------------------------------------------------


def operation(name: str, **variables: object) -> bytes:
    return json.dumps({"query": (OPERATIONS / f"{name}.graphql").read_text(), "variables": variables}).encode()


def graphql_call(url: str, body: bytes, token: str, field_name: str) -> tuple[Probe, dict | None]:
    """One request, and the mutation's payload when it succeeded (the acknowledgement)."""
    answers: list[dict] = []
    probe = timed_request(url, body, token, keep=answers.append)
    payload = (answers[0].get("data") or {}).get(field_name) if probe.ok and answers else None
    return probe, payload


# --- load -------------------------------------------------------------------------------------


class Load:
    """Readers, writers and an exporter hitting the web process until stopped."""

    def __init__(self, url: str, tokens: dict[str, str], args: argparse.Namespace, fault: str) -> None:
        self.url, self.tokens = url, tokens
        self.log = ProbeLog()
        self.titles_acknowledged: list[str] = []
        self.exports_acknowledged: list[tuple[float, int]] = []  # (requested at, job id)
        self.title_prefix = f"fault {fault} {time.time_ns()}"
        self.stopped = threading.Event()
        self.numbers = itertools.count()
        home = home_screen_body()
        clients: list[tuple[Callable[[], Probe], float]] = []
        for reader in range(args.readers):
            ask = PersistedHomeScreen(url, tokens["power"]) if reader == 0 else self.plain_reader(home)
            clients.append((ask, 0.0))
        clients += [(self.create_event, WRITE_INTERVAL)] * args.writers
        clients.append((self.request_small_export, EXPORT_INTERVAL))
        self.threads = [threading.Thread(target=self.run, args=client, daemon=True) for client in clients]

    def plain_reader(self, body: bytes) -> Callable[[], Probe]:
        return lambda: timed_request(self.url, body, self.tokens["power"])

    def run(self, ask: Callable[[], Probe], interval: float) -> None:
        while not self.stopped.is_set():
            self.log.probes.append(ask())
            self.stopped.wait(interval)

    def create_event(self) -> Probe:
        title = f"{self.title_prefix} #{next(self.numbers)}"
        event = {"title": title, "startsAt": "2026-11-23T12:00:00Z", "endsAt": "2026-11-23T13:00:00Z"}
        body = operation("create_event", input=event)
        probe, payload = graphql_call(self.url, body, self.tokens["power"], "createEvent")
        if payload and payload["event"]["title"] == title:
            self.titles_acknowledged.append(title)
        return probe

    def request_small_export(self) -> Probe:
        probe, job_id = request_export(self.url, self.tokens["exporter"], export_memory.FIRST_DAY)
        if job_id is not None:
            self.exports_acknowledged.append((probe.at, job_id))
        return probe

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=60)


def request_export(url: str, token: str, first: dt.date, last: dt.date | None = None) -> tuple[Probe, int | None]:
    days = {"from": first.isoformat(), "to": (last or first).isoformat()}
    probe, payload = graphql_call(url, operation("request_events_export", input=days), token, "requestEventsExport")
    return probe, parse_global_id(payload["job"]["id"])[1] if payload else None


# --- the processes: PostgreSQL, Redis, the gunicorn workers ---------------------------------


def postgres_cluster() -> tuple[str, str]:
    """(version, name) of this machine's PostgreSQL cluster, as pg_ctlcluster wants them."""
    listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout.split()
    return listed[0], listed[1]


def redis_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", "-p", str(REDIS_PORT), *arguments], capture_output=True, text=True)


def stop_redis() -> None:
    """Shut Redis down without saving: it comes back empty, its queues lost."""
    redis_cli("shutdown", "nosave")


def start_redis() -> None:
    """Start Redis as scripts/ensure_services.sh does, and wait until it answers."""
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", HOST, "--port", str(REDIS_PORT)]
        + ["--save", "", "--appendonly", "no"],
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + 10
    while redis_cli("ping").stdout.strip() != "PONG":
        if time.monotonic() > deadline:
            raise SystemExit("Redis did not come back within 10 s")
        time.sleep(0.1)


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def open_connections(pid: int, port: int) -> int:
    """Established TCP connections to `port` that process `pid` holds: requests it is serving
    (the load's clients open a connection per request)."""
    try:
        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return 0  # the process is gone
    inodes = {link.removeprefix("socket:[").removesuffix("]") for link in links if link.startswith("socket:")}
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].rpartition(":")[2], 16), fields[3], fields[9]
        count += local_port == port and state == "01" and inode in inodes  # 01: ESTABLISHED
    return count


def serving_worker(master: int, port: int, tries: int = 200) -> tuple[int, int]:
    """A gunicorn worker in the middle of a request: its CPU time rising while it holds a
    client's connection. (pid, connections it held)."""
    for _ in range(tries):
        before = {pid: cpu_ticks(pid) for pid in worker_pids(master)}
        time.sleep(0.02)
        for pid, ticks in before.items():
            if cpu_ticks(pid) > ticks and (connections := open_connections(pid, port)):
                return pid, connections
    raise SystemExit("No gunicorn worker was serving a request: is the load running?")


# --- the faults -------------------------------------------------------------------------------


@dataclass
class Window:
    """When a fault began and ended (monotonic clock), and what else is worth reporting."""

    began: float
    ended: float
    notes: dict = field(default_factory=dict)


class Faults:
    def __init__(self, url: str, master: int, worker: CeleryWorker, tokens: dict[str, str], big_export_rows: int):
        self.url, self.master, self.worker, self.tokens = url, master, worker, tokens
        self.big_export_rows = big_export_rows

    def postgres_restart(self) -> Window:
        version, cluster = postgres_cluster()
        began = time.monotonic()
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart", "-m", "fast"]
        subprocess.run(command, check=True, capture_output=True)
        return Window(began, time.monotonic())

    def redis_restart(self) -> Window:
        """Redis down for a while: /readyz must say so, and say when it is back."""
        base_url = self.url.removesuffix("/graphql")
        readyz = {"readyz_before": readiness(base_url)}
        began = time.monotonic()
        stop_redis()
        time.sleep(REDIS_DOWN_SECONDS)
        readyz["readyz_while_down"] = readiness(base_url)
        start_redis()
        ended = time.monotonic()
        readyz["readyz_after"] = readiness(base_url)
        return Window(began, ended, readyz)

    def queued_exports_lost(self) -> Window:
        """The worker stopped (a deploy), exports queued in Redis meanwhile, then Redis
        restarted empty: their tasks are gone, and the worker's sweep must send them again."""
        from calendarapp.models import ExportJob

        self.worker.stop()
        time.sleep(QUEUE_BUILD_SECONDS)  # the exporter's requests wait in Redis
        waiting = ExportJob.objects.filter(status=ExportJob.Status.PENDING)
        lost = list(waiting.values_list("pk", flat=True))
        began = time.monotonic()
        stop_redis()
        start_redis()
        ended = time.monotonic()
        self.worker.start()
        deadline = ended + EXPORT_LIMIT
        while ExportJob.objects.filter(pk__in=lost).exclude(status=ExportJob.Status.DONE).exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"The sweep did not bring back the {len(lost)} exports Redis lost")
            time.sleep(0.1)
        notes = {"exports_lost_with_redis": len(lost), "lost_exports_done_after_s": round(time.monotonic() - ended, 2)}
        return Window(began, ended, notes)

    def worker_killed(self) -> Window:
        job_id, began = self.kill_mid_export(self.worker.kill)
        self.worker.start()  # the platform restarts a crashed process
        return self.export_recovery(job_id, began, restarted_after_s=round(time.monotonic() - began, 2))

    def pool_process_killed(self) -> Window:
        def kill_pool() -> None:
            for pid in self.worker.pool_processes():
                os.kill(pid, signal.SIGKILL)

        job_id, began = self.kill_mid_export(kill_pool)
        return self.export_recovery(job_id, began)

    def web_worker_killed(self) -> Window:
        before = set(worker_pids(self.master))
        victim, connections = serving_worker(self.master, urlsplit(self.url).port)
        began = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        deadline = began + RECOVERY_LIMIT
        while not (set(worker_pids(self.master)) - before) or len(worker_pids(self.master)) < len(before):
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not replace the killed worker")
            time.sleep(0.02)
        notes = {"connections_at_kill": connections, "worker_replaced_after_s": round(time.monotonic() - began, 2)}
        return Window(began, began, notes)

    def kill_mid_export(self, kill: Callable[[], None]) -> tuple[int, float]:
        """Request the large export, kill once the worker is writing it; (job id, kill time)."""
        from calendarapp.models import ExportJob

        year = (export_memory.FIRST_DAY, export_memory.LAST_DAY)
        probe, job_id = request_export(self.url, self.tokens["exporter"], *year)
        if job_id is None:
            raise SystemExit(f"The large export was not accepted: {probe.detail}")
        deadline = time.monotonic() + EXPORT_LIMIT
        while ExportJob.objects.get(pk=job_id).status == ExportJob.Status.PENDING:
            if time.monotonic() > deadline:
                raise SystemExit("The large export never started")
            time.sleep(0.01)
        kill()
        if (status := ExportJob.objects.get(pk=job_id).status) != ExportJob.Status.RUNNING:
            raise SystemExit(f"The export was {status} when its worker was killed: make it larger (--export-events)")
        return job_id, time.monotonic()

    def export_recovery(self, job_id: int, began: float, **notes: object) -> Window:
        """Wait for the killed export to be DONE again, with every row in its file."""
        job = wait_for_export(job_id, began + EXPORT_LIMIT + VISIBILITY_TIMEOUT)
        done_after = round(time.monotonic() - began, 2)
        rows = csv_rows(job)
        if job.status != "DONE" or rows != self.big_export_rows:
            raise SystemExit(f"The killed export ended {job.status} with {rows} of {self.big_export_rows} rows")
        return Window(began, began, {**notes, "export_done_after_s": done_after, "export_rows": rows})


def wait_for_export(job_id: int, deadline: float):
    from calendarapp.models import ExportJob

    while True:
        job = ExportJob.objects.get(pk=job_id)
        if job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED) or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def csv_rows(job) -> int:
    """The data rows in the job's file, read back as CSV (the header row excluded)."""
    with open(job.file.path, newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


# --- what was kept ----------------------------------------------------------------------------


def check_writes(load: Load) -> dict[str, int]:
    from django.db import connection

    from calendarapp.models import Event

    connection.close()  # PostgreSQL may have restarted under it
    stored = set(Event.objects.filter(title__startswith=load.title_prefix).values_list("title", flat=True))
    acknowledged = set(load.titles_acknowledged)
    return {
        "writes_acknowledged": len(acknowledged),
        "writes_missing": len(acknowledged - stored),
        "writes_unacknowledged_but_kept": len(stored - acknowledged),
    }


def check_exports(load: Load, fault_ended: float) -> dict:
    """Every acknowledged export ended; one requested after the fault ended DONE."""
    deadline = time.monotonic() + EXPORT_LIMIT
    jobs = [(at, wait_for_export(job_id, deadline)) for at, job_id in load.exports_acknowledged]
    finished = {"DONE", "FAILED"}
    return {
        "exports_acknowledged": len(jobs),
        "exports_done": sum(job.status == "DONE" for _, job in jobs),
        "exports_failed": dict(Counter(job.error for _, job in jobs if job.status == "FAILED")),
        "exports_unfinished": sum(job.status not in finished for _, job in jobs),
        "export_after_fault_done": any(at > fault_ended and job.status == "DONE" for at, job in jobs),
    }


def request_outcomes(probes: list[Probe], window: Window) -> dict:
    """How the load's requests fared around the fault: failures, and the recovery time (None
    when no request succeeded after the last failure)."""
    probes = sorted(probes, key=lambda probe: probe.at)  # the log is in order of completion
    failed = [probe for probe in probes if not probe.ok]
    last_failure = max((probe.at for probe in failed), default=window.began)
    recovered = next((p for p in probes if p.ok and p.at >= max(window.began, last_failure)), None)
    return {
        "requests": len(probes),
        "failed": len(failed),
        "failures": dict(Counter(probe.detail for probe in failed)),
        "fault_seconds": round(window.ended - window.began, 2),
        "recovered_after_s": round(max(0.0, recovered.at - window.ended), 2) if recovered else None,
        "failed_after_fault": sum(probe.at > window.ended for probe in failed),
        "failed_after_recovery_window": sum(probe.at > window.ended + RECOVERY_LIMIT for probe in failed),
    }


def summarize(fault: str, load: Load, window: Window) -> FaultResult:
    return FaultResult(
        fault=fault,
        **request_outcomes(load.log.probes, window),
        **check_writes(load),
        **check_exports(load, window.ended),
        notes=window.notes,
    )


# --- running ----------------------------------------------------------------------------------


def run_fault(name: str, faults: Faults, url: str, tokens: dict[str, str], args: argparse.Namespace) -> FaultResult:
    with Load(url, tokens, args, name) as load:
        time.sleep(args.seconds / 2)
        window = getattr(faults, name)()
        time.sleep(args.seconds)
    result = summarize(name, load, window)
    print(
        f"{name:20} {result.requests} requests, {result.failed} failed {result.failures}, "
        f"recovered after {result.recovered_after_s} s, writes {result.writes_acknowledged} acknowledged / "
        f"{result.writes_missing} missing, exports {result.exports_done} done / {result.exports_failed} "
        f"{result.notes}",
        flush=True,
    )
    return result


def seed_exporter(events: int) -> int:
    """The export bench's user, with `events` events over its year and a password."""
    user = export_memory.seed(events)
    user.set_password(EXPORT_BENCH_PASSWORD)
    user.save(update_fields=["password"])
    return events


def login_as(url: str, username: str) -> str:
    answer = post(url, operation("login", input={"username": username, "password": EXPORT_BENCH_PASSWORD}))
    return answer["data"]["login"]["token"]


@contextmanager
def services(args: argparse.Namespace, export_root: str) -> Iterator[tuple[str, int, CeleryWorker]]:
    env = {
        **django_env(args.database_url),
        "REDIS_URL": args.redis_url,
        "EXPORT_ROOT": export_root,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "EXPORT_SWEEP_INTERVAL": str(SWEEP_INTERVAL),
        "EXPORT_REQUEUE_AFTER": str(REQUEUE_AFTER),
        # The exporter asks every second, and faults hold its exports up for seconds: what is
        # measured here is what happens to them, not the per-user limit.
        "EXPORT_MAX_UNFINISHED": "1000",
    }
    worker = CeleryWorker(procfile_worker_command(), env, OUTPUT_DIR / "faults-worker.log", WORKER_START_TIMEOUT)
    with web_server(env, OUTPUT_DIR / "faults-web.log") as (url, master):
        worker.start()
        try:
            yield url, master, worker
        finally:
            worker.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    OUTPUT_DIR.mkdir(exist_ok=True)
    for log_name in ("faults-worker.log", "faults-web.log"):
        (OUTPUT_DIR / log_name).unlink(missing_ok=True)
    redis.Redis.from_url(args.redis_url).flushdb()  # its own database: stale tasks would confuse the counts
    prepare_database(args.database_url, args.friends)
    with tempfile.TemporaryDirectory(prefix="faults-exports-") as export_root:
        os.environ["EXPORT_ROOT"] = export_root  # this process reads the export files back
        configure_django(args.database_url)
        big_export_rows = seed_exporter(args.export_events)
        with services(args, export_root) as (url, master, worker):
            tokens = {"power": login(url), "exporter": login_as(url, export_memory.USERNAME)}
            faults = Faults(url, master, worker, tokens, big_export_rows)
            results = [run_fault(name, faults, url, tokens, args) for name in args.faults]
    report = {"machine": machine(), "arguments": report_arguments(args), "results": [asdict(r) for r in results]}
    args.output.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {args.output}")
    if not args.ci:
        DOCS_PATH.write_text(markdown_report(report, results))
        print(f"wrote {DOCS_PATH.relative_to(ROOT)}")
    problems = [f"{result.fault}: {problem}" for result in results for problem in result.problems()]
    for problem in problems:
        print(f"FAILED: {problem}")
    return 1 if problems else 0


FAULT_DESCRIPTIONS = {
    "postgres_restart": "PostgreSQL restarted (`pg_ctlcluster restart -m fast`)",
    "redis_restart": f"Redis shut down for {REDIS_DOWN_SECONDS} s, then started empty",
    "queued_exports_lost": "Redis restarted empty with exports in its queue (worker stopped)",
    "worker_killed": "the Celery worker SIGKILLed mid-export, then restarted",
    "pool_process_killed": "the Celery worker's pool processes SIGKILLed mid-export",
    "web_worker_killed": "a gunicorn worker SIGKILLed mid-request",
}


def markdown_report(report: dict, results: list[FaultResult]) -> str:
    arguments, host = report["arguments"], report["machine"]
    lines = [
        "# Faults under load",
        "",
        "Written by `make faults` (`python -m scripts.fault_check`); CI runs the same faults with",
        "less data and shorter phases (`make faults-ci`) and fails on a lost write or a missing recovery.",
        "",
        textwrap.fill(
            f"Measured {dt.date.today().isoformat()} on {host['nproc']} cores ({host['cpu_model']}), "
            f"PostgreSQL {host['postgresql']}, Python {host['python']}. The Procfile's `web:` and "
            f"`worker:` lines run with production settings and {arguments['friends']} friends of `power`. "
            f"Load: {arguments['readers']} clients ask for the home screen back to back (one by its "
            f"persisted-query hash), {arguments['writers']} create an event every {WRITE_INTERVAL * 1000:.0f} ms "
            f"each and one requests an export every {EXPORT_INTERVAL:.0f} s; {arguments['seconds'] / 2:.0f} s "
            f"of load before each fault and {arguments['seconds']:.0f} s after it.",
            width=92,
        ),
        "",
        "| fault | lasted | requests | failed (after the fault ended) | how they failed | recovered | "
        "writes acknowledged | acknowledged writes lost |",
        "| --- | ---: | ---: | ---: | --- | --- | ---: | ---: |",
    ]
    for result in results:
        failures = ", ".join(f"{count} {detail}" for detail, count in result.failures.items()) or "none"
        lines.append(
            f"| {FAULT_DESCRIPTIONS[result.fault]} | {result.fault_seconds} s | {result.requests:,} | "
            f"{result.failed} ({result.failed_after_fault}) | {failures} | {recovery_text(result)} | "
            f"{result.writes_acknowledged + result.exports_acknowledged:,} | "
            f"{result.writes_missing + result.exports_unfinished} |"
        )
    lines += ["", "Per fault:", ""]
    for result in results:
        lines.append(f"- {result.fault}: {details_text(result)}")
    lines += ["", MEANING, ""]
    return "\n".join(lines)


def recovery_text(result: FaultResult) -> str:
    text = f"requests {result.recovered_after_s} s after"
    if "export_done_after_s" in result.notes:
        text += f"; the killed export DONE {result.notes['export_done_after_s']} s after the kill"
    if "lost_exports_done_after_s" in result.notes:
        text += f"; the lost exports DONE {result.notes['lost_exports_done_after_s']} s after"
    if "worker_replaced_after_s" in result.notes:
        text += f"; worker replaced in {result.notes['worker_replaced_after_s']} s"
    return text


def details_text(result: FaultResult) -> str:
    parts = [
        f"{result.writes_acknowledged} events acknowledged, all stored; "
        f"{result.writes_unacknowledged_but_kept} stored whose answer was lost",
        f"{result.exports_acknowledged} exports acknowledged: {result.exports_done} DONE",
    ]
    parts += [f'{count} FAILED: "{reason}"' for reason, count in result.exports_failed.items()]
    if "export_rows" in result.notes:
        parts.append(f"the killed export's file read back: {result.notes['export_rows']:,} rows, all there")
    if "readyz_while_down" in result.notes:
        before, down, after = (result.notes[f"readyz_{when}"] for when in ("before", "while_down", "after"))
        parts.append(f"/readyz {before}, {down} while down, {after}")
    if "exports_lost_with_redis" in result.notes:
        parts.append(f"{result.notes['exports_lost_with_redis']} queued exports lost with Redis, all sent again")
    if "connections_at_kill" in result.notes:
        parts.append(f"the killed worker held {result.notes['connections_at_kill']} client connections, mid-request")
    if "restarted_after_s" in result.notes:
        parts.append(f"the worker restarted and ready {result.notes['restarted_after_s']} s after the kill")
    return "; ".join(parts) + "."


MEANING = f"""\
What the columns mean:

- *lasted*: from the fault's start until PostgreSQL or Redis answered again; a kill is instant.
- *requests*: every request of the load during that fault's run, before and after the fault.
  *failed*: answered with an error or not at all: http_503 is the server's "database
  unavailable", graphql_INTERNAL_SERVER_ERROR a request whose connection PostgreSQL dropped
  mid-way (its message says the database was unavailable), connection a request the killed
  process was serving (reset or closed). In brackets, those that started after the fault
  had ended.
- *recovered*: from the end of the fault to the start of the first successful request after
  the last failed one; a request failing more than {RECOVERY_LIMIT} s after the fault fails the run.
- *writes acknowledged*: events created and exports requested that the server answered
  without error. *lost*: those missing from the database afterwards, and exports that never
  finished: it must be 0. A write whose answer was lost may still have been stored: the
  client could not know, and may retry.
- A killed worker's export runs again from scratch (acks_late, reject_on_worker_lost): at once
  when only its pool processes died; after the broker's visibility timeout when the whole
  worker died ({VISIBILITY_TIMEOUT} s in this run, so that it stays short; 600 s by default in
  production, CELERY_VISIBILITY_TIMEOUT in config/settings/base.py). Its file is read back
  row by row afterwards.
- An export requested while Redis is down, or whose queued task Redis lost, stays PENDING
  until the worker's sweep sends it again ({SWEEP_INTERVAL} s sweeps, after {REQUEUE_AFTER} s untouched,
  in this run; 60 s and 120 s in production, config/settings/base.py)."""


def report_arguments(args: argparse.Namespace) -> dict:
    names = ("ci", "faults", "seconds", "friends", "export_events", "readers", "writers")
    return {name: getattr(args, name) for name in names} | {"visibility_timeout_s": VISIBILITY_TIMEOUT}


if __name__ == "__main__":
    raise SystemExit(main())
