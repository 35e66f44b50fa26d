"""The promise: every operation of the app costs the same SQL queries at any
data size, and exactly the queries in its committed snapshot.

Each operation in tests/operations runs against a small and a large demo world
(3 and 60 friends). A new N+1 shows up as a count that differs between the two
and from tests/snapshots/<database>/<operation>.sql, with the new statements.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from calendarapp.ids import global_id
from calendarapp.models import AuthToken, Event, ExportJob, FriendRequest, User
from tests import query_snapshots
from tests.conftest import GraphQLClient, World

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS_DIR = Path(__file__).parent / "operations"
SIZES = (3, 60)
DAY = "2026-11-23"
# The home screen's budget (issue 2): at most 7 queries, authentication included.
MAX_HOME_SCREEN_QUERIES = 7


def seed(friends: int) -> tuple[User, str]:
    call_command("seed_demo", friends=friends, events_per_day=4, days=1, attendees=3, stdout=StringIO())
    power = User.objects.get(username="power")
    return power, AuthToken.issue(power)


def friend_event(power: User) -> Event:
    return Event.objects.visible_to(power).filter(owner__username__startswith="demo_").order_by("id").first()


def event_without_rsvp_of(power: User) -> Event:
    """A friend's event the viewer has not answered yet, so every size takes the same (insert) path."""
    event = friend_event(power)
    event.rsvps.filter(user=power).delete()
    return event


def own_event(power: User) -> Event:
    return World().event(power, Event.objects.order_by("starts_at").first().starts_at, title="Mine")


def finished_export_of(power: User) -> str:
    """The ID of a DONE export of the viewer's week (polling it reads the job, not the file)."""
    week = {"date_from": dt.date(2026, 11, 23), "date_to": dt.date(2026, 11, 29)}
    job = ExportJob.objects.create(owner=power, status=ExportJob.Status.DONE, row_count=28, **week)
    return global_id("ExportJob", job.pk)


# The variables each operation runs with, made from the seeded world (and run before counting).
VARIABLES: dict[str, Callable[[User], dict]] = {
    "home_screen": lambda power: {"date": DAY},
    "friends_feed": lambda power: {"date": DAY},
    "friend_list": lambda power: {"search": "a", "date": DAY},
    "friend_day": lambda power: {"username": "demo_0001", "date": DAY},
    "event_detail": lambda power: {"id": World.id(friend_event(power))},
    "friend_requests": lambda power: {},
    "signup": lambda power: {
        "input": {"username": "newcomer", "password": "a-long-pass-phrase", "displayName": "New", "timezone": "UTC"}
    },
    "login": lambda power: {"input": {"username": "power", "password": "demo"}},
    "create_event": lambda power: {
        "input": {
            "title": "Lunch",
            "startsAt": "2026-11-23T12:00:00+01:00",
            "endsAt": "2026-11-23T13:00:00+01:00",
            "clientMutationId": "m1",
        }
    },
    "update_event": lambda power: {"input": {"id": World.id(own_event(power)), "title": "Renamed"}},
    "delete_event": lambda power: {"input": {"id": World.id(own_event(power))}},
    "rsvp": lambda power: {"input": {"eventId": World.id(event_without_rsvp_of(power)), "status": "GOING"}},
    "send_friend_request": lambda power: {"input": {"username": World().user("someone_new").username}},
    "respond_to_friend_request": lambda power: {
        "input": {
            "requestId": World.id(FriendRequest.objects.filter(to_user=power).order_by("id").first()),
            "accept": True,
        }
    },
    "remove_friend": lambda power: {"input": {"userId": World.id(User.objects.get(username="demo_0001"))}},
    "request_events_export": lambda power: {"input": {"from": DAY, "to": "2026-11-29", "clientMutationId": "e1"}},
    "export_job": lambda power: {"id": finished_export_of(power)},
    # A first sync: a full page of 100 events at 60 friends, from many owners.
    "sync": lambda power: {"since": None, "first": 100},
}


def operation_names() -> list[str]:
    return sorted(path.stem for path in OPERATIONS_DIR.glob("*.graphql"))


def test_every_operation_file_has_variables():
    assert set(operation_names()) == set(VARIABLES)


def run(operation: str, friends: int) -> list[str]:
    """The normalized SQL statements `operation` costs in a world of `friends` friends."""
    power, token = seed(friends)
    variables = VARIABLES[operation](power)
    answer = GraphQLClient()((OPERATIONS_DIR / f"{operation}.graphql").read_text(), variables, token=token)
    answer.ok()
    return [query_snapshots.normalize(query["sql"]) for query in answer.queries]


@pytest.mark.django_db
@pytest.mark.parametrize("operation", operation_names())
def test_operation_costs_constant_sql_matching_snapshot(operation, request):
    small, large = (run_in_fresh_world(operation, friends) for friends in SIZES)
    assert len(small) == len(large), (
        f"Operation '{operation}' runs {len(small)} SQL queries with {SIZES[0]} friends but {len(large)} with "
        f"{SIZES[1]}: an N+1. Statements at {SIZES[1]} friends:\n" + "\n".join(large)
    )
    path = query_snapshots.snapshot_path(operation)
    if request.config.getoption("--update-snapshots"):
        query_snapshots.write(operation, large)
        return
    expected = query_snapshots.read_statements(path)
    assert expected is not None, f"No snapshot at {path}: run make update-snapshots and commit it."
    assert expected == large, query_snapshots.explain_difference(operation, expected, large)


def run_in_fresh_world(operation: str, friends: int) -> list[str]:
    """Run in a savepoint rolled back afterwards, so each size starts from an empty database."""
    with transaction.atomic():
        statements = run(operation, friends)
        transaction.set_rollback(True)
    return statements


@pytest.mark.django_db
def test_home_screen_fits_its_query_budget():
    statements = run("home_screen", friends=60)
    assert len(statements) <= MAX_HOME_SCREEN_QUERIES, "\n".join(statements)


@pytest.mark.django_db
def test_using_a_token_writes_at_most_once_a_day_and_never_past_its_maximum_age():
    """The token lookup runs on every request: a token whose use was recorded within the day
    costs nothing more than the snapshot; one last used two days ago costs exactly one UPDATE,
    which pushes its expiry back an idle timeout, but never past a year from its issue."""
    power, token = seed(3)
    tokens = AuthToken.objects.filter(user=power)
    home_screen = (OPERATIONS_DIR / "home_screen.graphql").read_text()
    snapshot = query_snapshots.read_statements(query_snapshots.snapshot_path("home_screen"))

    def statements() -> list[str]:
        answer = GraphQLClient()(home_screen, {"date": DAY}, token=token)
        answer.ok()
        return [query_snapshots.normalize(query["sql"]) for query in answer.queries]

    now = timezone.now()
    tokens.update(last_used_at=now - dt.timedelta(hours=23))
    assert statements() == snapshot

    issued_at = now - dt.timedelta(days=364)
    tokens.update(created_at=issued_at, last_used_at=now - dt.timedelta(days=2), expires_at=now + dt.timedelta(days=28))
    lookup, update, *rest = statements()
    assert [lookup, *rest] == snapshot
    assert update.startswith('UPDATE "calendarapp_authtoken" SET "last_used_at" = '), update
    assert tokens.get().expires_at == issued_at + dt.timedelta(days=365)  # not now + 30 days
    assert tokens.get().last_used_at >= now

    assert statements() == snapshot  # recorded: the next request writes nothing


# What the README and docs/api.md say the home screen costs.
HOME_SCREEN_FIGURE = re.compile(r"\*\*(\d+) (?:queries|statements), authentication included\*\*")


def stated_home_screen_count(path: Path) -> int:
    found = HOME_SCREEN_FIGURE.findall(path.read_text(encoding="utf-8"))
    assert found, f"{path.name} no longer states the home screen's cost as **N queries, authentication included**"
    assert len(set(found)) == 1, f"{path.name} states several costs for the home screen: {found}"
    return int(found[0])


@pytest.mark.django_db
def test_the_readme_the_contract_the_debug_extension_and_the_request_log_count_the_home_screen_alike(
    settings, project_logs
):
    """One figure, counted alike everywhere: every SQL statement of the request, the token's
    lookup included (schema/instrumentation.py)."""
    settings.DEBUG = True
    power, token = seed(3)
    answer = GraphQLClient()((OPERATIONS_DIR / "home_screen.graphql").read_text(), {"date": DAY}, token=token)
    answer.ok()
    logged = [record.fields for record in project_logs.records if record.name == "calendar.request"]
    snapshot = query_snapshots.read_statements(query_snapshots.snapshot_path("home_screen"))
    figures = {
        "README.md": stated_home_screen_count(ROOT / "README.md"),
        "docs/api.md": stated_home_screen_count(ROOT / "docs" / "api.md"),
        "extensions.debug.sqlCount": answer.body["extensions"]["debug"]["sqlCount"],
        "the request log's sql_count": logged[-1]["sql_count"],
        "the snapshot": len(snapshot),
        "statements run": len(answer.queries),
    }
    assert len(set(figures.values())) == 1, figures
