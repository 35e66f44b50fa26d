"""A `celery worker` process, started and stopped one way by everything that needs a real one:
the worker tests (tests/celery_worker.py), the export bench (bench/export_memory.py) and the
fault check (scripts/fault_check.py).

The worker runs in its own process group, so that a kill reaches its pool's processes too; its
log goes to a file, appended across restarts; `start()` returns once the worker has logged
that it is ready, and stops it (and says why, with the log's end) if it never does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis

from bench.harness import ROOT, procfile_command, worker_pids

STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 30
READY = " ready."  # what celery logs once the worker consumes


def worker_command(queue: str, app: str = "config", pool: str = "solo") -> list[str]:
    """`celery -A <app> worker` on `queue` alone, one task at a time, under a hostname of its own
    (several may run at once), without the cluster chatter a lone worker does not need."""
    return [
        sys.executable, "-m", "celery", "-A", app, "worker",
        f"--pool={pool}", "--concurrency=1", "--queues", queue,
        "--hostname", f"{queue}-{uuid.uuid4().hex[:6]}@%h", "--loglevel=INFO",
        "--without-mingle", "--without-gossip", "--without-heartbeat",
    ]  # fmt: skip


def procfile_worker_command() -> list[str]:
    """The Procfile's `worker:` line, run as the platform runs it: `env` applies the line's
    VAR=value prefixes (`exec` alone would not), and `exec` keeps one pid."""
    return ["bash", "-c", f"exec env {procfile_command('worker')}"]


class CeleryWorker:
    """One worker process: `command` run in `env` from the repository, its output in `log_path`."""

    def __init__(
        self, command: list[str], env: dict[str, str], log_path: Path, startup_timeout: float = STARTUP_TIMEOUT
    ) -> None:
        self.command, self.env, self.log_path = command, env, log_path
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None

    def start(self) -> CeleryWorker:
        """Start the worker and wait until it is ready (a restart waits for a new "ready")."""
        readies = self.log().count(READY)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + self.startup_timeout
        while self.log().count(READY) == readies:
            if not self.alive() or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"The Celery worker did not start ({self.log_path}):\n{self.log()[-3000:]}")
            time.sleep(0.05)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pool_processes(self) -> list[int]:
        return worker_pids(self.process.pid)

    def kill(self) -> None:
        """SIGKILL the worker and its pool: nothing acknowledged, nothing given back."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the worker and its pool (celery's warm shutdown), SIGKILL them if still there later."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()


def delete_queue(redis_url: str, queue: str) -> None:
    """Remove what kombu keeps in Redis for `queue` (the list and its binding); nothing else."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
