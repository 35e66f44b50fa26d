"""A real Celery worker for the tests: a `celery worker` subprocess on Redis and on the
test database, and the test process's Celery app sending to that worker's queue.

Each test gets a queue of its own on Redis database 12 (EXPORT_TEST_REDIS_URL), so test
runs in the same checkout at the same time never take each other's tasks; the queue's
keys are deleted afterwards, and nothing else in that database is touched.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import kombu.pools
import redis
from django.conf import settings
from django.db import connection

from bench.celery_process import CeleryWorker, delete_queue as delete_redis_queue, worker_command
from config.celery import app as celery_app

REDIS_URL = os.environ.get("EXPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
# Redis hands an unacknowledged task to another worker after this many seconds.
VISIBILITY_TIMEOUT = 2
STARTUP_TIMEOUT = 30


def new_queue_name() -> str:
    return f"export-tests-{uuid.uuid4().hex[:12]}"


def delete_queue(queue: str) -> None:
    """Remove what kombu keeps in Redis for `queue` (the list and its binding)."""
    delete_redis_queue(REDIS_URL, queue)


def unacknowledged_tasks(queue: str) -> int:
    """How many tasks of `queue` a worker has taken from Redis and not acknowledged: kombu
    keeps each in the `unacked` hash, as (message, exchange, routing key), until then."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return sum(json.loads(entry)[2] == queue for entry in client.hvals("unacked"))
    finally:
        client.close()


def database_url_for_workers() -> str:
    """The test database as a DATABASE_URL, for a worker process to use."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    if connection.vendor != "postgresql":
        raise RuntimeError(f"No worker test set-up for {connection.vendor}")
    credentials = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def sending_to(queue: str):
    """The test process's Celery app sends tasks to `queue` on Redis (not in-process) for a while."""
    return broker_at(REDIS_URL, task_default_queue=queue)


@contextmanager
def broker_at(url: str, **more_settings: str) -> Iterator[None]:
    """The test process's Celery app sends tasks to the broker at `url` for a while."""
    conf = celery_app.conf
    changes = {"broker_url": url, "task_always_eager": False, **more_settings}
    saved = {name: conf[name] for name in changes}
    conf.update(changes)
    _forget_connections()
    try:
        yield
    finally:
        _forget_connections()
        conf.update(saved)
        _forget_connections()


def _forget_connections() -> None:
    """Close the broker connections and drop the routing made from the previous settings
    (Celery builds them once, from the configuration of the moment, and kombu keeps its
    connection pools in a registry of its own)."""
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.__dict__.pop("amqp", None)


def start_worker(
    queue: str, log_path: Path, app: str = "config", pool: str = "solo", extra_env: dict[str, str] | None = None
) -> CeleryWorker:
    """A worker (bench/celery_process.py) on `queue`, the test database and the test settings,
    ready to work; `app` may be another Celery app module (tests/export_worker_hooks.py)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_for_workers(),
        "REDIS_URL": REDIS_URL,
        "EXPORT_ROOT": str(settings.STORAGES["exports"]["OPTIONS"]["location"]),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    return CeleryWorker(worker_command(queue, app, pool), env, log_path, STARTUP_TIMEOUT).start()


def wait_for(condition: Callable[[], object], timeout: float, what: str, *workers: CeleryWorker) -> object:
    """Poll `condition` until it is truthy (returning its value), or fail after `timeout`
    seconds, with the workers' logs in the message."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline or any(worker.process and not worker.alive() for worker in workers):
            logs = "\n".join(f"--- {worker.log_path.name}:\n{worker.log()[-4000:]}" for worker in workers)
            raise AssertionError(f"Gave up waiting for {what} after {timeout} s.\n{logs}")
        time.sleep(0.05)
