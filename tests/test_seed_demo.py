"""`manage.py seed_demo`: counts, friendships, determinism and argument checks."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.hashers import get_hashers
from django.core.management import CommandError, call_command
from django.db import connection

from calendarapp.models import Event, FriendRequest, Friendship, Rsvp, User

SMALL = {"friends": 5, "events_per_day": 2, "days": 2, "attendees": 2}


def seed(**options: Any) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **{**SMALL, **options})
    return out.getvalue()


def event_rows() -> list[tuple]:
    return sorted(Event.objects.values_list("owner__username", "title", "starts_at", "ends_at", "visibility"))


def rsvp_rows() -> list[tuple]:
    return sorted(
        Rsvp.objects.values_list(
            "event__owner__username", "event__title", "event__starts_at", "user__username", "status"
        )
    )


def snapshot() -> tuple[list[tuple], list[tuple], list[tuple]]:
    users = sorted(User.objects.values_list("username", "display_name", "timezone", "avatar_url"))
    return users, event_rows(), rsvp_rows()


@pytest.mark.django_db
def test_counts_for_small_flags() -> None:
    output = seed()

    friend_names = [f"demo_000{i}" for i in range(1, 6)]
    assert sorted(User.objects.filter(username__regex=r"^demo_\d+$").values_list("username", flat=True)) == friend_names
    assert User.objects.filter(username__startswith="demo_stranger_").count() == 3
    assert User.objects.count() == 1 + 5 + 3
    assert Event.objects.count() == 5 * 2 * 2
    assert all(Event.objects.filter(owner__username=name).count() == 4 for name in friend_names)
    assert Rsvp.objects.count() <= 5 * 2 * 2 * 2
    assert Friendship.objects.count() % 2 == 0
    assert "20 events" in output


@pytest.mark.django_db
def test_power_user_and_pending_requests() -> None:
    seed(password="s3cret-demo")

    power = User.objects.get(username="power")
    assert power.timezone == "Europe/Paris"
    assert power.check_password("s3cret-demo")
    assert User.objects.get(username="demo_0003").check_password("s3cret-demo")
    pending = FriendRequest.objects.filter(to_user=power, status=FriendRequest.Status.PENDING)
    assert sorted(pending.values_list("from_user__username", flat=True)) == [f"demo_stranger_{i}" for i in (1, 2, 3)]
    assert not Friendship.objects.filter(user=power, friend__username__startswith="demo_stranger_").exists()


@pytest.mark.django_db
def test_the_password_is_hashed_once_for_every_user(monkeypatch: pytest.MonkeyPatch) -> None:
    # A production hash costs ~20 ms of CPU (docs/production.md, "Passwords"): once per user
    # would make a 1,000-friend seed spend 20 s hashing.
    hashers = get_hashers()
    assert len(hashers) == 1, "the test settings' one hasher counts every hash made"
    encode = hashers[0].encode
    calls: list[str] = []

    def counted_encode(password: str, salt: str) -> str:
        calls.append(password)
        return encode(password, salt)

    monkeypatch.setattr(hashers[0], "encode", counted_encode)

    seed(password="s3cret-demo")

    assert calls == ["s3cret-demo"]
    assert User.objects.values("password").distinct().count() == 1


@pytest.mark.django_db
def test_every_friend_is_a_friend_of_power_both_ways() -> None:
    seed()

    power = User.objects.get(username="power")
    friends = User.objects.filter(username__regex=r"^demo_\d+$")
    for friend in friends:
        assert Friendship.objects.filter(user=power, friend=friend).exists()
        assert Friendship.objects.filter(user=friend, friend=power).exists()
    # Every row has its mirror.
    pairs = set(Friendship.objects.values_list("user_id", "friend_id"))
    assert all((b, a) in pairs for a, b in pairs)


@pytest.mark.django_db
def test_events_fit_the_day_and_rsvps_exclude_the_owner() -> None:
    seed(start="2026-11-23")

    paris = ZoneInfo("Europe/Paris")
    for event in Event.objects.all():
        start, end = event.starts_at.astimezone(paris), event.ends_at.astimezone(paris)
        assert start.date() in {dt.date(2026, 11, 23), dt.date(2026, 11, 24)}
        assert end.date() == start.date()
        assert dt.time(7) <= start.time() and end.time() <= dt.time(22)
        assert dt.timedelta(minutes=30) <= end - start <= dt.timedelta(minutes=180)
    assert all(rsvp.user_id != rsvp.event.owner_id for rsvp in Rsvp.objects.select_related("event"))


@pytest.mark.django_db
def test_same_seed_same_data_different_seed_different_data() -> None:
    seed(seed=7, friends=8)
    first = snapshot()
    seed(seed=7, friends=8, reset=True)
    assert snapshot() == first
    seed(seed=8, friends=8, reset=True)
    assert snapshot() != first


@pytest.mark.django_db
def test_same_data_when_the_backend_does_not_return_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    # Older SQLite returns no pks from bulk_create: the command must read them back in order.
    seed(seed=3)
    expected = snapshot()
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    seed(seed=3, reset=True)
    assert Event.objects.filter(pk__isnull=False).count() == 20
    assert snapshot() == expected


@pytest.mark.django_db
def test_running_again_without_reset_fails() -> None:
    seed()
    with pytest.raises(CommandError, match="--reset"):
        seed()


@pytest.mark.django_db
def test_reset_removes_old_data() -> None:
    seed(friends=6)
    seed(friends=2, reset=True)
    assert User.objects.filter(username__regex=r"^demo_\d+$").count() == 2
    assert Event.objects.count() == 2 * 2 * 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "options",
    [
        {"friends": -1},
        {"events_per_day": -2},
        {"days": -1},
        {"attendees": -3},
        {"start": "2026-13-01"},
        {"start": "next monday"},
    ],
)
def test_bad_arguments_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(CommandError):
        seed(**options)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_bad_arguments_from_the_command_line_are_rejected() -> None:
    # Parsed as strings by argparse, as in `manage.py seed_demo --friends -1`.
    with pytest.raises(CommandError, match="--friends"):
        call_command("seed_demo", "--friends=-1")
    with pytest.raises(CommandError, match="--start"):
        call_command("seed_demo", "--start=2026-02-30")


@pytest.mark.django_db
def test_if_missing_seeds_the_first_time_and_keeps_the_data_after() -> None:
    """What `make serve` runs at every start: the demo data survives a restart."""
    assert "Seeded" in seed(if_missing=True)
    before = snapshot()
    Event.objects.filter(owner__username="demo_0001").update(title="Edited in GraphiQL")
    edited = snapshot()
    output = seed(friends=9, if_missing=True)
    assert output.startswith("Demo data kept: user 'power' exists")
    assert snapshot() == edited != before
    with pytest.raises(CommandError, match="pass one of them"):
        seed(if_missing=True, reset=True)
