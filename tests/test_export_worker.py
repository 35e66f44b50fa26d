"""Exports through a real Celery worker process and real Redis (redis://127.0.0.1:6379/12,
or EXPORT_TEST_REDIS_URL), on the test database, as the Procfile's `worker:` runs them:
the job committed by the mutation is found by the worker, and a worker killed in the
middle of an export leaves the task to be delivered again and finished.

The tests commit for real (transaction=True) so the worker sees their data; on SQLite the
test database is a file (config/settings/test.py) that the worker opens too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import signal

import pytest
from django.conf import settings
from django.utils import timezone

from bench.celery_process import CeleryWorker
from calendarapp import exports
from calendarapp.models import ExportJob
from tests import celery_worker
from tests.celery_worker import start_worker, wait_for
from tests.conftest import utc

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST_EXPORT = """mutation($input: RequestEventsExportInput!) {
  requestEventsExport(input: $input) { job { id status } }
}"""
EXPORT_JOB = "query($id: ID!) { exportJob(id: $id) { id status rowCount downloadUrl error } }"
DAY = "2026-03-29"  # summer time starts in Paris: a 23-hour day
EXPORT_TIMEOUT = 20


@pytest.fixture
def queue():
    name = celery_worker.new_queue_name()
    with celery_worker.sending_to(name):
        yield name
    celery_worker.delete_queue(name)


@pytest.fixture
def workers(queue, tmp_path):
    """`workers(**options)` starts a worker on the test's queue; all are killed at the end."""
    started: list[CeleryWorker] = []

    def start(**options) -> CeleryWorker:
        started.append(start_worker(queue, tmp_path / f"worker-{len(started)}.log", **options))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture
def paris(world):
    user = world.user("paris", timezone="Europe/Paris")
    for hour in range(0, 20, 4):  # five events on the day, from 01:00 (UTC+1) to 18:00 (UTC+2)
        world.event(user, utc(2026, 3, 29, hour), title=f"At {hour}:00 UTC")
    world.event(user, utc(2026, 3, 29, 22), title="The next day in Paris")
    return user


def request_export(gql, token: str) -> str:
    answer = gql(REQUEST_EXPORT, {"input": {"from": DAY, "to": DAY}}, token=token)
    job = answer.ok()["requestEventsExport"]["job"]
    assert job["status"] == "PENDING"
    return job["id"]


def poll(gql, token: str, job_id: str) -> dict:
    return gql(EXPORT_JOB, {"id": job_id}, token=token).ok()["exportJob"]


def wait_until_done(gql, token: str, job_id: str, *workers: CeleryWorker) -> dict:
    def finished():
        job = poll(gql, token, job_id)
        return job if job["status"] in ("DONE", "FAILED") else None

    return wait_for(finished, EXPORT_TIMEOUT, "the export to finish", *workers)


def downloaded_rows(client, url: str, token: str) -> list[dict]:
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    content = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(content, newline="")))


def test_an_export_through_the_worker_is_done_with_the_right_rows_for_its_owner_only(gql, world, paris, workers):
    worker = workers()
    token = world.token(paris)

    job = wait_until_done(gql, token, request_export(gql, token), worker)

    assert (job["status"], job["rowCount"], job["error"]) == ("DONE", 5, None)
    rows = downloaded_rows(gql.http, job["downloadUrl"], token)
    assert [row["title"] for row in rows] == [f"At {hour}:00 UTC" for hour in range(0, 20, 4)]
    assert [row["starts_at"][-6:] for row in rows] == ["+01:00"] + ["+02:00"] * 4
    stranger = world.token(world.user("stranger"))
    assert gql.http.get(job["downloadUrl"], HTTP_AUTHORIZATION=f"Bearer {stranger}").status_code == 404
    assert poll(gql, stranger, job["id"]) is None


def test_a_worker_killed_mid_export_leaves_the_task_to_a_new_worker(gql, world, paris, queue, workers, tmp_path):
    pause_file = tmp_path / "paused"
    hooked = {"app": "tests.export_worker_hooks", "extra_env": {"EXPORT_TEST_PAUSE_FILE": str(pause_file)}}
    first = workers(**hooked)
    token = world.token(paris)
    job_id = request_export(gql, token)
    wait_for(pause_file.exists, EXPORT_TIMEOUT, "the export to pause after its first row", first)
    assert poll(gql, token, job_id)["status"] == "RUNNING"

    first.kill()
    assert poll(gql, token, job_id)["status"] == "RUNNING"
    assert celery_worker.unacknowledged_tasks(queue) == 1  # still Redis's to give to another worker
    second = workers()
    job = wait_until_done(gql, token, job_id, second)

    assert (job["status"], job["rowCount"]) == ("DONE", 5)
    # The task is acknowledged once it has returned, a moment after it marked the job DONE.
    acknowledged = lambda: celery_worker.unacknowledged_tasks(queue) == 0  # noqa: E731
    wait_for(acknowledged, EXPORT_TIMEOUT, "the second worker to acknowledge the task", second)
    assert len(downloaded_rows(gql.http, job["downloadUrl"], token)) == 5
    stored = ExportJob.objects.get()
    assert stored.file.storage.listdir(os.path.dirname(stored.file.name))[1] == [os.path.basename(stored.file.name)]
    assert "calendarapp.export_events" in second.log()


def test_a_pool_process_killed_mid_export_hands_the_task_back_at_once(gql, world, paris, workers, tmp_path):
    pause_file = tmp_path / "paused"
    worker = workers(
        app="tests.export_worker_hooks",
        pool="prefork",
        extra_env={"EXPORT_TEST_PAUSE_FILE": str(pause_file)},
    )
    token = world.token(paris)
    job_id = request_export(gql, token)
    wait_for(pause_file.exists, EXPORT_TIMEOUT, "the export to pause after its first row", worker)

    os.kill(int(pause_file.read_text()), signal.SIGKILL)  # the pool process running the task
    job = wait_until_done(gql, token, job_id, worker)

    assert (job["status"], job["rowCount"]) == ("DONE", 5)
    assert "WorkerLostError" in worker.log()
    assert len(downloaded_rows(gql.http, job["downloadUrl"], token)) == 5


def test_a_job_the_broker_could_not_take_waits_for_the_sweep(gql, world, paris):
    token = world.token(paris)
    with celery_worker.broker_at("redis://127.0.0.1:1/0"):  # nothing listens on port 1
        job_id = request_export(gql, token)
    job = poll(gql, token, job_id)
    assert (job["status"], job["error"], job["downloadUrl"]) == ("PENDING", None, None)

    exports.sweep(timezone.now() + dt.timedelta(seconds=settings.EXPORT_REQUEUE_AFTER + 1))  # the broker is back
    assert poll(gql, token, job_id)["status"] == "DONE"
