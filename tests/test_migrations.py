"""Migrations that rewrite data: the rows they leave behind, from rows made the old way."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.conftest import utc

BEFORE_SHOWN_PERIODS = ("calendarapp", "0005_account_rules")
SHOWN_PERIODS = ("calendarapp", "0006_event_shown_seq")
STILL_SHOWN = 2**63 - 1


def migrate(target: tuple[str, str]):
    """Migrate the test database to `target`; the app registry as it was there."""
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.fixture
def migrator(transactional_db):
    """Leaves the database migrated to the latest state, whatever the test did."""
    yield migrate
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_events_are_seen_by_friends_as_long_as_their_old_flag_allows(migrator):
    """From creation until now, or until the last change if PRIVATE now: never shorter
    than the truth, so a device that holds one of them still hears of its removal."""
    apps = migrator(BEFORE_SHOWN_PERIODS)
    owner = apps.get_model("calendarapp", "User").objects.create(username="olga", display_name="Olga")
    event, deleted = apps.get_model("calendarapp", "Event"), apps.get_model("calendarapp", "DeletedEvent")

    def old_event(visibility: str, shown_to_friends: bool) -> int:
        nine = utc(2026, 11, 23, 9)
        return event.objects.create(
            owner=owner,
            title=visibility,
            starts_at=nine,
            ends_at=nine,
            visibility=visibility,
            created_seq=4,
            change_seq=9,
            shown_to_friends=shown_to_friends,
        ).pk

    public, hidden, never_shown = old_event("PUBLIC", True), old_event("PRIVATE", True), old_event("PRIVATE", False)
    for event_id, shown_to_friends in ((101, True), (102, False)):
        deleted.objects.create(
            event_id=event_id, owner=owner, created_seq=5, change_seq=12, shown_to_friends=shown_to_friends
        )

    apps = migrator(SHOWN_PERIODS)

    periods = apps.get_model("calendarapp", "Event").objects.values_list("pk", "shown_seq", "hidden_seq")
    assert sorted(periods) == sorted([(public, 4, STILL_SHOWN), (hidden, 4, 9), (never_shown, 0, 0)])
    tombstones = apps.get_model("calendarapp", "DeletedEvent").objects.values_list(
        "event_id", "shown_seq", "hidden_seq"
    )
    assert sorted(tombstones) == [(101, 5, 12), (102, 0, 0)]
