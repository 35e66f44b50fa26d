"""Does the Procfile's web process behave under the failures production sees? (issue 5)

`python -m scripts.production_check [--friends 100] [--checks slow_client,postgres_restart,redis_down]`

Seeds a dedicated PostgreSQL database, starts the `web:` line of the Procfile with production
settings on 127.0.0.1 (gunicorn.conf.py decides the workers) against PostgreSQL and
Redis, logs in as `power`, then, each check in turn:

- slow_client: clients that send their request one byte a second hold a connection each,
  while a normal client keeps asking for the home screen: are the others still served, and
  how fast, compared with the same client alone?
- postgres_restart: `pg_ctlcluster ... restart` while a client asks once every 100 ms: how
  many requests fail, and how soon after PostgreSQL is back is the server answering again?
- redis_down: Redis stopped while clients ask (a plain query, and an operation sent by its
  persisted-query hash): do requests still succeed, what does /readyz say, and does everything
  recover when Redis is back?

Prints a table and writes bench-output/production_check.json. It restarts this machine's
PostgreSQL and stops and restarts its Redis: run it on a development machine, not beside
other work using them. Every loop is bounded in time, and everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.http_load import (
    HOST,
    OPENER,
    OUTPUT_DIR,
    django_env,
    gunicorn_shape,
    home_screen_body,
    login,
    persisted_home_screen_bodies,
    prepare_database,
    web_server,
)

DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/calendar_bench_production"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
REDIS_PORT = 6379
CHECKS = ("slow_client", "postgres_restart", "redis_down")
PROBE_INTERVAL = 0.1
REQUEST_TIMEOUT = 30


@dataclass
class Probe:
    """One request of a probing client: when it started, how long it took, how it ended."""

    at: float
    ms: float
    ok: bool
    detail: str = ""


@dataclass
class ProbeLog:
    probes: list[Probe] = field(default_factory=list)

    def failed(self) -> list[Probe]:
        return [probe for probe in self.probes if not probe.ok]

    def median_ms(self) -> float | None:
        times = [probe.ms for probe in self.probes if probe.ok]
        return round(statistics.median(times), 1) if times else None

    def max_ms(self) -> float | None:
        times = [probe.ms for probe in self.probes if probe.ok]
        return round(max(times), 1) if times else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.production_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dedicated database (created if missing)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--friends", type=int, default=100, help="friends of `power` in the seeded data")
    parser.add_argument("--checks", default=",".join(CHECKS), help=f"comma-separated, from {', '.join(CHECKS)}")
    parser.add_argument("--seconds", type=float, default=15, help="length of each measurement")
    parser.add_argument("--slow-clients", type=int, default=50, help="slow clients at once in the last round")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR / "production_check.json")
    args = parser.parse_args(argv)
    args.checks = [name.strip() for name in args.checks.split(",") if name.strip()]
    unknown = set(args.checks) - set(CHECKS)
    if unknown:
        parser.error(f"unknown checks: {', '.join(sorted(unknown))}")
    return args


# --- requests ---------------------------------------------------------------------------------


def timed_request(url: str, body: bytes | None = None, token: str | None = None) -> Probe:
    """One request; ok means HTTP 200 and, for GraphQL, an answer without errors."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
    started = time.monotonic()
    try:
        with OPENER.open(request, timeout=REQUEST_TIMEOUT) as response:
            payload = json.loads(response.read())
        errors = payload.get("errors") if isinstance(payload, dict) else None
        detail = errors[0]["extensions"]["code"] if errors else ""
        return Probe(started, (time.monotonic() - started) * 1000, not errors, detail)
    except urllib.error.HTTPError as error:
        return Probe(started, (time.monotonic() - started) * 1000, False, f"HTTP {error.code}")
    except OSError as error:
        return Probe(started, (time.monotonic() - started) * 1000, False, type(error).__name__)


def probe_until(deadline: float, ask: Callable[[], Probe], log: ProbeLog, interval: float = 0.0) -> None:
    while time.monotonic() < deadline:
        log.probes.append(ask())
        if interval:
            time.sleep(interval)


def probing(ask: Callable[[], Probe], interval: float = PROBE_INTERVAL) -> tuple[ProbeLog, Callable[[], None]]:
    """Start a client asking every `interval` in a thread; returns its log and a stop function."""
    log, stopped = ProbeLog(), threading.Event()

    def run() -> None:
        while not stopped.is_set():
            log.probes.append(ask())
            stopped.wait(interval)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def stop() -> None:
        stopped.set()
        thread.join(timeout=REQUEST_TIMEOUT + 5)

    return log, stop


# --- slow clients -----------------------------------------------------------------------------


class SlowClient(threading.Thread):
    """Sends a valid home-screen request one byte a second until told to stop."""

    def __init__(self, port: int, body: bytes) -> None:
        super().__init__(daemon=True)
        head = f"POST /graphql HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        self.payload = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        self.port = port
        self.stopped = threading.Event()
        self.bytes_sent = 0

    def run(self) -> None:
        with socket.create_connection((HOST, self.port), timeout=5) as connection:
            for byte in self.payload:
                if self.stopped.is_set():
                    return
                connection.sendall(bytes([byte]))
                self.bytes_sent += 1
                self.stopped.wait(1.0)


def slow_client_check(url: str, token: str, seconds: float, many: int) -> dict:
    """Home-screen latency alone, then beside one slow client, then beside `many`."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    body = home_screen_body()

    def ask() -> Probe:
        return timed_request(url, body, token)

    rows = []
    for slow_count in (0, 1, many):
        clients = [SlowClient(port, body) for _ in range(slow_count)]
        for client in clients:
            client.start()
        time.sleep(2 if clients else 0)  # let each slow client get its thread
        log = ProbeLog()
        probe_until(time.monotonic() + seconds, ask, log)
        for client in clients:
            client.stopped.set()
        rows.append(
            {
                "slow_clients": slow_count,
                "requests": len(log.probes),
                "failed": len(log.failed()),
                "median_ms": log.median_ms(),
                "max_ms": log.max_ms(),
                "slow_bytes_sent": sum(client.bytes_sent for client in clients),
            }
        )
        print_row("slow clients", rows[-1])
    return {"rows": rows}


# --- PostgreSQL restart -----------------------------------------------------------------------


def postgres_cluster() -> tuple[str, str]:
    listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout.split()
    return listed[0], listed[1]


def postgres_restart_check(url: str, token: str, seconds: float) -> dict:
    version, cluster = postgres_cluster()
    body = home_screen_body()
    log, stop = probing(lambda: timed_request(url, body, token))
    time.sleep(seconds / 3)
    restart_began = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart", "-m", "fast"], check=True
    )
    restart_ended = time.monotonic()
    time.sleep(seconds * 2 / 3)
    stop()
    return recovery_summary(log, restart_began, restart_ended, "PostgreSQL restart")


def recovery_summary(log: ProbeLog, fault_began: float, fault_ended: float, label: str) -> dict:
    """Failed requests, and how long after the fault ended until the first success that
    was followed by no more failures."""
    after = [probe for probe in log.probes if probe.at >= fault_began]
    last_failure = max((probe.at for probe in after if not probe.ok), default=None)
    recovered = next((p for p in after if p.ok and (last_failure is None or p.at > last_failure)), None)
    summary = {
        "requests": len(log.probes),
        "failed": len(log.failed()),
        "failed_after_fault": sum(1 for probe in log.failed() if probe.at > fault_ended),
        "failures": sorted({probe.detail for probe in log.failed()}),
        "fault_seconds": round(fault_ended - fault_began, 2),
        "recovered_after_fault_s": round(max(0.0, recovered.at - fault_ended), 2) if recovered else None,
        "median_ms": log.median_ms(),
    }
    print_row(label, summary)
    return summary


# --- Redis down -------------------------------------------------------------------------------


def redis_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", "-p", str(REDIS_PORT), *arguments], capture_output=True, text=True)


def start_redis() -> None:
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


def persisted_home_screen(url: str, token: str) -> Callable[[], Probe]:
    """The Apollo client's way: the hash alone, and the full query when the server lacks it."""
    by_hash, with_query = persisted_home_screen_bodies()

    def ask() -> Probe:
        probe = timed_request(url, by_hash, token)
        if probe.detail == "PERSISTED_QUERY_NOT_FOUND":
            retried = timed_request(url, with_query, token)
            return Probe(probe.at, probe.ms + retried.ms, retried.ok, retried.detail or "resent with query")
        return probe

    return ask


def readiness(base_url: str) -> int:
    try:
        with OPENER.open(f"{base_url}/readyz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def redis_down_check(url: str, token: str, seconds: float) -> dict:
    base_url = url.removesuffix("/graphql")
    plain_log, stop_plain = probing(lambda: timed_request(url, home_screen_body(), token))
    persisted_log, stop_persisted = probing(persisted_home_screen(url, token))
    time.sleep(seconds / 3)
    ready_before = readiness(base_url)
    fault_began = time.monotonic()
    redis_cli("shutdown", "nosave")
    time.sleep(seconds / 3)
    ready_during = readiness(base_url)
    start_redis()
    fault_ended = time.monotonic()
    time.sleep(seconds / 3)
    ready_after = readiness(base_url)
    stop_plain()
    stop_persisted()
    return {
        "plain": recovery_summary(plain_log, fault_began, fault_ended, "Redis down, plain query"),
        "persisted": recovery_summary(persisted_log, fault_began, fault_ended, "Redis down, by hash"),
        "readyz": {"before": ready_before, "during": ready_during, "after": ready_after},
    }


# --- running ----------------------------------------------------------------------------------


def print_row(label: str, row: dict) -> None:
    print(f"{label:28} " + ", ".join(f"{key}={value}" for key, value in row.items()), flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    prepare_database(args.database_url, args.friends)
    env = {**django_env(args.database_url), "REDIS_URL": args.redis_url}
    results: dict = {"friends": args.friends, **gunicorn_shape(env)}
    log_path = OUTPUT_DIR / "production_check-web.log"
    with web_server(env, log_path) as (url, _master):
        token = login(url)
        if "slow_client" in args.checks:
            results["slow_client"] = slow_client_check(url, token, args.seconds, args.slow_clients)
        if "postgres_restart" in args.checks:
            results["postgres_restart"] = postgres_restart_check(url, token, args.seconds)
        if "redis_down" in args.checks:
            results["redis_down"] = redis_down_check(url, token, args.seconds)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
