"""Sustained load on the Procfile's web process, with PostgreSQL and Redis (issue 6).

`python -m bench.sustained_load [--rate 5] [--fixed-seconds 300] [--capacity-seconds 120] [--ci]`

Seeds `power` with 100 friends (10 events a day, 3 days) in a dedicated database, starts the
`web:` line of the Procfile with production settings, PostgreSQL and REDIS_URL, registers the
home screen as an automatic persisted query once, then sends it by its hash alone, as the
mobile app's Apollo client does:

1. capacity: wrk, closed loop at --concurrency, for --probe-seconds (skipped when --rate is given);
2. a fixed rate, --rate or a third of that capacity, for --fixed-seconds: an open-loop generator
   (below) sends each request at its scheduled time whatever earlier ones took, and counts
   latency from that time, so a stalled server cannot hide behind a client that waits for it;
3. at capacity: wrk, closed loop at --concurrency, for --capacity-seconds;
4. a login flood (bench/login_flood.py): one client reading the home screen alone, then while
   wrk floods logins with wrong passwords from ever new usernames and addresses over
   --flood-sizes connections, for --flood-seconds each (issue 11).

Through 2 and 3 each gunicorn worker's RSS is read every --sample-seconds (recycling is off,
GUNICORN_MAX_REQUESTS=0), and its least-squares slope against the requests served says
whether memory is flat. Writes bench-output/sustained_load.json (-ci.json with --ci) and,
outside --ci, docs/load.md. Exits 1 when a request failed at the fixed rate, when the flood
left the reader's p90 over twice its p90 alone or got no RATE_LIMITED within seconds, or the
setup failed; never for any other time or memory figure. Everything is bounded in time and stays on
127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import redis

from bench import login_flood
from bench.environment import _git_commit as git_commit, write_json
from bench.harness import (
    OUTPUT_DIR,
    ROOT,
    WARMUP_SECONDS,
    WrkResult,
    check_home_screen,
    gunicorn_shape,
    login,
    machine,
    persisted_home_screen_bodies,
    prepare_database,
    rss_by_worker,
    run_wrk,
    web_server,
    write_wrk_script,
)
from bench.load_report import DOCS_FILE, errors_text, render
from bench.probes import PersistedHomeScreen, Probe, latency_summary, percentile

FRIENDS = 100
DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/calendar_bench_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
CI_RATE = 3.0  # well under capacity even on a busy CI machine
START_DELAY = 0.05  # lets the client threads wait on the queue before the first request is due
DRAIN_GRACE = 2.0  # seconds past the last request's timeout before the open loop gives up on it

# A sender sends one request within `timeout` seconds and says how it went.
Send = Callable[[float], Probe]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sustained_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dedicated database (created if missing)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="the web process's REDIS_URL")
    parser.add_argument("--rate", type=float, help="requests/s of the fixed-rate phase (default: capacity / 3)")
    parser.add_argument("--fixed-seconds", type=float, default=300, help="length of the fixed-rate phase")
    parser.add_argument("--capacity-seconds", type=int, default=120, help="length of the phase at capacity")
    parser.add_argument("--probe-seconds", type=int, default=20, help="length of the capacity measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="wrk's open connections (wrk -c)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (wrk -t)")
    parser.add_argument("--clients", type=int, default=64, help="client threads of the open-loop generator")
    parser.add_argument("--timeout", type=float, default=10, help="seconds a fixed-rate request may take")
    parser.add_argument("--sample-seconds", type=float, default=5, help="seconds between RSS samples")
    parser.add_argument("--flood-seconds", type=float, default=20, help="length of each login-flood phase")
    parser.add_argument("--flood-sizes", default="4,16", help="wrk connections of each login flood")
    parser.add_argument("--output", type=Path, help="default: bench-output/sustained_load.json (-ci.json with --ci)")
    parser.add_argument("--ci", action="store_true", help=f"short run: {CI_RATE:g}/s for 30 s, 15 s at capacity")
    args = parser.parse_args(argv)
    # A CI run has its own file, so that it never replaces the full run's figures (docs/load.md's).
    args.output = args.output or OUTPUT_DIR / ("sustained_load-ci.json" if args.ci else "sustained_load.json")
    if args.ci:
        args.rate = args.rate or CI_RATE
        args.fixed_seconds, args.capacity_seconds, args.sample_seconds, args.flood_seconds = 30, 15, 2, 12
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")
    args.flood_sizes = [int(size) for size in args.flood_sizes.split(",") if size.strip()]
    return args


# --- the open-loop generator ------------------------------------------------------------------


@dataclass
class Outcome:
    """One scheduled request: when it was due, sent (None: never sent, or unfinished when the run
    gave up on it) and finished, and how."""

    due: float
    sent: float | None
    done: float
    error: str | None

    @property
    def latency_ms(self) -> float:
        # From the due time, not the send: waiting for a free client thread is latency too.
        return (self.done - self.due) * 1000


def open_loop(send: Send, rate: float, seconds: float, clients: int, timeout: float) -> list[Outcome]:
    """Call `send` `rate` times a second for `seconds`, each call due at a fixed time.

    `clients` threads take due requests from a queue, so a slow answer holds one thread, not
    the schedule. A request is bounded by `timeout` from its due time: one still waiting for
    a thread by then is not sent, and an answer later than that is a timeout. The run ends at
    most `timeout` + DRAIN_GRACE after the last due time; what is unfinished then is a timeout.
    """
    start = time.monotonic() + START_DELAY
    dues = [start + index / rate for index in range(max(1, round(rate * seconds)))]
    waiting: queue.SimpleQueue[float | None] = queue.SimpleQueue()
    outcomes: list[Outcome] = []  # list.append is atomic: the threads share it without a lock
    threads = [
        threading.Thread(target=client_loop, args=(send, waiting, outcomes, timeout), daemon=True)
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for due in dues:
        time.sleep(max(0.0, due - time.monotonic()))
        waiting.put(due)
    for _ in threads:
        waiting.put(None)
    deadline = dues[-1] + timeout + DRAIN_GRACE
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    finished = list(outcomes)
    answered = {outcome.due for outcome in finished}
    return finished + [Outcome(due, None, deadline, "timeout") for due in dues if due not in answered]


def client_loop(send: Send, waiting: queue.SimpleQueue, outcomes: list[Outcome], timeout: float) -> None:
    while (due := waiting.get()) is not None:
        now = time.monotonic()
        left = due + timeout - now
        if left <= 0:
            outcomes.append(Outcome(due, None, now, "timeout"))
            continue
        try:
            error = send(left).error
        except Exception as exception:  # a bug in the sender must not stop this thread's share
            error = f"client_{type(exception).__name__}"
        done = time.monotonic()
        outcomes.append(Outcome(due, now, done, "timeout" if error is None and done - due > timeout else error))


# --- figures ----------------------------------------------------------------------------------


def fixed_rate_summary(outcomes: list[Outcome], rate: float, seconds: float, resent: int) -> dict:
    errors = Counter(outcome.error for outcome in outcomes if outcome.error)
    sent = sorted(outcome.sent for outcome in outcomes if outcome.sent is not None)
    lags_ms = [(outcome.sent - outcome.due) * 1000 for outcome in outcomes if outcome.sent is not None]
    return {
        "rate": rate,
        "seconds": seconds,
        "requests": len(outcomes),
        "errors": sum(errors.values()),
        "errors_by_class": dict(errors),
        "resent_with_query": resent,
        # How fast requests actually left: below `rate` when the client itself fell behind.
        "achieved_rps": round((len(sent) - 1) / (sent[-1] - sent[0]), 2) if len(sent) > 1 else None,
        "latency_ms": latency_summary([outcome.latency_ms for outcome in outcomes]),
        "send_lag_ms": {"p99": round(percentile(lags_ms, 99) or 0, 1), "max": round(max(lags_ms, default=0), 1)},
    }


def wrk_summary(result: WrkResult, concurrency: int) -> dict:
    errors_by_class = {"non_200": max(result.non_200, result.non_2xx), "graphql": result.graphql_errors}
    errors_by_class |= {f"socket_{kind}": count for kind, count in (result.socket_error_kinds or {}).items()}
    attempts = result.requests + result.socket_errors
    return {
        "concurrency": concurrency,
        "seconds": round(result.seconds, 1),
        "requests": result.requests,
        "rps": result.rps,
        "errors": result.errors,
        "error_rate_pct": round(100 * result.errors / attempts, 3) if attempts else None,
        "errors_by_class": {kind: count for kind, count in errors_by_class.items() if count},
        "latency_ms": result.latency_ms,
    }


# --- memory -----------------------------------------------------------------------------------

Sample = tuple[float, dict[int, int | None]]  # (monotonic time, RSS kB by worker pid)


@dataclass
class Phase:
    """A stretch of load on the request clock: how many requests it served, from when to when."""

    name: str
    began: float
    ended: float
    requests: int


def requests_at(moment: float, phases: Sequence[Phase]) -> float:
    """Requests the server had served by `moment`, each phase at an even pace (wrk reports
    only its total; the open loop's pace is fixed)."""
    served = 0.0
    for phase in phases:
        if moment >= phase.ended:
            served += phase.requests
        elif moment > phase.began:
            served += phase.requests * (moment - phase.began) / (phase.ended - phase.began)
    return served


def slope_per_1000(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of RSS (kB) against requests served, per 1,000 requests;
    None without two different request counts."""
    if len({requests for requests, _ in points}) < 2:
        return None
    requests, rss = zip(*points, strict=True)
    return round(statistics.linear_regression(requests, rss).slope * 1000, 2)


@contextmanager
def sampling_rss(master: int, interval: float) -> Iterator[list[Sample]]:
    """Each worker's RSS now, every `interval` seconds in a thread, and when the block ends."""
    samples: list[Sample] = []
    stopped = threading.Event()

    def sample() -> None:
        samples.append((time.monotonic(), rss_by_worker(master)))

    def run() -> None:
        while not stopped.wait(interval):
            sample()

    sample()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stopped.set()
        thread.join(timeout=interval + 10)
        sample()


def memory_report(samples: Sequence[Sample], phases: Sequence[Phase]) -> list[dict]:
    """Per worker: RSS at its first and last sample, the max, growth and slope; `replaced`
    when it was gone by the last sample, `started_late` when it was missing from the first."""
    points: dict[int, list[tuple[float, int]]] = {}
    for moment, workers in samples:
        for pid, rss in workers.items():
            if rss is not None:  # None: it exited between listing and reading
                points.setdefault(pid, []).append((requests_at(moment, phases), rss))
    first, last = set(samples[0][1]), set(samples[-1][1])
    return [
        {
            "pid": pid,
            "samples": len(worker),
            "start_kb": worker[0][1],
            "end_kb": worker[-1][1],
            "max_kb": max(rss for _, rss in worker),
            "growth_pct": round(100 * (worker[-1][1] - worker[0][1]) / worker[0][1], 2),
            "slope_kb_per_1000_requests": slope_per_1000(worker),
            "replaced": pid not in last,
            "started_late": pid not in first,
        }
        for pid, worker in sorted(points.items())
    ]


# --- the run ----------------------------------------------------------------------------------


def register_home_screen(url: str, token: str) -> bytes:
    """Send the home screen once with its query (registering its hash in Redis), check that
    the hash alone now brings the whole answer, and return that by-hash body."""
    by_hash, with_query = persisted_home_screen_bodies()
    check_home_screen(url, token, FRIENDS, with_query)
    check_home_screen(url, token, FRIENDS, by_hash)
    return by_hash


def fixed_rate_phase(url: str, token: str, rate: float, args: argparse.Namespace, phases: list[Phase]) -> dict:
    print(f"fixed rate: {rate:g} requests/s for {args.fixed_seconds:g} s (open loop)", flush=True)
    send = PersistedHomeScreen(url, token)
    began = time.monotonic()
    outcomes = open_loop(send, rate, args.fixed_seconds, args.clients, args.timeout)
    phases.append(Phase("fixed", began, max(outcome.done for outcome in outcomes), len(outcomes)))
    return fixed_rate_summary(outcomes, rate, args.fixed_seconds, send.resent)


def capacity_phase(url: str, script: Path, args: argparse.Namespace, phases: list[Phase]) -> dict:
    print(f"at capacity: wrk, {args.concurrency} connections for {args.capacity_seconds} s", flush=True)
    began = time.monotonic()
    result = run_wrk(url, script, args, args.capacity_seconds)
    phases.append(Phase("capacity", began, time.monotonic(), result.requests))
    return wrk_summary(result, args.concurrency)


def measure(url: str, master: int, token: str, script: Path, args: argparse.Namespace) -> dict:
    """Warm-up, the capacity probe (unless --rate), then both phases under RSS sampling."""
    run_wrk(url, script, args, WARMUP_SECONDS)
    probe = None if args.rate else wrk_summary(run_wrk(url, script, args, args.probe_seconds), args.concurrency)
    if probe:
        print(f"capacity: {probe['rps']} requests/s at {args.concurrency} connections", flush=True)
        if probe["rps"] <= 0:
            raise SystemExit(f"The capacity probe served nothing: {probe}")
    rate = args.rate or round(probe["rps"] / 3, 2)
    phases: list[Phase] = []
    with sampling_rss(master, args.sample_seconds) as samples:
        fixed = fixed_rate_phase(url, token, rate, args, phases)
        print_fixed(fixed)
        capacity = capacity_phase(url, script, args, phases)
        print_capacity(capacity)
    workers = memory_report(samples, phases)
    return {
        "capacity_probe": probe,
        "fixed_rate": fixed,
        "capacity": capacity,
        "memory": {"samples": len(samples), "requests": sum(p.requests for p in phases), "workers": workers},
    }


def service_versions(database_url: str, redis_url: str) -> dict[str, str]:
    connection = psycopg2.connect(database_url, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgresql = cursor.fetchone()[0]
    finally:
        connection.close()
    with redis.Redis.from_url(redis_url, socket_timeout=5) as client:
        return {"postgresql": postgresql, "redis": client.info("server")["redis_version"]}


def run(args: argparse.Namespace) -> dict:
    began = time.monotonic()
    prepare_database(args.database_url, FRIENDS)
    env = login_flood.server_env(args.database_url, args.redis_url)
    login_flood.flush_redis_database(args.redis_url)
    settings = {
        "friends": FRIENDS,
        **gunicorn_shape(env),
        "max_requests": env["GUNICORN_MAX_REQUESTS"],
        **service_versions(args.database_url, args.redis_url),
        **{key: getattr(args, key) for key in ("concurrency", "threads", "clients", "timeout", "sample_seconds")},
    }
    results = {
        "mode": "ci" if args.ci else "full",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": machine(),
        "settings": settings,
    }
    log_path = OUTPUT_DIR / "sustained_load-web.log"
    with web_server(env, log_path) as (url, master), tempfile.TemporaryDirectory() as tmp:
        token = login(url)
        script = write_wrk_script(Path(tmp), token, register_home_screen(url, token))
        results |= measure(url, master, token, script, args)
        print(f"login flood: {args.flood_seconds:g} s a phase", flush=True)
        results["login_flood"] = login_flood.run_floods(url, token, args.flood_seconds, args.flood_sizes)
        results["login_flood"]["problems"] = login_flood.judge(results["login_flood"])
    results["elapsed_s"] = round(time.monotonic() - began, 1)  # the whole run, seeding included
    return results


# --- reporting --------------------------------------------------------------------------------


def print_fixed(fixed: dict) -> None:
    print(
        f"  {fixed['requests']} requests, {fixed['errors']} errors ({errors_text(fixed['errors_by_class'])}), "
        f"sent at {fixed['achieved_rps']}/s; {latency_text(fixed['latency_ms'])}",
        flush=True,
    )


def print_capacity(capacity: dict) -> None:
    print(
        f"  {capacity['requests']} requests, {capacity['rps']} requests/s, {capacity['errors']} errors "
        f"({capacity['error_rate_pct']}%: {errors_text(capacity['errors_by_class'])}); "
        f"{latency_text(capacity['latency_ms'])}",
        flush=True,
    )


def latency_text(latency_ms: dict[str, float | None]) -> str:
    return ", ".join(f"{key} {value} ms" for key, value in latency_ms.items())


def print_memory(memory: dict) -> None:
    for worker in memory["workers"]:
        note = " (replaced)" if worker["replaced"] else " (started during the run)" if worker["started_late"] else ""
        print(
            f"  worker {worker['pid']}: RSS {worker['start_kb']} -> {worker['end_kb']} kB "
            f"({worker['growth_pct']:+}%, max {worker['max_kb']}), "
            f"{worker['slope_kb_per_1000_requests']} kB per 1,000 requests{note}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    write_json(args.output, results)
    print(f"memory over {results['memory']['requests']:,} requests, {results['memory']['samples']} samples:")
    print_memory(results["memory"])
    print(f"wrote {args.output} ({results['elapsed_s']} s in all)")
    if not args.ci:
        DOCS_FILE.write_text(render(results))
        print(f"wrote {DOCS_FILE.relative_to(ROOT)}")
    failed = results["fixed_rate"]["errors"]
    if failed:
        print(f"FAILED: {failed} requests failed at the fixed rate: {results['fixed_rate']['errors_by_class']}")
    for problem in results["login_flood"]["problems"]:
        print(f"FAILED: login flood: {problem}")
    return 1 if failed or results["login_flood"]["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
