"""Django's admin keeps the API's promises: events saved or deleted there are numbered for
delta sync like the mutations' (friends' devices hear of them), the admin checks the same
rules, and the rows the API must keep consistent (friendships, RSVPs, requests) are read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from calendarapp.models import DeletedEvent, Event
from tests.conftest import World
from tests.sync_client import SyncClient, full_fetch

EVENTS_URL = "/admin/calendarapp/event/"


@pytest.fixture
def admin_client(world: World) -> Client:
    staff = world.user("admin")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def owner(world: World):
    return world.user("olga")


@pytest.fixture
def friend(world: World, owner):
    friend = world.user("felix")
    world.befriend(owner, friend)
    return friend


@pytest.fixture
def friends_device(gql, world: World, friend) -> SyncClient:
    device = SyncClient(gql, world.token(friend))
    device.sync()
    return device


def event_form(owner, title: str, visibility: str = "FRIENDS", starts: str = "09:00", ends: str = "10:00") -> dict:
    return {
        "owner": owner.pk,
        "title": title,
        "description": "",
        "location": "",
        "starts_at_0": "2026-11-23",
        "starts_at_1": starts,
        "ends_at_0": "2026-11-23",
        "ends_at_1": ends,
        "visibility": visibility,
    }


def titles(device: SyncClient, viewer) -> list[str]:
    """The titles on the viewer's device after a sync, which must leave it equal to a full fetch."""
    device.sync()
    assert device.cache == full_fetch(viewer)
    return sorted(event["title"] for event in device.cache.values())


def test_an_event_added_changed_and_deleted_in_the_admin_reaches_friends_devices(
    admin_client, owner, friend, friends_device
):
    response = admin_client.post(f"{EVENTS_URL}add/", event_form(owner, "Added in the admin"))
    assert response.status_code == 302, response.content[:2000]
    event = Event.objects.get()
    assert titles(friends_device, friend) == ["Added in the admin"]

    response = admin_client.post(f"{EVENTS_URL}{event.pk}/change/", event_form(owner, "Renamed in the admin"))
    assert response.status_code == 302
    assert titles(friends_device, friend) == ["Renamed in the admin"]

    response = admin_client.post(f"{EVENTS_URL}{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert titles(friends_device, friend) == []
    assert DeletedEvent.objects.filter(event_id=event.pk).exists()


def test_events_deleted_in_bulk_in_the_admin_leave_tombstones(admin_client, owner, friend, friends_device):
    for title in ("First", "Second"):
        admin_client.post(f"{EVENTS_URL}add/", event_form(owner, title))
    assert titles(friends_device, friend) == ["First", "Second"]

    selected = [str(pk) for pk in Event.objects.values_list("pk", flat=True)]
    response = admin_client.post(EVENTS_URL, {"action": "delete_selected", "_selected_action": selected, "post": "yes"})
    assert response.status_code == 302
    assert titles(friends_device, friend) == []
    assert DeletedEvent.objects.count() == 2


def test_a_private_event_added_in_the_admin_is_never_shown_to_friends(admin_client, owner, friends_device):
    admin_client.post(f"{EVENTS_URL}add/", event_form(owner, "Secret", visibility="PRIVATE"))
    event = Event.objects.get()
    assert (event.shown_seq, event.hidden_seq) == (0, 0)  # friends never saw it
    admin_client.post(f"{EVENTS_URL}{event.pk}/delete/", {"post": "yes"})
    friends_device.sync()
    assert friends_device.cache == {}  # and no removal of an id it never held: see test_changes


def test_the_admin_refuses_an_event_that_ends_before_it_starts(admin_client, owner):
    response = admin_client.post(f"{EVENTS_URL}add/", event_form(owner, "Backwards", starts="10:00", ends="09:00"))
    assert response.status_code == 200
    assert "endsAt must not be before startsAt." in response.content.decode()
    assert not Event.objects.exists()


@pytest.mark.parametrize("model", ["friendship", "rsvp", "friendrequest"])
def test_rows_the_api_keeps_consistent_are_read_only_in_the_admin(admin_client, model):
    assert admin_client.get(f"/admin/calendarapp/{model}/").status_code == 200
    assert admin_client.get(f"/admin/calendarapp/{model}/add/").status_code == 403
