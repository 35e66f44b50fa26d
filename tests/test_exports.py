"""CSV exports in the embedded default (no REDIS_URL: the task runs in-process once the
mutation's transaction commits): `requestEventsExport`, `exportJob`, the file's content
and the download. tests/test_export_worker.py runs the same export through a real Celery
worker and Redis."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError

from calendarapp import exports, tasks
from calendarapp.ids import global_id, parse_global_id
from calendarapp.models import ExportJob, export_storage
from config.celery import app as celery_app
from tests.conftest import legacy_id, utc

REQUEST_EXPORT = """mutation($input: RequestEventsExportInput!) {
  requestEventsExport(input: $input) {
    clientMutationId
    job { id status rowCount downloadUrl error from to }
  }
}"""
EXPORT_JOB = "query($id: ID!) { exportJob(id: $id) { id status rowCount downloadUrl error from to } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on ExportJob { status } } }"
NOT_FOUND_BODY = {"errors": [{"message": "Not found.", "extensions": {"code": "NOT_FOUND"}}]}

# Europe/Paris moves to summer time on 2026-03-29 at 02:00 (UTC+1 to UTC+2): that day lasts
# 23 hours, from 2026-03-28T23:00Z to 2026-03-29T22:00Z.
DST_DAY = "2026-03-29"


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """The embedded default, whatever REDIS_URL the calling shell exports."""
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def no_export_files_left():
    """Each test starts with an empty exports storage (job ids repeat from test to test)."""
    yield
    shutil.rmtree(Path(export_storage().location) / "exports", ignore_errors=True)


@pytest.fixture
def paris(world):
    return world.user("paris", timezone="Europe/Paris")


@pytest.fixture
def token(world, paris) -> str:
    return world.token(paris)


def request_export(gql, django_capture_on_commit_callbacks, token, date_from, date_to, **extra):
    """Run requestEventsExport and then, as after a commit, what it queued; the raw Answer."""
    with django_capture_on_commit_callbacks(execute=True):
        return gql(REQUEST_EXPORT, {"input": {"from": date_from, "to": date_to, **extra}}, token=token)


def finished_job(gql, django_capture_on_commit_callbacks, token, date_from=DST_DAY, date_to=DST_DAY) -> dict:
    """The job of a new export, as exportJob shows it once the export has run."""
    answer = request_export(gql, django_capture_on_commit_callbacks, token, date_from, date_to)
    job_id = answer.ok()["requestEventsExport"]["job"]["id"]
    return gql(EXPORT_JOB, {"id": job_id}, token=token).ok()["exportJob"]


def download(url: str, token: str | None = None, client: Client | None = None):
    """The answer to a GET of `url`, its file read to the end, which is when the test client closes
    it (as a server does once it has sent it); `streaming_content` still gives the body."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = (client or Client()).get(url, **headers)
    if response.streaming:
        response.streaming_content = [b"".join(response.streaming_content)]
    return response


def csv_rows(gql, django_capture_on_commit_callbacks, token, date_from=DST_DAY, date_to=DST_DAY) -> list[dict]:
    """The rows of a finished export's file, as a CSV reader reads them."""
    job = finished_job(gql, django_capture_on_commit_callbacks, token, date_from, date_to)
    assert job["status"] == "DONE", job
    content = b"".join(download(job["downloadUrl"], token).streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(content, newline="")))
    assert job["rowCount"] == len(rows)
    return rows


def single_error(answer, code: str, field: str | None = None) -> dict:
    assert len(answer.errors) == 1, answer.body
    error = answer.errors[0]
    assert error["extensions"]["code"] == code, answer.body
    assert error["extensions"].get("field") == field, answer.body
    return error


# --- requesting and polling ---------------------------------------------------------------------


def test_the_payload_shows_the_job_pending_and_the_poll_shows_it_done(
    gql, world, paris, token, django_capture_on_commit_callbacks
):
    world.event(paris, utc(2026, 3, 29, 9), title="Brunch")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = gql(REQUEST_EXPORT, {"input": {"from": DST_DAY, "to": DST_DAY, "clientMutationId": "x1"}}, token=token)
    payload = answer.ok()["requestEventsExport"]
    job_id = payload["job"]["id"]
    assert payload["clientMutationId"] == "x1"
    assert payload["job"] == {
        "id": job_id,
        "status": "PENDING",
        "rowCount": None,
        "downloadUrl": None,
        "error": None,
        "from": DST_DAY,
        "to": DST_DAY,
    }
    assert len(queued) == 1, "the export is queued when the transaction commits, not before"
    assert ExportJob.objects.get().status == "PENDING"

    queued[0]()

    assert gql(EXPORT_JOB, {"id": job_id}, token=token).ok()["exportJob"] == {
        "id": job_id,
        "status": "DONE",
        "rowCount": 1,
        "downloadUrl": f"/exports/{job_id}/download",
        "error": None,
        "from": DST_DAY,
        "to": DST_DAY,
    }


@pytest.mark.django_db(transaction=True)
def test_in_a_real_request_the_export_runs_once_the_mutation_has_committed(gql, world, paris, token):
    world.event(paris, utc(2026, 3, 29, 9))
    job = gql(REQUEST_EXPORT, {"input": {"from": DST_DAY, "to": DST_DAY}}, token=token).ok()["requestEventsExport"]
    assert job["job"]["status"] == "PENDING"  # the payload is read inside the transaction
    polled = gql(EXPORT_JOB, {"id": job["job"]["id"]}, token=token).ok()["exportJob"]
    assert (polled["status"], polled["rowCount"]) == ("DONE", 1)


def test_the_job_is_a_node_its_owner_can_fetch(gql, world, paris, token, django_capture_on_commit_callbacks):
    job = finished_job(gql, django_capture_on_commit_callbacks, token)
    assert gql(NODE, {"id": job["id"]}, token=token).ok()["node"] == {"id": job["id"], "status": "DONE"}


# --- bad input and atomicity --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date_from", "date_to", "field"),
    [
        ("2026-03-29", "2026-03-28", "to"),
        ("2026-01-01", "2026-02-01", "to"),  # 32 days, over the limit of 31 set below
        ("2026-13-01", "2026-03-28", "from"),
        ("2026-03-01", "29-03-2026", "to"),
        ("9999-12-30", "9999-12-31", "to"),  # ends on the day after the calendar's last day
        ("0001-01-01", "0001-01-02", "from"),  # starts before the calendar's first instant in UTC
    ],
    ids=[
        "to-before-from",
        "range-too-long",
        "from-not-a-date",
        "to-not-a-date",
        "last-day-of-the-calendar",
        "first-day-of-the-calendar",
    ],
)
def test_bad_input_is_bad_user_input_naming_the_field_and_writes_nothing(
    gql, token, settings, django_capture_on_commit_callbacks, date_from, date_to, field
):
    settings.EXPORT_MAX_DAYS = 31
    with django_capture_on_commit_callbacks() as queued:
        answer = gql(REQUEST_EXPORT, {"input": {"from": date_from, "to": date_to}}, token=token)
    single_error(answer, "BAD_USER_INPUT", field)
    assert not ExportJob.objects.exists()
    assert queued == []


def test_a_range_of_exactly_the_longest_allowed_length_is_accepted(
    gql, token, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_MAX_DAYS = 31
    answer = request_export(gql, django_capture_on_commit_callbacks, token, "2026-01-01", "2026-01-31")
    assert answer.ok()["requestEventsExport"]["job"]["status"] == "PENDING"


def test_the_default_limit_is_three_years(gql, token, django_capture_on_commit_callbacks):
    assert request_export(gql, django_capture_on_commit_callbacks, token, "2024-01-01", "2026-12-31").ok()
    too_long = request_export(gql, django_capture_on_commit_callbacks, token, "2024-01-01", "2027-01-01")
    single_error(too_long, "BAD_USER_INPUT", "to")


# --- who may ------------------------------------------------------------------------------------


def test_anonymous_requests_are_unauthenticated_and_write_nothing(gql, token, django_capture_on_commit_callbacks):
    job_id = finished_job(gql, django_capture_on_commit_callbacks, token)["id"]
    with django_capture_on_commit_callbacks() as queued:
        answer = gql(REQUEST_EXPORT, {"input": {"from": DST_DAY, "to": DST_DAY}})
    single_error(answer, "UNAUTHENTICATED")
    assert answer.data == {"requestEventsExport": None}
    assert queued == [] and ExportJob.objects.count() == 1
    single_error(gql(EXPORT_JOB, {"id": job_id}), "UNAUTHENTICATED")


def test_another_users_job_is_null_as_a_missing_one_is(gql, world, token, django_capture_on_commit_callbacks):
    job_id = finished_job(gql, django_capture_on_commit_callbacks, token)["id"]
    stranger = world.token(world.user("stranger"))
    missing_id = global_id("ExportJob", 987654)
    for query in (EXPORT_JOB, NODE):
        for id_ in (job_id, missing_id):
            answer = gql(query, {"id": id_}, token=stranger)
            assert answer.ok() in ({"exportJob": None}, {"node": None})


@pytest.mark.parametrize(
    "bad_id",
    ["not-an-id", global_id("Event", 1), legacy_id("ExportJob", 1)],
    ids=["malformed", "wrong-type", "old-format"],
)
def test_export_job_with_an_id_that_is_not_an_export_jobs_is_bad_user_input(gql, token, bad_id):
    single_error(gql(EXPORT_JOB, {"id": bad_id}, token=token), "BAD_USER_INPUT", "id")


# --- the file -----------------------------------------------------------------------------------


def test_the_csv_holds_the_viewers_own_events_of_those_days_in_their_time_zone(
    gql, world, paris, token, django_capture_on_commit_callbacks
):
    other = world.user("other", timezone="Europe/Paris")
    world.befriend(paris, other)
    world.event(paris, utc(2026, 3, 28, 22), hours=1, title="ends at local midnight")
    overnight = world.event(paris, utc(2026, 3, 28, 22, 30), hours=1, title="over midnight", visibility="PRIVATE")
    early = world.event(paris, utc(2026, 3, 29, 0, 30), hours=1, title="before the change")
    tied_a = world.event(paris, utc(2026, 3, 29, 8), hours=2, title="tied a", all_day=True, visibility="PUBLIC")
    tied_b = world.event(paris, utc(2026, 3, 29, 8), hours=1, title="tied b", description='two\nlines, "quoted"')
    late = world.event(paris, utc(2026, 3, 29, 21, 30), hours=1, title="over the next midnight")
    world.event(paris, utc(2026, 3, 29, 22), hours=1, title="starts at the next local midnight")
    world.event(other, utc(2026, 3, 29, 9), visibility="PUBLIC", title="someone else's")
    for username, status in (("g1", "GOING"), ("g2", "GOING"), ("m", "MAYBE")):
        world.rsvp(world.user(username), tied_a, status)

    rows = csv_rows(gql, django_capture_on_commit_callbacks, token)

    assert list(rows[0]) == list(exports.COLUMNS)
    assert [row["title"] for row in rows] == [
        "over midnight",
        "before the change",
        "tied a",
        "tied b",
        "over the next midnight",
    ]
    assert [row["id"] for row in rows] == [world.id(e) for e in (overnight, early, tied_a, tied_b, late)]
    assert (rows[0]["starts_at"], rows[0]["ends_at"]) == ("2026-03-28T23:30:00+01:00", "2026-03-29T00:30:00+01:00")
    assert (rows[1]["starts_at"], rows[1]["ends_at"]) == ("2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00")
    assert rows[4]["starts_at"] == "2026-03-29T23:30:00+02:00"
    assert rows[2] | {"id": "-"} == {
        "id": "-",
        "title": "tied a",
        "description": "",
        "location": "",
        "starts_at": "2026-03-29T10:00:00+02:00",
        "ends_at": "2026-03-29T12:00:00+02:00",
        "all_day": "true",
        "visibility": "PUBLIC",
        "attendee_count": "2",
    }
    assert (rows[3]["description"], rows[3]["all_day"], rows[3]["attendee_count"]) == (
        'two\nlines, "quoted"',
        "false",
        "0",
    )


def test_the_csv_has_the_same_events_as_the_events_query_over_the_same_days(
    gql, world, paris, token, django_capture_on_commit_callbacks
):
    start = utc(2026, 3, 27, 20)
    for index in range(40):  # every 2.5 hours across 28 and 29 March, and a little beyond
        world.event(paris, start + dt.timedelta(minutes=150 * index), hours=2)
    window = '{ viewer { events(from: "2026-03-28T00:00:00+01:00", to: "2026-03-30T00:00:00+02:00", first: 100) '
    shown = gql(window + "{ edges { node { id } } } } }", token=token).ok()["viewer"]["events"]["edges"]

    rows = csv_rows(gql, django_capture_on_commit_callbacks, token, "2026-03-28", DST_DAY)

    assert [row["id"] for row in rows] == [edge["node"]["id"] for edge in shown]
    assert 0 < len(rows) < 40


def test_a_day_is_the_viewers_day_not_utcs(gql, world, token, django_capture_on_commit_callbacks):
    tokyo = world.user("tokyo", timezone="Asia/Tokyo")
    world.event(tokyo, utc(2026, 3, 28, 16), title="Sunday 01:00 in Tokyo")  # Saturday in UTC
    world.event(tokyo, utc(2026, 3, 29, 16), title="Monday 01:00 in Tokyo")  # Sunday in UTC
    rows = csv_rows(gql, django_capture_on_commit_callbacks, world.token(tokyo))
    assert [(row["title"], row["starts_at"]) for row in rows] == [
        ("Sunday 01:00 in Tokyo", "2026-03-29T01:00:00+09:00")
    ]


def test_an_export_of_no_events_is_the_header_row_alone(gql, token, django_capture_on_commit_callbacks):
    job = finished_job(gql, django_capture_on_commit_callbacks, token)
    content = b"".join(download(job["downloadUrl"], token).streaming_content).decode("utf-8")
    assert content == ",".join(exports.COLUMNS) + "\r\n"
    assert job["rowCount"] == 0


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("Lunch = food", "Lunch = food"),
        ("'quoted", "'quoted"),
    ],
    ids=["equals", "plus", "minus", "at", "tab", "equals-inside", "apostrophe"],
)
def test_cells_that_a_spreadsheet_would_run_as_formulas_start_with_an_apostrophe(
    gql, world, paris, token, django_capture_on_commit_callbacks, text, cell
):
    world.event(paris, utc(2026, 3, 29, 9), title=text, description=text, location=text)
    [row] = csv_rows(gql, django_capture_on_commit_callbacks, token)
    assert (row["title"], row["description"], row["location"]) == (cell, cell, cell)


# --- failures and re-runs -----------------------------------------------------------------------


def test_a_file_that_cannot_be_stored_fails_the_job_with_a_sentence_for_the_user(
    gql, world, paris, token, monkeypatch, django_capture_on_commit_callbacks
):
    world.event(paris, utc(2026, 3, 29, 9))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_storage(), "save", disk_full)
    job = finished_job(gql, django_capture_on_commit_callbacks, token)
    assert (job["status"], job["error"], job["rowCount"], job["downloadUrl"]) == (
        "FAILED",
        exports.FAILED_TO_STORE,
        None,
        None,
    )


def test_an_unexpected_error_fails_the_job_without_its_details(
    gql, world, paris, token, monkeypatch, django_capture_on_commit_callbacks
):
    world.event(paris, utc(2026, 3, 29, 9))

    def broken(row, zone):
        raise KeyError("internal detail")

    monkeypatch.setattr(exports, "csv_cells", broken)
    job = finished_job(gql, django_capture_on_commit_callbacks, token)
    assert (job["status"], job["error"]) == ("FAILED", exports.FAILED_UNEXPECTEDLY)
    assert "internal detail" not in job["error"]


def test_an_export_past_its_time_limit_fails_with_a_reason(
    gql, world, paris, token, monkeypatch, django_capture_on_commit_callbacks
):
    world.event(paris, utc(2026, 3, 29, 9))

    def too_slow(row, zone):
        raise SoftTimeLimitExceeded()  # what Celery raises inside the task at EXPORT_TIME_LIMIT

    monkeypatch.setattr(exports, "csv_cells", too_slow)
    job = finished_job(gql, django_capture_on_commit_callbacks, token)
    assert (job["status"], job["error"], job["downloadUrl"]) == ("FAILED", exports.FAILED_TOO_LONG, None)


def test_every_export_ends_before_redis_would_hand_it_out_again():
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT < settings.CELERY_VISIBILITY_TIMEOUT


def test_a_job_the_queue_cannot_take_stays_pending_and_the_sweep_sends_it_once_the_queue_is_back(
    gql, token, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as broken:
        broken.setattr(tasks.export_events, "apply_async", broker_down)
        job = finished_job(gql, django_capture_on_commit_callbacks, token)
        assert (job["status"], job["error"], job["downloadUrl"]) == ("PENDING", None, None)
        assert exports.sweep(later(settings.EXPORT_REQUEUE_AFTER + 1)) == {"requeued": 1, "given_up": 0, "expired": 0}

    assert exports.sweep(later(settings.EXPORT_REQUEUE_AFTER + 1)) == {"requeued": 1, "given_up": 0, "expired": 0}
    assert ExportJob.objects.get().status == "DONE"


def later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def job_in(status: str, owner, untouched_for: float, **fields) -> ExportJob:
    """A job left in `status`, last updated `untouched_for` seconds ago."""
    job = ExportJob.objects.create(owner=owner, date_from=dt.date(2026, 3, 29), date_to=dt.date(2026, 3, 29))
    ExportJob.objects.filter(pk=job.pk).update(status=status, updated_at=later(-untouched_for), **fields)
    return job


def test_the_sweep_sends_again_only_the_jobs_whose_task_was_lost(world, paris):
    world.event(paris, utc(2026, 3, 29, 9))
    running_lost_after = max(settings.CELERY_TASK_TIME_LIMIT, settings.CELERY_VISIBILITY_TIMEOUT) + 60
    lost_pending = job_in("PENDING", paris, settings.EXPORT_REQUEUE_AFTER + 5, task_id="lost")
    waiting = job_in("PENDING", paris, settings.EXPORT_REQUEUE_AFTER - 5, task_id="queued")
    lost_running = job_in("RUNNING", paris, running_lost_after + 5, task_id="dead worker")
    running = job_in("RUNNING", paris, running_lost_after - 5, task_id="busy worker")
    done = job_in("DONE", paris, 10 * running_lost_after)

    assert exports.sweep() == {"requeued": 2, "given_up": 0, "expired": 0}

    statuses = dict(ExportJob.objects.values_list("pk", "status"))
    assert statuses == {
        lost_pending.pk: "DONE",
        waiting.pk: "PENDING",
        lost_running.pk: "DONE",
        running.pk: "RUNNING",
        done.pk: "DONE",
    }


def test_the_sweep_gives_up_on_a_job_the_queue_never_took(world, paris):
    job = job_in("PENDING", paris, 0)
    ExportJob.objects.filter(pk=job.pk).update(created_at=later(-settings.EXPORT_QUEUE_GIVE_UP - 1))

    assert exports.sweep() == {"requeued": 0, "given_up": 1, "expired": 0}
    job.refresh_from_db()
    assert (job.status, job.error) == ("FAILED", exports.FAILED_TO_QUEUE)


def test_the_sweep_deletes_finished_exports_and_their_files_after_the_retention(
    gql, world, paris, token, django_capture_on_commit_callbacks
):
    world.event(paris, utc(2026, 3, 29, 9))
    kept = finished_job(gql, django_capture_on_commit_callbacks, token)
    expired = finished_job(gql, django_capture_on_commit_callbacks, token)
    failed = job_in("FAILED", paris, settings.EXPORT_RETENTION + 1, error=exports.FAILED_TO_QUEUE)
    expired_row = ExportJob.objects.get(pk=parse_global_id(expired["id"])[1])
    ExportJob.objects.filter(pk=expired_row.pk).update(updated_at=later(-settings.EXPORT_RETENTION - 1))

    assert exports.sweep() == {"requeued": 0, "given_up": 0, "expired": 2}

    assert list(ExportJob.objects.values_list("pk", flat=True)) == [parse_global_id(kept["id"])[1]]
    assert not export_storage().exists(expired_row.file.name)
    assert download(kept["downloadUrl"], token).status_code == 200
    assert download(expired["downloadUrl"], token).status_code == 404
    assert gql(EXPORT_JOB, {"id": expired["id"]}, token=token).data["exportJob"] is None
    assert not ExportJob.objects.filter(pk=failed.pk).exists()


def test_a_user_with_exports_in_progress_up_to_the_limit_must_wait_for_one(
    gql, world, paris, token, django_capture_on_commit_callbacks
):
    in_progress = [job_in(status, paris, 0) for status in ("PENDING", "RUNNING", "PENDING")]
    assert len(in_progress) == settings.EXPORT_MAX_UNFINISHED
    job_in("DONE", paris, 0)
    job_in("PENDING", world.user("berlin"), 0)  # another user's do not count

    refused = request_export(gql, django_capture_on_commit_callbacks, token, DST_DAY, DST_DAY)
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["message"].startswith("You already have 3 exports in progress")
    assert refused.data == {"requestEventsExport": None}
    assert ExportJob.objects.filter(owner=paris).count() == 4  # nothing written

    ExportJob.objects.filter(pk=in_progress[0].pk).update(status="DONE")
    assert finished_job(gql, django_capture_on_commit_callbacks, token)["status"] == "DONE"


def test_of_two_copies_of_a_job_the_first_runs_it_and_the_other_does_nothing(world, paris):
    world.event(paris, utc(2026, 3, 29, 9))
    job = job_in("PENDING", paris, 0, task_id="sent again by the sweep")
    first = ExportJob.objects.filter(pk=job.pk)

    exports.run_export(job.pk, "sent first")  # the older copy comes first: the job is PENDING, it runs it
    assert first.values_list("status", "task_id").get() == ("DONE", "sent first")
    first.update(status="RUNNING", row_count=None)  # as if still running
    exports.run_export(job.pk, "sent again by the sweep")  # the job is taken: nothing to do
    assert first.values_list("status", "row_count").get() == ("RUNNING", None)
    exports.run_export(job.pk, "sent first")  # the same task delivered again after its worker died
    assert first.values_list("status", "row_count").get() == ("DONE", 1)


def test_a_job_delivered_again_after_a_crash_is_written_from_scratch(
    gql, world, paris, token, django_capture_on_commit_callbacks
):
    world.event(paris, utc(2026, 3, 29, 9))
    world.event(paris, utc(2026, 3, 29, 10))
    job = ExportJob.objects.create(owner=paris, date_from=dt.date(2026, 3, 29), date_to=dt.date(2026, 3, 29))
    # What a worker killed mid-way leaves: RUNNING, and a partial file where the file goes.
    ExportJob.objects.filter(pk=job.pk).update(status="RUNNING", row_count=1)
    storage = export_storage()
    storage.save(exports.file_name(job), io.BytesIO(b"partial,row\r\n"))

    tasks.export_events.delay(job.pk)

    job.refresh_from_db()
    assert (job.status, job.row_count, job.file.name) == ("DONE", 2, exports.file_name(job))
    with job.file.open("rb") as file:
        content = file.read().decode()
    assert content.startswith("id,title") and "partial" not in content
    assert storage.listdir(f"exports/{paris.pk}")[1] == [f"{job.pk}.csv"]


def test_a_finished_job_delivered_again_is_left_alone(gql, world, paris, token, django_capture_on_commit_callbacks):
    world.event(paris, utc(2026, 3, 29, 9))
    job_id = finished_job(gql, django_capture_on_commit_callbacks, token)["id"]
    job = ExportJob.objects.get()
    world.event(paris, utc(2026, 3, 29, 10))

    tasks.export_events.delay(job.pk)

    again = ExportJob.objects.get()
    assert (again.status, again.row_count, again.updated_at) == ("DONE", 1, job.updated_at)
    assert gql(EXPORT_JOB, {"id": job_id}, token=token).ok()["exportJob"]["rowCount"] == 1


# --- the download -------------------------------------------------------------------------------


def test_the_owner_downloads_the_file_as_a_streamed_csv_attachment(
    gql, world, paris, token, django_capture_on_commit_callbacks
):
    world.event(paris, utc(2026, 3, 29, 9), title="Brunch")
    job = finished_job(gql, django_capture_on_commit_callbacks, token, "2026-03-01", "2026-03-31")

    response = download(job["downloadUrl"], token)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="events-2026-03-01-to-2026-03-31.csv"'
    assert response["Cache-Control"] == "private, no-store"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.splitlines()[1].split(",")[1] == "Brunch"
    assert int(response["Content-Length"]) == len(body.encode())


def test_the_owner_downloads_with_a_browser_session_too(gql, world, paris, token, django_capture_on_commit_callbacks):
    job = finished_job(gql, django_capture_on_commit_callbacks, token)
    browser = Client()
    browser.force_login(paris)
    assert download(job["downloadUrl"], client=browser).status_code == 200


def test_anyone_but_the_owner_gets_the_same_404_as_for_a_missing_file(
    gql, world, paris, token, django_capture_on_commit_callbacks
):
    job = finished_job(gql, django_capture_on_commit_callbacks, token)
    stranger = Client()
    stranger.force_login(world.user("stranger"))
    pending = ExportJob.objects.create(owner=paris, date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 2))
    attempts = {
        "anonymous": download(job["downloadUrl"]),
        "another user's token": download(job["downloadUrl"], world.token(world.user("other"))),
        "another user's session": download(job["downloadUrl"], client=stranger),
        "an invalid token": download(job["downloadUrl"], "not-a-token"),
        "a missing job": download(f"/exports/{global_id('ExportJob', 987654)}/download", token),
        "a malformed id": download("/exports/garbage/download", token),
        "an event's id": download(f"/exports/{global_id('Event', parse_global_id(job['id'])[1])}/download", token),
        "the job's id in the old format": download(
            f"/exports/{legacy_id('ExportJob', parse_global_id(job['id'])[1])}/download", token
        ),
        "a job not done": download(f"/exports/{global_id('ExportJob', pending.pk)}/download", token),
    }
    for attempt, response in attempts.items():
        assert (response.status_code, response.json()) == (404, NOT_FOUND_BODY), attempt


def test_a_done_job_whose_file_is_gone_is_404(gql, world, paris, token, django_capture_on_commit_callbacks):
    job = finished_job(gql, django_capture_on_commit_callbacks, token)
    export_storage().delete(ExportJob.objects.get().file.name)
    assert download(job["downloadUrl"], token).status_code == 404


def test_the_download_answers_get_only(gql, token, django_capture_on_commit_callbacks):
    job = finished_job(gql, django_capture_on_commit_callbacks, token)
    response = Client().post(job["downloadUrl"], HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405
