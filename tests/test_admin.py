"""Django's admin keeps the API's promises: events saved or deleted there are numbered for
delta sync like the mutations' (friends' devices hear of them), the admin checks the same
rules, and the rows the API must keep consistent (friendships, RSVPs, requests) are read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from calendarapp.models import AuthToken, DeletedEvent, Event
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


# --- tokens (devices) ------------------------------------------------------------------------------

USERS_URL = "/admin/calendarapp/user/"
TOKENS_URL = "/admin/calendarapp/authtoken/"
WHO = "query { viewer { username } }"


def issued(user, user_agent: str) -> tuple[str, AuthToken]:
    return AuthToken.create_for(user, user_agent)


def works(gql, token: str) -> bool:
    return gql(WHO, token=token).ok()["viewer"] is not None


def inline_form(user, tokens: list[AuthToken], revoke: set[int]) -> dict:
    """The user's change form as the admin page posts it, with "Revoke" ticked on `revoke`."""
    form = {
        "username": user.username,
        "password": user.password,
        "display_name": user.display_name,
        "timezone": user.timezone,
        "avatar_url": "",
        "is_active": "on",
        "date_joined_0": "2026-11-23",
        "date_joined_1": "09:00:00",
        "auth_tokens-TOTAL_FORMS": str(len(tokens)),
        "auth_tokens-INITIAL_FORMS": str(len(tokens)),
        "auth_tokens-MIN_NUM_FORMS": "0",
        "auth_tokens-MAX_NUM_FORMS": "1000",
    }
    for index, token in enumerate(tokens):
        form[f"auth_tokens-{index}-id"] = str(token.pk)
        form[f"auth_tokens-{index}-user"] = str(user.pk)
        if token.pk in revoke:
            form[f"auth_tokens-{index}-revoke"] = "on"
    return form


def test_a_users_page_lists_their_tokens_with_their_lifetime_and_never_the_hash(admin_client, owner):
    phone, phone_row = issued(owner, "CalendarApp/2.1 (iPhone; iOS 18.1)")
    _, tablet_row = issued(owner, "CalendarApp/2.1 (iPad)")
    AuthToken.objects.filter(pk=tablet_row.pk).revoke()

    page = admin_client.get(f"{USERS_URL}{owner.pk}/change/").content.decode()

    assert "CalendarApp/2.1 (iPhone; iOS 18.1)" in page and "CalendarApp/2.1 (iPad)" in page
    for label in ("Created at", "Last used at", "Expires at", "Revoked at", "Status", "Revoke"):
        assert label in page
    assert ">active<" in page and ">revoked<" in page
    assert phone_row.key_hash not in page and tablet_row.key_hash not in page
    assert phone not in page


def test_ticking_revoke_on_a_users_page_logs_that_device_out_only(admin_client, gql, owner):
    phone, phone_row = issued(owner, "phone")
    laptop, laptop_row = issued(owner, "laptop")
    rows = [phone_row, laptop_row]

    response = admin_client.post(f"{USERS_URL}{owner.pk}/change/", inline_form(owner, rows, revoke={phone_row.pk}))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert not works(gql, phone)
    assert works(gql, laptop)
    owner.refresh_from_db()
    assert owner.username == "olga" and owner.is_active  # nothing else changed


def test_the_user_list_action_revokes_every_token_of_the_selected_users(admin_client, gql, owner, friend):
    owners = [issued(owner, "phone")[0], issued(owner, "laptop")[0]]
    friends = issued(friend, "phone")[0]

    response = admin_client.post(
        USERS_URL, {"action": "revoke_all_tokens", "_selected_action": [str(owner.pk)]}, follow=True
    )

    assert "Revoked 2 tokens." in response.content.decode()
    assert not any(works(gql, token) for token in owners)
    assert works(gql, friends)


def test_the_token_list_shows_every_device_and_revokes_the_selected_ones(admin_client, gql, owner, friend):
    olgas, olgas_row = issued(owner, "Olga's phone")
    felixs, felixs_row = issued(friend, "Felix's phone")

    page = admin_client.get(TOKENS_URL).content.decode()
    assert "Olga&#x27;s phone" in page and "Felix&#x27;s phone" in page
    assert olgas_row.key_hash not in page
    assert "Revoke selected tokens" in page
    only_olgas = admin_client.get(TOKENS_URL, {"user__id__exact": owner.pk}).content.decode()
    assert "Olga&#x27;s phone" in only_olgas and "Felix&#x27;s phone" not in only_olgas

    response = admin_client.post(
        TOKENS_URL, {"action": "revoke_selected", "_selected_action": [str(olgas_row.pk)]}, follow=True
    )

    assert "Revoked 1 tokens." in response.content.decode()
    assert not works(gql, olgas)
    assert works(gql, felixs)
    active = admin_client.get(TOKENS_URL, {"status": "active"}).content.decode()
    assert "Felix&#x27;s phone" in active and "Olga&#x27;s phone" not in active


def test_tokens_are_neither_added_nor_edited_nor_deleted_in_the_admin(admin_client, owner):
    _, row = issued(owner, "phone")
    assert admin_client.get(f"{TOKENS_URL}add/").status_code == 403
    assert admin_client.get(f"{TOKENS_URL}{row.pk}/delete/").status_code == 403
    detail = admin_client.get(f"{TOKENS_URL}{row.pk}/change/")
    assert detail.status_code == 200  # shown read-only
    assert row.key_hash not in detail.content.decode()
    admin_client.post(f"{TOKENS_URL}{row.pk}/change/", {"user_agent": "changed"})
    row.refresh_from_db()
    assert row.user_agent == "phone"
