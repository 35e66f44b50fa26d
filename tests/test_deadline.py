"""The request deadline (config/deadline.py, issue 11): no request works past
REQUEST_DEADLINE_SECONDS. What has not started when it passes (operations of a batch, root
mutation fields, loader batches, chunks of an in-process export) is answered with a clear
INTERNAL_SERVER_ERROR; what was done keeps its data; one warning is logged per request."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings

from calendarapp import exports
from calendarapp.models import Event, ExportJob
from config import deadline as request_deadline
from config.deadline import RECEIVED_AT, Deadline, DeadlineExceeded
from schema.auth import Credentials
from schema.context import RequestContext
from schema.pipeline import run_operation
from tests.conftest import utc

VIEWER = "query Me { viewer { username } }"
CREATE_EVENT = """mutation($input: CreateEventInput!) { createEvent(input: $input) { event { title } } }"""
TWO_EVENTS = """mutation($a: CreateEventInput!, $b: CreateEventInput!) {
  first: createEvent(input: $a) { event { title } }
  second: createEvent(input: $b) { event { title } }
}"""
FRIENDS_AND_COUNTS = """query($date: Date!) {
  viewer { username friends(first: 10) { totalCount edges { node { username friendCount eventCount(date: $date) } } } }
}"""


def deadline_message(seconds: float) -> str:
    return f"The request reached its time limit of {seconds:g} s before this could run; nothing of it was done."


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestDeadline:
    def test_remaining_and_expired_follow_the_clock(self):
        clock = Clock()
        deadline = Deadline(5, clock=clock)
        assert deadline.remaining() == 5 and not deadline.expired()
        clock.now += 4.5
        assert deadline.remaining() == pytest.approx(0.5) and deadline.elapsed() == pytest.approx(4.5)
        deadline.check()
        clock.now += 0.5
        assert deadline.expired() and deadline.remaining() == 0
        with pytest.raises(DeadlineExceeded) as raised:
            deadline.check()
        assert str(raised.value) == deadline_message(5)

    def test_it_counts_from_the_instant_given(self):
        clock = Clock()
        assert Deadline(5, started=clock.now - 6, clock=clock).expired()

    def test_cuts_are_counted_by_kind_and_nothing_is_recorded_for_none(self):
        deadline = Deadline(1)
        deadline.cut("operations")
        deadline.cut("operations")
        deadline.cut("fields", 0)
        assert deadline.cuts == {"operations": 2}

    def test_check_outside_a_request_does_nothing(self):
        assert request_deadline.current() is None
        request_deadline.check()

    def test_running_makes_it_current_then_restores_the_previous_one(self):
        clock = Clock()
        expired = Deadline(1, started=clock.now - 2, clock=clock)
        with request_deadline.running(expired):
            assert request_deadline.current() is expired
            with pytest.raises(DeadlineExceeded):
                request_deadline.check()
        assert request_deadline.current() is None

    def test_each_thread_sees_its_own_requests_deadline(self):
        seen = []
        with request_deadline.running(Deadline(1)):
            thread = threading.Thread(target=lambda: seen.append(request_deadline.current()))
            thread.start()
            thread.join()
        assert seen == [None]


class TestRequestDeadlineMiddleware:
    def seen_by_a_view(self, request) -> tuple[Deadline | None, Deadline | None]:
        """(request.deadline, current()) as a view behind the middleware sees them."""
        seen = []

        def view(request):
            seen.append((request.deadline, request_deadline.current()))
            return HttpResponse()

        request_deadline.RequestDeadlineMiddleware(view)(request)
        assert request_deadline.current() is None  # not beyond the request
        return seen[0]

    def test_a_request_counts_from_when_the_web_process_received_it(self):
        """The bridge passes the instant it received the headers (config/asgi_bridge.py): a
        request that waited 30 s for its body and a thread has no time left."""
        deadline, current = self.seen_by_a_view(RequestFactory().get("/", **{RECEIVED_AT: time.monotonic() - 30}))
        assert current is deadline and deadline.expired()

    def test_without_the_bridge_it_counts_from_when_django_starts_on_the_request(self):
        deadline, current = self.seen_by_a_view(RequestFactory().get("/"))
        assert current is deadline and deadline.seconds == 25 and 24 < deadline.remaining() <= 25

    @override_settings(REQUEST_DEADLINE_SECONDS=0)
    def test_zero_means_no_deadline(self, gql, world):
        answer = gql.post({"query": VIEWER}, **{RECEIVED_AT: time.monotonic() - 3600})
        assert answer.ok() == {"viewer": None}


def viewer_with_friends(world, count: int = 3):
    viewer = world.user("viewer")
    for index in range(count):
        friend = world.user(f"friend{index}")
        world.befriend(viewer, friend)
        world.event(friend, utc(2026, 11, 23, 9 + index))
    return viewer


@pytest.mark.django_db
class TestExecutor:
    def run(self, viewer, deadline: Deadline, advance_at: str | None = None, clock: Clock | None = None):
        """FRIENDS_AND_COUNTS for `viewer` under `deadline`, the clock moved past it by the
        first SQL statement that mentions `advance_at`."""

        def passing_time(execute, sql, params, many, context):
            if advance_at and advance_at in sql:
                clock.now += 3600
            return execute(sql, params, many, context)

        context = RequestContext(None, Credentials(viewer), deadline=deadline)
        with connection.execute_wrapper(passing_time):
            return run_operation(FRIENDS_AND_COUNTS, {"date": "2026-11-23"}, None, context).body

    def test_fields_waiting_on_loaders_after_the_deadline_get_the_error_and_the_rest_keep_their_data(self, world):
        viewer = viewer_with_friends(world)
        clock = Clock()
        deadline = Deadline(10, clock=clock)
        # The friends' page is the first batch; the deadline passes while it runs, so the
        # next batch (friendCount, eventCount) is never dispatched.
        body = self.run(viewer, deadline, advance_at="calendarapp_friendship", clock=clock)
        friends = body["data"]["viewer"]["friends"]
        assert body["data"]["viewer"]["username"] == "viewer" and friends["totalCount"] == 3
        assert friends["edges"] == [{"node": None}] * 3  # friendCount and eventCount are non-null
        assert {error["message"] for error in body["errors"]} == {deadline_message(10)}
        assert {error["extensions"]["code"] for error in body["errors"]} == {"INTERNAL_SERVER_ERROR"}
        assert sorted(error["path"][3] for error in body["errors"]) == [0, 1, 2]
        assert deadline.cuts == {"fields": len(body["errors"])}

    def test_no_sql_runs_after_the_deadline(self, world, django_assert_num_queries):
        viewer = viewer_with_friends(world)
        clock = Clock()
        with django_assert_num_queries(0):
            body = self.run(viewer, Deadline(10, started=clock.now - 11, clock=clock), clock=clock)
        assert body["data"] == {"viewer": None}  # friends is non-null: its error nulls the viewer
        [error] = body["errors"]
        assert error["path"] == ["viewer", "friends"] and error["message"] == deadline_message(10)

    def test_within_the_deadline_everything_is_answered(self, world):
        viewer = viewer_with_friends(world)
        body = self.run(viewer, Deadline(10, clock=Clock()))
        assert "errors" not in body
        assert [edge["node"]["eventCount"] for edge in body["data"]["viewer"]["friends"]["edges"]] == [1, 1, 1]

    def test_root_mutation_fields_not_started_get_the_error_and_write_nothing(self, world):
        viewer = world.user("viewer")
        clock = Clock()
        deadline = Deadline(10, clock=clock)

        def passing_time(execute, sql, params, many, context):
            if sql.startswith("INSERT") and "calendarapp_event" in sql:
                clock.now += 3600  # the first createEvent's write takes all the time left
            return execute(sql, params, many, context)

        event = {"startsAt": "2026-11-23T09:00:00+00:00", "endsAt": "2026-11-23T10:00:00+00:00"}
        variables = {"a": {**event, "title": "First"}, "b": {**event, "title": "Second"}}
        with connection.execute_wrapper(passing_time):
            body = run_operation(
                TWO_EVENTS, variables, None, RequestContext(None, Credentials(viewer), deadline=deadline)
            ).body
        assert body["data"] == {"first": {"event": {"title": "First"}}, "second": None}
        [error] = body["errors"]
        assert error["path"] == ["second"] and error["message"] == deadline_message(10)
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert list(Event.objects.values_list("title", flat=True)) == ["First"]
        assert deadline.cuts == {"fields": 1}


@pytest.mark.django_db
class TestView:
    def test_a_request_that_arrives_too_late_runs_nothing_and_is_503(self, gql, world, django_assert_num_queries):
        token = world.token(world.user("viewer"))
        late = {RECEIVED_AT: time.monotonic() - 26}
        single = gql.post({"query": VIEWER}, token=token, **late)
        assert single.status == 503
        assert single.body == {
            "errors": [{"message": deadline_message(25), "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
        }
        batch = gql.post([{"query": VIEWER}, {"query": CREATE_EVENT}], token=token, **late)
        assert batch.status == 503 and len(batch.body) == 2
        assert all(result == single.body for result in batch.body)
        assert not Event.objects.exists()

    @override_settings(REQUEST_DEADLINE_SECONDS=10)
    def test_operations_not_started_each_carry_the_error_and_the_others_their_data(self, gql, world, caplog):
        token = world.token(world.user("viewer"))
        # The request arrived 8 s ago: the first operation starts, then its friendCount batch
        # takes past the deadline, so the other two never start.
        counted = {"query": "query Me { viewer { username friendCount } }", "operationName": "Me"}
        batch = [counted, counted, {"query": "{ viewer { id } }"}]

        def slow_friend_count(execute, sql, params, many, context):
            if "calendarapp_friendship" in sql:
                time.sleep(2.5)
            return execute(sql, params, many, context)

        with caplog.at_level(logging.INFO, logger="calendar"), connection.execute_wrapper(slow_friend_count):
            answer = gql.post(batch, token=token, **{RECEIVED_AT: time.monotonic() - 8})
        assert answer.status == 200
        first, *cut = answer.body
        assert first == {"data": {"viewer": {"username": "viewer", "friendCount": 0}}}
        error = {"message": deadline_message(10), "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        assert cut == [{"errors": [error]}, {"errors": [error]}]
        [warning] = [record for record in caplog.records if record.name == "calendar.deadline"]
        [logged] = [record.fields for record in caplog.records if record.name == "calendar.request"]
        assert warning.levelno == logging.WARNING and warning.fields["cut"] == {"operations": 2}
        assert warning.fields["request_id"] == logged["request_id"] and warning.fields["elapsed_ms"] >= 10_000
        assert logged["operations"] == ["Me", "Me", None]

    def test_a_request_within_its_deadline_logs_no_warning(self, gql, world, caplog):
        with caplog.at_level(logging.INFO, logger="calendar"):
            gql.post([{"query": VIEWER}] * 3, token=world.token(world.user("viewer")))
        assert not [record for record in caplog.records if record.name == "calendar.deadline"]


def logins_operation(index: int, aliases: int = 20) -> dict:
    fields = "\n".join(
        f'l{n}: login(input: {{username: "nobody{index}-{n}", password: "guess-{n}"}}) {{ token }}'
        for n in range(aliases)
    )
    return {"query": f"mutation Logins{index} {{ {fields} }}", "operationName": f"Logins{index}"}


@pytest.mark.django_db
def test_a_batch_of_400_password_checks_ends_at_the_deadline(settings, caplog):
    """The attack of issue 11: a batch of 20 operations, each of 20 aliased logins, 400 password
    checks (Django's PBKDF2, about 0.3 s each here: two minutes in all). Django checks a
    password even for an unknown username, so that both take as long."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    settings.REQUEST_DEADLINE_SECONDS = 1.5
    one_check = timed(lambda: PBKDF2PasswordHasher().encode("guess", "somesalt"))
    batch = [logins_operation(index) for index in range(20)]
    with caplog.at_level(logging.INFO, logger="calendar"):
        began = time.monotonic()
        response = Client().post("/graphql", json.dumps(batch), content_type="application/json")
        elapsed = time.monotonic() - began
    # The deadline, plus the password check under way when it passed, plus generous room for a
    # busy machine; all 400 checks would take 400 x one_check.
    assert elapsed < 1.5 + one_check + 5, (elapsed, one_check)
    assert 400 * one_check > 10 * elapsed
    answers = response.json()
    assert response.status_code == 200 and len(answers) == 20
    outcomes = [login for answer in answers for login in login_outcomes(answer)]
    tried, cut = outcomes.count("tried"), outcomes.count("cut")
    assert tried + cut == 400 and 1 <= tried < 100
    assert outcomes == ["tried"] * tried + ["cut"] * cut  # nothing ran once the deadline had passed
    not_started = [answer for answer in answers if "data" not in answer]
    assert len(not_started) >= 10
    [warning] = [record for record in caplog.records if record.name == "calendar.deadline"]
    assert warning.fields["cut"] == {"operations": len(not_started), "fields": cut - 20 * len(not_started)}
    assert warning.fields["request_id"] == response["X-Request-ID"]


def login_outcomes(answer: dict) -> list[str]:
    """For each of the operation's 20 logins, in order: "tried" (a wrong password) or "cut"."""
    deadline_error = {"message": deadline_message(1.5), "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    if "data" not in answer:  # the operation never started
        assert answer == {"errors": [deadline_error]}
        return ["cut"] * 20
    by_field = {}
    for error in answer["errors"]:
        [field] = error["path"]
        assert answer["data"][field] is None
        if error["message"] == deadline_error["message"]:
            by_field[field] = "cut"
        else:
            assert (error["message"], error["extensions"]["code"]) == ("Wrong username or password.", "UNAUTHENTICATED")
            by_field[field] = "tried"
    return [by_field[f"l{n}"] for n in range(20)]


def timed(function) -> float:
    began = time.monotonic()
    function()
    return time.monotonic() - began


@pytest.mark.django_db
class TestInProcessExports:
    """Without REDIS_URL an export runs inside the request that asked for it (Celery's eager
    mode): it checks the request's deadline between chunks of rows."""

    def job_with_events(self, world, count: int) -> ExportJob:
        owner = world.user("owner")
        for hour in range(count):
            world.event(owner, utc(2026, 11, 23, hour))
        return ExportJob.objects.create(
            owner=owner, date_from=utc(2026, 11, 23).date(), date_to=utc(2026, 11, 23).date()
        )

    def test_an_export_past_the_deadline_ends_failed_as_too_long(self, world, monkeypatch):
        job = self.job_with_events(world, 5)
        monkeypatch.setattr(exports, "CHUNK_SIZE", 2)
        clock = Clock()
        deadline = Deadline(10, clock=clock)
        rows = []
        real_cells = exports.csv_cells

        def cells_taking_time(row, zone):
            rows.append(row)
            clock.now += 4  # the deadline passes during the second chunk
            return real_cells(row, zone)

        monkeypatch.setattr(exports, "csv_cells", cells_taking_time)
        with request_deadline.running(deadline):
            exports.run_export(job.pk)
        job.refresh_from_db()
        assert (job.status, job.error, job.file.name) == (ExportJob.Status.FAILED, exports.FAILED_TOO_LONG, "")
        assert len(rows) == 4  # two chunks written, the third never started
        assert deadline.cuts == {"exports": 1}

    def test_an_export_within_the_deadline_is_done(self, world):
        job = self.job_with_events(world, 3)
        with request_deadline.running(Deadline(10, clock=Clock())):
            exports.run_export(job.pk)
        job.refresh_from_db()
        assert (job.status, job.row_count) == (ExportJob.Status.DONE, 3)

    def test_outside_a_request_as_in_the_worker_an_export_has_no_deadline(self, world, monkeypatch):
        job = self.job_with_events(world, 3)
        monkeypatch.setattr(exports, "CHUNK_SIZE", 1)  # a check before every row
        assert request_deadline.current() is None
        exports.run_export(job.pk)
        job.refresh_from_db()
        assert (job.status, job.row_count) == (ExportJob.Status.DONE, 3)
