"""Are other clients still served while slow clients hold connections? (issue 5)

`python -m scripts.production_check [--friends 100] [--slow-clients 50] [--seconds 15]`

Seeds a dedicated PostgreSQL database, starts the `web:` line of the Procfile with production
settings on 127.0.0.1 (gunicorn.conf.py decides the workers) against PostgreSQL and Redis,
logs in as `power`, then measures the home screen's latency for a normal client alone, then
beside one client that sends its request one byte a second, then beside --slow-clients of
them: each holds a connection, and must hold no worker.

Prints a row per round and writes bench-output/production_check.json. Every loop is bounded
in time, and everything stays on 127.0.0.1. The failures production sees (PostgreSQL or Redis
restarted, processes killed) are scripts/fault_check.py's.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import (
    HOST,
    OUTPUT_DIR,
    django_env,
    gunicorn_shape,
    home_screen_body,
    login,
    prepare_database,
    web_server,
)
from bench.probes import Probe, ProbeLog, timed_request

DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/calendar_bench_production"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.production_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dedicated database (created if missing)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--friends", type=int, default=100, help="friends of `power` in the seeded data")
    parser.add_argument("--seconds", type=float, default=15, help="length of each round")
    parser.add_argument("--slow-clients", type=int, default=50, help="slow clients at once in the last round")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR / "production_check.json")
    return parser.parse_args(argv)


def probe_until(deadline: float, ask: Callable[[], Probe], log: ProbeLog, interval: float = 0.0) -> None:
    while time.monotonic() < deadline:
        log.probes.append(ask())
        if interval:
            time.sleep(interval)


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
        results["slow_client"] = slow_client_check(url, token, args.seconds, args.slow_clients)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
