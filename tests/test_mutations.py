"""Every mutation of docs/api.md through the real endpoint: its success path, each of
its validation errors (code and `extensions.field`), who may run it, and that a
failed mutation writes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db.models import F

from calendarapp.models import AuthToken, Event, FriendRequest, Friendship, Rsvp, User
from tests.conftest import utc

EVENT_SELECTION = """event { id title description location startsAt endsAt allDay visibility
    owner { username } attendeeCount viewerRsvp createdAt updatedAt }"""

SELECTIONS = {
    "signup": "token viewer { id username displayName timezone }",
    "login": "token viewer { id username }",
    "createEvent": EVENT_SELECTION,
    "updateEvent": EVENT_SELECTION,
    "deleteEvent": "deletedId",
    "rsvp": EVENT_SELECTION,
    "sendFriendRequest": "request { id from { username } to { username } }",
    "respondToFriendRequest": "request { id from { username } to { username } } friend { id username isFriend }",
    "removeFriend": "removedUserId",
}


def mutation_text(name: str, selection: str | None = None) -> str:
    input_type = name[0].upper() + name[1:] + "Input"
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        f"{{ clientMutationId {selection or SELECTIONS[name]} }} }}"
    )


def mutate(gql, name: str, input: dict, token: str | None = None, selection: str | None = None):
    """Run mutation `name` with `input`; the raw Answer."""
    return gql(mutation_text(name, selection), {"input": input}, token=token)


def succeed(gql, name: str, input: dict, token: str | None = None, selection: str | None = None) -> dict:
    """Run mutation `name` (without a clientMutationId), check it succeeded; its payload."""
    payload = mutate(gql, name, input, token, selection).ok()[name]
    assert payload["clientMutationId"] is None
    return payload


def fail(answer, code: str, field: str | None = None, name: str | None = None) -> dict:
    """Check that the answer holds exactly one error with `code` (and `field`); return it."""
    assert len(answer.errors) == 1, answer.body
    error = answer.errors[0]
    assert error["extensions"]["code"] == code, answer.body
    if field is not None:
        assert error["extensions"].get("field") == field, answer.body
    assert isinstance(error["message"], str) and error["message"]
    if name is not None:
        assert answer.status == 200, answer.body
        assert answer.data == {name: None}, answer.body
        assert error["path"] == [name]
    return error


def database_state() -> dict[str, list[dict]]:
    """Every row of every table the mutations write, to compare before and after."""
    models = (User, AuthToken, Event, Rsvp, Friendship, FriendRequest)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def token_of_someone_who_cannot_see(world, event, visibility: str, friends: bool) -> str:
    """The token of a new user, a friend of the event's owner or not, once the event is
    made `visibility` (chosen so that this user may not see it)."""
    bob = world.user("bob")
    if friends:
        world.befriend(event.owner, bob)
    event.visibility = visibility
    event.save()
    return world.token(bob)


def event_input(**overrides) -> dict:
    return {
        "title": "Lunch",
        "startsAt": "2026-11-23T12:00:00+00:00",
        "endsAt": "2026-11-23T13:00:00+00:00",
    } | overrides


def parse_dt(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, value
    return parsed


VIEWER_QUERY = "{ viewer { username } }"
NODE_EVENT = "query($id: ID!) { node(id: $id) { ... on Event { id title } } }"


# --- signup and login -------------------------------------------------------------------------


SIGNUP_INPUT = {
    "username": "newbie",
    "password": "a-Long-enough-pass-42",
    "displayName": "New Bie",
    "timezone": "Europe/Paris",
}


def test_signup_creates_the_user_and_a_token_that_works_as_bearer(gql):
    payload = succeed(gql, "signup", SIGNUP_INPUT)

    assert payload["viewer"]["username"] == "newbie"
    assert payload["viewer"]["displayName"] == "New Bie"
    assert payload["viewer"]["timezone"] == "Europe/Paris"
    user = User.objects.get(username="newbie")
    assert user.check_password("a-Long-enough-pass-42")
    assert user.display_name == "New Bie"
    assert isinstance(payload["token"], str) and len(payload["token"]) >= 20
    me = gql("{ viewer { id username displayName } }", token=payload["token"]).ok()["viewer"]
    assert me == {"id": payload["viewer"]["id"], "username": "newbie", "displayName": "New Bie"}


def test_signup_viewer_is_the_new_user_even_when_another_user_sends_it(gql, world):
    other = world.user("other")
    payload = succeed(gql, "signup", SIGNUP_INPUT, token=world.token(other))
    assert payload["viewer"]["username"] == "newbie"
    assert gql(VIEWER_QUERY, token=payload["token"]).ok()["viewer"]["username"] == "newbie"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "taken"}, "username"),
        ({"username": "has spaces!"}, "username"),
        ({"username": ""}, "username"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"password": "Ab1!"}, "password"),
        ({"password": "password"}, "password"),
        ({"password": "83749205612"}, "password"),
        ({"password": ""}, "password"),
        ({"displayName": ""}, "displayName"),
        ({"displayName": "x" * 101}, "displayName"),
    ],
    ids=[
        "username-taken",
        "username-invalid",
        "username-empty",
        "timezone-unknown",
        "timezone-empty",
        "password-short",
        "password-common",
        "password-numeric",
        "password-empty",
        "display-name-empty",
        "display-name-too-long",
    ],
)
def test_signup_rejects_bad_input_naming_the_field_and_writes_nothing(gql, world, overrides, field):
    world.user("taken")
    before = database_state()

    answer = mutate(gql, "signup", SIGNUP_INPUT | overrides)

    fail(answer, "BAD_USER_INPUT", field=field, name="signup")
    assert database_state() == before


@pytest.mark.parametrize(
    "overrides",
    [
        {"username": "quartzfox", "password": "quartzfox"},
        {"username": "quartzfox", "password": "QuartzFox1"},
        {"displayName": "Margaret Thornbury", "password": "MargaretThornbury"},
        {"displayName": "Margaret Thornbury", "password": "thornbury-margaret"},
    ],
    ids=["password-is-username", "password-near-username", "password-is-display-name", "password-near-display-name"],
)
def test_signup_refuses_a_password_like_the_username_or_display_name(gql, overrides):
    before = database_state()
    answer = mutate(gql, "signup", SIGNUP_INPUT | overrides)
    error = fail(answer, "BAD_USER_INPUT", field="password", name="signup")
    assert "too similar" in error["message"]
    assert database_state() == before


def test_login_with_the_right_password_returns_a_working_token(gql, world):
    alice = world.user("alice")
    payload = succeed(gql, "login", {"username": "alice", "password": "secret-pass-123"})
    assert payload["viewer"]["username"] == "alice"
    assert gql(VIEWER_QUERY, token=payload["token"]).ok()["viewer"]["username"] == "alice"
    assert AuthToken.objects.filter(user=alice).count() == 1


def test_each_login_issues_a_distinct_token_and_both_keep_working(gql, world):
    world.user("alice")
    first = succeed(gql, "login", {"username": "alice", "password": "secret-pass-123"})["token"]
    second = succeed(gql, "login", {"username": "alice", "password": "secret-pass-123"})["token"]
    assert first != second
    for token in (first, second):
        assert gql(VIEWER_QUERY, token=token).ok()["viewer"]["username"] == "alice"


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong-password"), ("alice", ""), ("nobody", "secret-pass-123"), ("ALICE", "wrong-password")],
    ids=["wrong-password", "empty-password", "unknown-user", "other-case-username-wrong-password"],
)
def test_login_with_wrong_credentials_is_unauthenticated_and_issues_no_token(gql, world, username, password):
    world.user("alice")
    before = database_state()
    answer = mutate(gql, "login", {"username": username, "password": password})
    fail(answer, "UNAUTHENTICATED", name="login")
    assert database_state() == before


def test_login_of_a_deactivated_user_is_unauthenticated(gql, world):
    alice = world.user("alice")
    alice.is_active = False
    alice.save()
    fail(mutate(gql, "login", {"username": "alice", "password": "secret-pass-123"}), "UNAUTHENTICATED", name="login")
    assert not AuthToken.objects.exists()


def test_tokens_are_stored_hashed_never_as_their_text(gql, world):
    world.user("alice")
    tokens = [
        succeed(gql, "login", {"username": "alice", "password": "secret-pass-123"})["token"],
        succeed(gql, "signup", SIGNUP_INPUT)["token"],
    ]
    rows = list(AuthToken.objects.values())
    assert len(rows) == 2
    stored_text = repr(rows)
    for token in tokens:
        assert token not in stored_text
        assert AuthToken.objects.filter(key_hash=hashlib.sha256(token.encode()).hexdigest()).count() == 1
        assert not AuthToken.objects.filter(key_hash=token).exists()


# --- createEvent --------------------------------------------------------------------------------


@pytest.fixture
def alice(world):
    return world.user("alice")


@pytest.fixture
def alice_token(world, alice):
    return world.token(alice)


def test_create_event_applies_the_documented_defaults(gql, alice, alice_token):
    event = succeed(gql, "createEvent", event_input(), token=alice_token)["event"]

    assert event["title"] == "Lunch"
    assert event["description"] == ""
    assert event["location"] == ""
    assert event["allDay"] is False
    assert event["visibility"] == "FRIENDS"
    assert event["owner"] == {"username": "alice"}
    assert event["attendeeCount"] == 0
    assert event["viewerRsvp"] is None
    assert parse_dt(event["startsAt"]) == utc(2026, 11, 23, 12)
    assert parse_dt(event["endsAt"]) == utc(2026, 11, 23, 13)
    parse_dt(event["createdAt"])
    parse_dt(event["updatedAt"])
    stored = Event.objects.get()
    assert (stored.owner_id, stored.title, stored.description, stored.location, stored.all_day, stored.visibility) == (
        alice.pk,
        "Lunch",
        "",
        "",
        False,
        "FRIENDS",
    )


def test_create_event_stores_every_given_field_and_normalises_offsets(gql, alice, alice_token):
    event = succeed(
        gql,
        "createEvent",
        event_input(
            title="Conference",
            startsAt="2026-11-23T10:00:00+01:00",
            endsAt="2026-11-24T09:30:00-05:00",
            description="Talks all day",
            location="Lyon",
            allDay=True,
            visibility="PUBLIC",
        ),
        token=alice_token,
    )["event"]

    assert parse_dt(event["startsAt"]) == utc(2026, 11, 23, 9)
    assert parse_dt(event["endsAt"]) == utc(2026, 11, 24, 14, 30)
    assert (event["description"], event["location"], event["allDay"], event["visibility"]) == (
        "Talks all day",
        "Lyon",
        True,
        "PUBLIC",
    )
    stored = Event.objects.get()
    assert stored.starts_at == utc(2026, 11, 23, 9)
    assert stored.ends_at == utc(2026, 11, 24, 14, 30)
    # The ID in the payload reaches the event.
    node = gql(NODE_EVENT, {"id": event["id"]}, token=alice_token).ok()["node"]
    assert node == {"id": event["id"], "title": "Conference"}


def test_create_event_accepts_a_zulu_offset_and_a_zero_length_event(gql, alice_token):
    event = succeed(
        gql, "createEvent", event_input(startsAt="2026-11-23T12:00:00Z", endsAt="2026-11-23T12:00:00Z"), alice_token
    )["event"]
    assert parse_dt(event["startsAt"]) == parse_dt(event["endsAt"]) == utc(2026, 11, 23, 12)


def test_create_event_title_of_200_characters_is_accepted(gql, alice_token):
    event = succeed(gql, "createEvent", event_input(title="t" * 200), token=alice_token)["event"]
    assert event["title"] == "t" * 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"endsAt": "2026-11-23T11:59:59+00:00"}, "endsAt"),
        ({"startsAt": "2026-11-23T14:00:00+01:00", "endsAt": "2026-11-23T12:59:00+00:00"}, "endsAt"),
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"location": "l" * 301}, "location"),
        ({"description": "d" * 10_001}, "description"),
    ],
    ids=[
        "ends-before-start",
        "ends-before-start-across-offsets",
        "empty-title",
        "title-201",
        "long-location",
        "long-desc",
    ],
)
def test_create_event_rejects_bad_input_naming_the_field(gql, alice_token, overrides, field):
    before = database_state()
    fail(mutate(gql, "createEvent", event_input(**overrides), alice_token), "BAD_USER_INPUT", field, "createEvent")
    assert database_state() == before


@pytest.mark.parametrize("field", ["startsAt", "endsAt"])
def test_create_event_with_a_naive_datetime_variable_is_bad_user_input(gql, alice_token, field):
    answer = mutate(gql, "createEvent", event_input(**{field: "2026-11-23T12:00:00"}), alice_token)
    error = fail(answer, "BAD_USER_INPUT")
    assert answer.data is None
    assert "offset" in error["message"].lower()
    assert not Event.objects.exists()


def test_create_event_with_a_naive_datetime_literal_is_bad_user_input(gql, alice_token):
    """docs/api.md: a naive time is BAD_USER_INPUT, however it is written in the operation."""
    answer = gql(
        """mutation { createEvent(input: {title: "Lunch", startsAt: "2026-11-23T12:00:00",
             endsAt: "2026-11-23T13:00:00+00:00"}) { event { id } } }""",
        token=alice_token,
    )
    assert answer.codes == ["BAD_USER_INPUT"], answer.body
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"startsAt": "tomorrow at noon"}, "startsAt"),
        ({"endsAt": "2026-13-45T12:00:00+00:00"}, "endsAt"),
        ({"startsAt": 1700000000}, "startsAt"),
        ({"visibility": "SECRET"}, "visibility"),
        ({"allDay": "yes"}, "allDay"),
        ({"title": None}, "title"),
        ({"title": 42}, "title"),
    ],
    ids=["words", "impossible-date", "epoch-number", "unknown-visibility", "string-boolean", "null-title", "int-title"],
)
def test_create_event_with_values_of_the_wrong_type_is_bad_user_input(gql, alice_token, overrides, field):
    answer = mutate(gql, "createEvent", event_input(**overrides), alice_token)
    fail(answer, "BAD_USER_INPUT")
    assert answer.data is None
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("name", "overrides", "field"),
    [
        ("createEvent", {"startsAt": "2026-11-23T12:00:00"}, "startsAt"),
        ("createEvent", {"endsAt": "tomorrow at noon"}, "endsAt"),
        ("createEvent", {"visibility": "SECRET"}, "visibility"),
        ("createEvent", {"allDay": "yes"}, "allDay"),
        ("createEvent", {"title": None}, "title"),
        ("rsvp", {"status": "ATTENDING"}, "status"),
        ("respondToFriendRequest", {"accept": "maybe"}, "accept"),
    ],
    ids=["naive-start", "words-end", "unknown-visibility", "string-all-day", "null-title", "rsvp-status", "accept"],
)
def test_a_badly_typed_input_field_is_named_in_extensions_field(gql, world, alice_token, lunch, name, overrides, field):
    """docs/api.md: validation errors name the input field, as spelled in GraphQL, in extensions.field."""
    inputs = {
        "createEvent": event_input(),
        "rsvp": {"eventId": world.id(lunch), "status": "GOING"},
        "respondToFriendRequest": {"requestId": "RnJpZW5kUmVxdWVzdDox", "accept": True},
    }
    answer = mutate(gql, name, inputs[name] | overrides, alice_token)
    fail(answer, "BAD_USER_INPUT", field=field)


@pytest.mark.parametrize("field", ["description", "location", "allDay", "visibility"])
def test_create_event_with_an_explicit_null_optional_field_is_not_a_server_error(gql, alice_token, field):
    """An explicit null overrides the default (GraphQL spec): the server must either
    store the default or answer BAD_USER_INPUT naming the field, never fail inside.
    (The input fields are non-null with defaults, so the variable itself is refused.)"""
    answer = mutate(gql, "createEvent", event_input(**{field: None}), alice_token)
    if answer.errors:
        fail(answer, "BAD_USER_INPUT", field=field)
        assert not Event.objects.exists()
    else:
        defaults = {"description": "", "location": "", "allDay": False, "visibility": "FRIENDS"}
        assert answer.data["createEvent"]["event"][field] == defaults[field]


# --- updateEvent --------------------------------------------------------------------------------


@pytest.fixture
def lunch(world, alice):
    return world.event(
        alice, utc(2026, 11, 23, 12), title="Lunch", description="With Bob", location="Cafe", visibility="FRIENDS"
    )


def test_update_event_changes_only_the_given_fields(gql, world, alice_token, lunch):
    event = succeed(gql, "updateEvent", {"id": world.id(lunch), "title": "Late lunch"}, alice_token)["event"]

    assert event["id"] == world.id(lunch)
    assert event["title"] == "Late lunch"
    assert (event["description"], event["location"], event["visibility"], event["allDay"]) == (
        "With Bob",
        "Cafe",
        "FRIENDS",
        False,
    )
    assert parse_dt(event["startsAt"]) == utc(2026, 11, 23, 12)
    assert parse_dt(event["endsAt"]) == utc(2026, 11, 23, 13)
    lunch.refresh_from_db()
    assert (lunch.title, lunch.description, lunch.location) == ("Late lunch", "With Bob", "Cafe")
    assert parse_dt(event["updatedAt"]) >= parse_dt(event["createdAt"])


def test_update_event_can_change_every_field_at_once(gql, world, alice_token, lunch):
    event = succeed(
        gql,
        "updateEvent",
        {
            "id": world.id(lunch),
            "title": "Dinner",
            "description": "",
            "location": "Home",
            "startsAt": "2026-11-24T19:00:00+01:00",
            "endsAt": "2026-11-24T22:00:00+01:00",
            "allDay": True,
            "visibility": "PRIVATE",
        },
        alice_token,
    )["event"]
    assert (event["title"], event["description"], event["location"], event["allDay"], event["visibility"]) == (
        "Dinner",
        "",
        "Home",
        True,
        "PRIVATE",
    )
    lunch.refresh_from_db()
    assert (lunch.starts_at, lunch.ends_at, lunch.visibility) == (
        utc(2026, 11, 24, 18),
        utc(2026, 11, 24, 21),
        "PRIVATE",
    )


def test_update_event_moving_both_ends_is_checked_on_the_new_values(gql, world, alice_token, lunch):
    """Moving an event a day later sets startsAt after the old endsAt: only the new pair counts."""
    event = succeed(
        gql,
        "updateEvent",
        {"id": world.id(lunch), "startsAt": "2026-11-24T12:00:00Z", "endsAt": "2026-11-24T13:00:00Z"},
        alice_token,
    )["event"]
    assert parse_dt(event["startsAt"]) == utc(2026, 11, 24, 12)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endsAt": "2026-11-23T11:00:00+00:00"}, "endsAt"),
        ({"startsAt": "2026-11-23T14:00:00+00:00"}, "endsAt"),
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": None}, "title"),
        ({"startsAt": None}, "startsAt"),
        ({"visibility": None}, "visibility"),
    ],
    ids=["ends-before-start", "start-after-end", "empty-title", "title-201", "null-title", "null-start", "null-vis"],
)
def test_update_event_with_bad_input_is_refused_and_leaves_the_event_unchanged(
    gql, world, alice_token, lunch, change, field
):
    before = database_state()
    answer = mutate(gql, "updateEvent", {"id": world.id(lunch), **change}, alice_token)
    fail(answer, "BAD_USER_INPUT", field, "updateEvent")
    assert database_state() == before


def test_update_event_with_a_naive_datetime_is_bad_user_input(gql, world, alice_token, lunch):
    before = database_state()
    answer = mutate(gql, "updateEvent", {"id": world.id(lunch), "startsAt": "2026-11-23T11:00:00"}, alice_token)
    fail(answer, "BAD_USER_INPUT")
    assert database_state() == before


@pytest.mark.parametrize("visibility", ["PUBLIC", "FRIENDS"])
def test_update_event_of_another_user_that_the_viewer_sees_is_forbidden(gql, world, alice, lunch, visibility):
    bob = world.user("bob")
    world.befriend(alice, bob)
    lunch.visibility = visibility
    lunch.save()
    bob_token = world.token(bob)
    before = database_state()

    answer = mutate(gql, "updateEvent", {"id": world.id(lunch), "title": "Hijacked"}, bob_token)

    fail(answer, "FORBIDDEN", name="updateEvent")
    assert database_state() == before


@pytest.mark.parametrize(
    ("visibility", "friends"),
    [("PRIVATE", True), ("PRIVATE", False), ("FRIENDS", False)],
    ids=["private-of-a-friend", "private-of-a-stranger", "friends-only-of-a-stranger"],
)
def test_update_event_the_viewer_cannot_see_is_not_found(gql, world, alice, lunch, visibility, friends):
    bob_token = token_of_someone_who_cannot_see(world, lunch, visibility, friends)
    before = database_state()

    answer = mutate(gql, "updateEvent", {"id": world.id(lunch), "title": "Hijacked"}, bob_token)

    error = fail(answer, "NOT_FOUND", name="updateEvent")
    # Indistinguishable from an event that does not exist.
    gone = world.event(alice, utc(2026, 1, 1))
    gone_id = world.id(gone)
    gone.delete()
    missing = mutate(gql, "updateEvent", {"id": gone_id, "title": "x"}, bob_token)
    assert fail(missing, "NOT_FOUND", name="updateEvent")["message"] == error["message"]
    assert database_state() == before


def test_update_event_with_the_id_of_a_user_is_bad_user_input_on_id(gql, world, alice, alice_token, lunch):
    before = database_state()
    fail(mutate(gql, "updateEvent", {"id": world.id(alice), "title": "x"}, alice_token), "BAD_USER_INPUT", "id")
    assert database_state() == before


@pytest.mark.parametrize(
    "bad_id",
    ["", "not-an-id", "RXZlbnQ6", "RXZlbnQ6YWJj", "42", "RXZlbnQ6LTE=", "%%%", "RXZlbnQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk5"],
    ids=["empty", "words", "Event:", "Event:abc", "bare-number", "Event:-1", "not-base64", "Event:huge"],
)
def test_update_event_with_a_malformed_id_is_bad_user_input(gql, alice_token, lunch, bad_id):
    before = database_state()
    answer = mutate(gql, "updateEvent", {"id": bad_id, "title": "x"}, alice_token)
    fail(answer, "BAD_USER_INPUT", field="id", name="updateEvent")
    assert database_state() == before


# --- deleteEvent --------------------------------------------------------------------------------


def test_delete_event_removes_it_and_its_rsvps_and_echoes_the_id(gql, world, alice, alice_token, lunch):
    bob = world.user("bob")
    world.befriend(alice, bob)
    world.rsvp(bob, lunch)
    world.rsvp(alice, lunch, "MAYBE")
    other = world.event(alice, utc(2026, 11, 24, 12))
    world.rsvp(bob, other)

    payload = succeed(gql, "deleteEvent", {"id": world.id(lunch)}, alice_token)

    assert payload["deletedId"] == world.id(lunch)
    assert list(Event.objects.values_list("pk", flat=True)) == [other.pk]
    assert list(Rsvp.objects.values_list("event_id", flat=True)) == [other.pk]
    assert gql(NODE_EVENT, {"id": world.id(lunch)}, token=alice_token).ok()["node"] is None
    # Deleting it again: it is not there any more.
    fail(mutate(gql, "deleteEvent", {"id": world.id(lunch)}, alice_token), "NOT_FOUND", name="deleteEvent")


@pytest.mark.parametrize("visibility", ["PUBLIC", "FRIENDS"])
def test_delete_event_of_another_user_is_forbidden_and_deletes_nothing(gql, world, alice, lunch, visibility):
    bob = world.user("bob")
    world.befriend(alice, bob)
    lunch.visibility = visibility
    lunch.save()
    world.rsvp(bob, lunch)
    bob_token = world.token(bob)
    before = database_state()
    fail(mutate(gql, "deleteEvent", {"id": world.id(lunch)}, bob_token), "FORBIDDEN", name="deleteEvent")
    assert database_state() == before


def test_delete_event_the_viewer_cannot_see_is_not_found(gql, world, alice, lunch):
    lunch.visibility = "PRIVATE"
    lunch.save()
    bob = world.user("bob")
    world.befriend(alice, bob)
    bob_token = world.token(bob)
    before = database_state()
    fail(mutate(gql, "deleteEvent", {"id": world.id(lunch)}, bob_token), "NOT_FOUND", name="deleteEvent")
    assert database_state() == before


@pytest.mark.parametrize("bad_id", ["garbage", "VXNlcjox"], ids=["malformed", "a-user-id"])
def test_delete_event_with_a_bad_id_is_bad_user_input_on_id(gql, alice_token, lunch, bad_id):
    before = database_state()
    fail(mutate(gql, "deleteEvent", {"id": bad_id}, alice_token), "BAD_USER_INPUT", "id", "deleteEvent")
    assert database_state() == before


# --- rsvp ---------------------------------------------------------------------------------------


def test_rsvp_sets_changes_and_clears_the_viewers_answer(gql, world, alice, lunch):
    bob = world.user("bob")
    world.befriend(alice, bob)
    token = world.token(bob)
    event_id = world.id(lunch)

    going = succeed(gql, "rsvp", {"eventId": event_id, "status": "GOING"}, token)["event"]
    assert (going["id"], going["viewerRsvp"], going["attendeeCount"]) == (event_id, "GOING", 1)
    assert Rsvp.objects.get().status == "GOING"

    maybe = succeed(gql, "rsvp", {"eventId": event_id, "status": "MAYBE"}, token)["event"]
    assert (maybe["viewerRsvp"], maybe["attendeeCount"]) == ("MAYBE", 0)
    assert list(Rsvp.objects.values_list("user_id", "status")) == [(bob.pk, "MAYBE")]

    going_again = succeed(gql, "rsvp", {"eventId": event_id, "status": "GOING"}, token)["event"]
    assert going_again["attendeeCount"] == 1

    cleared = succeed(gql, "rsvp", {"eventId": event_id, "status": None}, token)["event"]
    assert (cleared["viewerRsvp"], cleared["attendeeCount"]) == (None, 0)
    assert not Rsvp.objects.exists()

    # Clearing what is not set is harmless.
    assert succeed(gql, "rsvp", {"eventId": event_id, "status": None}, token)["event"]["viewerRsvp"] is None


def test_rsvp_counts_every_going_user_and_the_owner_may_answer_too(gql, world, alice, alice_token, lunch):
    bob = world.user("bob")
    world.befriend(alice, bob)
    world.rsvp(bob, lunch, "GOING")
    event = succeed(gql, "rsvp", {"eventId": world.id(lunch), "status": "GOING"}, alice_token)["event"]
    assert (event["viewerRsvp"], event["attendeeCount"]) == ("GOING", 2)
    declined = succeed(gql, "rsvp", {"eventId": world.id(lunch), "status": "DECLINED"}, alice_token)["event"]
    assert (declined["viewerRsvp"], declined["attendeeCount"]) == ("DECLINED", 1)


def test_rsvp_to_a_public_event_of_a_stranger_is_allowed(gql, world, alice, lunch):
    lunch.visibility = "PUBLIC"
    lunch.save()
    stranger = world.user("stranger")
    event = succeed(gql, "rsvp", {"eventId": world.id(lunch), "status": "GOING"}, world.token(stranger))["event"]
    assert (event["viewerRsvp"], event["attendeeCount"]) == ("GOING", 1)
    assert Rsvp.objects.filter(user=stranger, event=lunch, status="GOING").exists()


@pytest.mark.parametrize(
    ("visibility", "friends"),
    [("PRIVATE", True), ("FRIENDS", False), ("PRIVATE", False)],
    ids=["private-of-a-friend", "friends-only-of-a-stranger", "private-of-a-stranger"],
)
def test_rsvp_to_an_event_the_viewer_cannot_see_is_not_found(gql, world, alice, lunch, visibility, friends):
    bob_token = token_of_someone_who_cannot_see(world, lunch, visibility, friends)
    before = database_state()
    answer = mutate(gql, "rsvp", {"eventId": world.id(lunch), "status": "GOING"}, bob_token)
    fail(answer, "NOT_FOUND", name="rsvp")
    assert database_state() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"eventId": "VXNlcjox"}, "eventId"), ({"eventId": "nope"}, "eventId"), ({"status": "ATTENDING"}, None)],
    ids=["user-id", "malformed-id", "unknown-status"],
)
def test_rsvp_with_bad_input_is_bad_user_input(gql, world, alice_token, lunch, overrides, field):
    before = database_state()
    answer = mutate(gql, "rsvp", {"eventId": world.id(lunch), "status": "GOING", **overrides}, alice_token)
    fail(answer, "BAD_USER_INPUT", field=field)
    assert database_state() == before


# --- friend requests ------------------------------------------------------------------------------


INCOMING = "{ incomingFriendRequests { totalCount edges { node { id from { username } } } } }"


def test_send_friend_request_creates_a_pending_request_the_recipient_sees(gql, world, alice, alice_token):
    bob = world.user("bob")
    request = succeed(gql, "sendFriendRequest", {"username": "bob"}, alice_token)["request"]

    assert request["from"] == {"username": "alice"}
    assert request["to"] == {"username": "bob"}
    stored = FriendRequest.objects.get()
    assert (stored.from_user_id, stored.to_user_id, stored.status) == (alice.pk, bob.pk, "PENDING")
    incoming = gql(INCOMING, token=world.token(bob)).ok()["incomingFriendRequests"]
    assert incoming["totalCount"] == 1
    assert incoming["edges"][0]["node"] == {"id": request["id"], "from": {"username": "alice"}}
    assert not Friendship.objects.exists()


def test_send_friend_request_twice_is_idempotent(gql, world, alice, alice_token):
    world.user("bob")
    first = succeed(gql, "sendFriendRequest", {"username": "bob"}, alice_token)["request"]
    second = succeed(gql, "sendFriendRequest", {"username": "bob"}, alice_token)["request"]
    assert first["id"] == second["id"]
    assert FriendRequest.objects.count() == 1
    assert FriendRequest.objects.get().status == "PENDING"


def test_send_friend_request_to_oneself_is_bad_user_input(gql, alice, alice_token):
    before = database_state()
    answer = mutate(gql, "sendFriendRequest", {"username": "alice"}, alice_token)
    fail(answer, "BAD_USER_INPUT", "username", "sendFriendRequest")
    assert database_state() == before


def test_send_friend_request_to_an_unknown_user_is_not_found(gql, alice_token):
    before = database_state()
    fail(mutate(gql, "sendFriendRequest", {"username": "ghost"}, alice_token), "NOT_FOUND", name="sendFriendRequest")
    assert database_state() == before


def test_send_friend_request_to_a_friend_is_bad_user_input(gql, world, alice, alice_token):
    world.befriend(alice, world.user("bob"))
    before = database_state()
    answer = mutate(gql, "sendFriendRequest", {"username": "bob"}, alice_token)
    fail(answer, "BAD_USER_INPUT", "username", "sendFriendRequest")
    assert database_state() == before


@pytest.fixture
def bob_asks_alice(gql, world, alice):
    """Bob sends Alice a friend request; (bob, his token, the request's ID)."""
    bob = world.user("bob")
    bob_token = world.token(bob)
    request = succeed(gql, "sendFriendRequest", {"username": "alice"}, bob_token)["request"]
    return bob, bob_token, request["id"]


IS_FRIEND = "query($u: String!) { user(username: $u) { isFriend friendCount } }"


def test_accepting_a_friend_request_makes_a_mutual_friendship(gql, world, alice, alice_token, bob_asks_alice):
    bob, bob_token, request_id = bob_asks_alice

    payload = succeed(gql, "respondToFriendRequest", {"requestId": request_id, "accept": True}, alice_token)

    assert payload["request"]["id"] == request_id
    assert payload["friend"] == {"id": world.id(bob), "username": "bob", "isFriend": True}
    assert set(Friendship.objects.values_list("user_id", "friend_id")) == {(alice.pk, bob.pk), (bob.pk, alice.pk)}
    assert FriendRequest.objects.get().status == "ACCEPTED"
    assert gql(IS_FRIEND, {"u": "bob"}, token=alice_token).ok()["user"] == {"isFriend": True, "friendCount": 1}
    assert gql(IS_FRIEND, {"u": "alice"}, token=bob_token).ok()["user"] == {"isFriend": True, "friendCount": 1}
    assert gql(INCOMING, token=alice_token).ok()["incomingFriendRequests"]["totalCount"] == 0


def test_declining_a_friend_request_makes_no_friendship(gql, alice_token, bob_asks_alice):
    _, bob_token, request_id = bob_asks_alice

    payload = succeed(gql, "respondToFriendRequest", {"requestId": request_id, "accept": False}, alice_token)

    assert payload["request"]["id"] == request_id
    assert payload["friend"] is None
    assert not Friendship.objects.exists()
    assert FriendRequest.objects.get().status == "DECLINED"
    assert gql(INCOMING, token=alice_token).ok()["incomingFriendRequests"]["totalCount"] == 0
    assert gql(IS_FRIEND, {"u": "alice"}, token=bob_token).ok()["user"]["isFriend"] is False


@pytest.mark.parametrize("first_answer", [True, False], ids=["after-accept", "after-decline"])
@pytest.mark.parametrize("second_answer", [True, False], ids=["accept", "decline"])
def test_responding_twice_is_bad_user_input(gql, alice_token, bob_asks_alice, first_answer, second_answer):
    _, _, request_id = bob_asks_alice
    succeed(gql, "respondToFriendRequest", {"requestId": request_id, "accept": first_answer}, alice_token)
    before = database_state()

    answer = mutate(gql, "respondToFriendRequest", {"requestId": request_id, "accept": second_answer}, alice_token)

    fail(answer, "BAD_USER_INPUT", "requestId", "respondToFriendRequest")
    assert database_state() == before


def test_the_sender_cannot_respond_to_their_own_request(gql, bob_asks_alice):
    _, bob_token, request_id = bob_asks_alice
    before = database_state()
    answer = mutate(gql, "respondToFriendRequest", {"requestId": request_id, "accept": True}, bob_token)
    fail(answer, "FORBIDDEN", name="respondToFriendRequest")
    assert database_state() == before
    assert FriendRequest.objects.get().status == "PENDING"


def test_a_request_between_other_users_is_not_found(gql, world, bob_asks_alice):
    _, _, request_id = bob_asks_alice
    carol_token = world.token(world.user("carol"))
    before = database_state()
    answer = mutate(gql, "respondToFriendRequest", {"requestId": request_id, "accept": True}, carol_token)
    fail(answer, "NOT_FOUND", name="respondToFriendRequest")
    assert database_state() == before


@pytest.mark.parametrize("bad_id", ["VXNlcjox", "not-an-id"], ids=["user-id", "malformed"])
def test_respond_with_a_bad_request_id_is_bad_user_input(gql, alice_token, bob_asks_alice, bad_id):
    before = database_state()
    answer = mutate(gql, "respondToFriendRequest", {"requestId": bad_id, "accept": True}, alice_token)
    fail(answer, "BAD_USER_INPUT", "requestId", "respondToFriendRequest")
    assert database_state() == before


@pytest.mark.parametrize("cooldown", [0, 3600])
def test_a_friend_request_can_be_sent_again_once_the_cooldown_after_a_decline_is_over(
    gql, world, alice, alice_token, bob_asks_alice, settings, cooldown
):
    bob, bob_token, request_id = bob_asks_alice
    settings.FRIEND_REQUEST_COOLDOWN = cooldown
    succeed(gql, "respondToFriendRequest", {"requestId": request_id, "accept": False}, alice_token)
    FriendRequest.objects.update(answered_at=F("answered_at") - dt.timedelta(seconds=cooldown))  # as if it had passed
    again = succeed(gql, "sendFriendRequest", {"username": "alice"}, bob_token)["request"]
    payload = succeed(gql, "respondToFriendRequest", {"requestId": again["id"], "accept": True}, alice_token)
    assert payload["friend"]["username"] == "bob"
    assert Friendship.objects.filter(user=alice, friend=bob).exists()


# --- removeFriend ---------------------------------------------------------------------------------


def test_remove_friend_ends_the_friendship_for_both_and_hides_friends_events(gql, world, alice, alice_token):
    bob = world.user("bob")
    carol = world.user("carol")
    world.befriend(alice, bob)
    world.befriend(alice, carol)
    bob_token = world.token(bob)
    bobs_event = world.event(bob, utc(2026, 11, 23, 9), visibility="FRIENDS")
    bobs_public = world.event(bob, utc(2026, 11, 23, 10), visibility="PUBLIC")
    alices_event = world.event(alice, utc(2026, 11, 23, 11), visibility="FRIENDS")
    assert gql(NODE_EVENT, {"id": world.id(bobs_event)}, token=alice_token).ok()["node"] is not None
    assert gql(NODE_EVENT, {"id": world.id(alices_event)}, token=bob_token).ok()["node"] is not None

    payload = succeed(gql, "removeFriend", {"userId": world.id(bob)}, alice_token)

    assert payload["removedUserId"] == world.id(bob)
    assert set(Friendship.objects.values_list("user_id", "friend_id")) == {(alice.pk, carol.pk), (carol.pk, alice.pk)}
    assert gql(NODE_EVENT, {"id": world.id(bobs_event)}, token=alice_token).ok()["node"] is None
    assert gql(NODE_EVENT, {"id": world.id(alices_event)}, token=bob_token).ok()["node"] is None
    assert gql(NODE_EVENT, {"id": world.id(bobs_public)}, token=alice_token).ok()["node"] is not None
    assert gql(IS_FRIEND, {"u": "bob"}, token=alice_token).ok()["user"] == {"isFriend": False, "friendCount": 0}
    assert gql(IS_FRIEND, {"u": "alice"}, token=bob_token).ok()["user"] == {"isFriend": False, "friendCount": 1}
    day = 'query { friendsEvents(date: "2026-11-23") { totalCount } }'
    assert gql(day, token=alice_token).ok()["friendsEvents"]["totalCount"] == 0
    assert gql(day, token=bob_token).ok()["friendsEvents"]["totalCount"] == 0
    # Nor may Bob still act on Alice's friends-only event.
    answer = mutate(gql, "rsvp", {"eventId": world.id(alices_event), "status": "GOING"}, bob_token)
    fail(answer, "NOT_FOUND", name="rsvp")


def test_remove_friend_of_a_non_friend_is_not_found(gql, world, alice, alice_token):
    bob = world.user("bob")
    carol = world.user("carol")
    world.befriend(bob, carol)
    before = database_state()
    for target in (bob, alice):
        fail(mutate(gql, "removeFriend", {"userId": world.id(target)}, alice_token), "NOT_FOUND", name="removeFriend")
    assert database_state() == before


@pytest.mark.parametrize("bad_id", ["RXZlbnQ6MQ==", "garbage", ""], ids=["event-id", "malformed", "empty"])
def test_remove_friend_with_a_bad_user_id_is_bad_user_input(gql, world, alice, alice_token, bad_id):
    world.befriend(alice, world.user("bob"))
    before = database_state()
    fail(mutate(gql, "removeFriend", {"userId": bad_id}, alice_token), "BAD_USER_INPUT", "userId", "removeFriend")
    assert database_state() == before


# --- without a token ------------------------------------------------------------------------------


@pytest.fixture
def scene(gql, world):
    """Alice and Bob are friends with an event; Carol has asked Alice for friendship."""
    alice = world.user("alice")
    bob = world.user("bob")
    carol = world.user("carol")
    world.befriend(alice, bob)
    event = world.event(alice, utc(2026, 11, 23, 12), visibility="PUBLIC")
    request = FriendRequest.objects.create(from_user=carol, to_user=alice)
    world.user("dave")
    return {
        "createEvent": event_input(),
        "updateEvent": {"id": world.id(event), "title": "New"},
        "deleteEvent": {"id": world.id(event)},
        "rsvp": {"eventId": world.id(event), "status": "GOING"},
        "sendFriendRequest": {"username": "dave"},
        "respondToFriendRequest": {"requestId": world.id(request), "accept": True},
        "removeFriend": {"userId": world.id(bob)},
    }


AUTHENTICATED_MUTATIONS = [
    "createEvent",
    "updateEvent",
    "deleteEvent",
    "rsvp",
    "sendFriendRequest",
    "respondToFriendRequest",
    "removeFriend",
]


@pytest.mark.parametrize("name", AUTHENTICATED_MUTATIONS)
@pytest.mark.parametrize("token", [None, "not-a-real-token"], ids=["no-token", "bad-token"])
def test_every_mutation_but_signup_and_login_needs_a_viewer(gql, scene, name, token):
    before = database_state()
    fail(mutate(gql, name, scene[name], token=token), "UNAUTHENTICATED", name=name)
    assert database_state() == before


@pytest.mark.parametrize("name", ["signup", "login", *AUTHENTICATED_MUTATIONS])
def test_every_mutation_echoes_client_mutation_id(gql, world, scene, name):
    token = world.token(User.objects.get(username="alice"))
    scene = scene | {"signup": SIGNUP_INPUT, "login": {"username": "bob", "password": "secret-pass-123"}}
    answer = gql(
        f"mutation($input: {name[0].upper() + name[1:]}Input!) {{ {name}(input: $input) {{ clientMutationId }} }}",
        {"input": {**scene[name], "clientMutationId": "héllo ✓ 42"}},
        token=token,
    )
    assert answer.ok() == {name: {"clientMutationId": "héllo ✓ 42"}}


def test_client_mutation_id_is_null_when_not_sent(gql, alice_token):
    answer = gql(
        'mutation { createEvent(input: {title: "A", startsAt: "2026-01-01T00:00:00Z", '
        'endsAt: "2026-01-01T01:00:00Z"}) { clientMutationId event { title } } }',
        token=alice_token,
    )
    assert answer.ok()["createEvent"] == {"clientMutationId": None, "event": {"title": "A"}}


# --- atomicity and order --------------------------------------------------------------------------


def test_mutations_of_one_operation_run_in_order_each_seeing_the_previous_write(gql, world, alice, alice_token):
    bob = world.user("bob")
    world.befriend(alice, bob)
    answer = gql(
        """mutation($bob: ID!) {
             first: removeFriend(input: {userId: $bob}) { removedUserId }
             second: sendFriendRequest(input: {username: "bob"}) { request { to { username } } }
             third: createEvent(input: {title: "One", startsAt: "2026-01-01T10:00:00Z",
               endsAt: "2026-01-01T11:00:00Z"}) { event { owner { eventCount } } }
             fourth: createEvent(input: {title: "Two", startsAt: "2026-01-01T10:00:00Z",
               endsAt: "2026-01-01T11:00:00Z"}) { event { owner { eventCount } } }
           }""",
        {"bob": world.id(bob)},
        token=alice_token,
    )
    data = answer.ok()
    assert list(data) == ["first", "second", "third", "fourth"]
    assert data["first"] == {"removedUserId": world.id(bob)}
    # Were the friendship still there, the request would be refused (already friends).
    assert data["second"] == {"request": {"to": {"username": "bob"}}}
    assert data["third"]["event"]["owner"]["eventCount"] == 1
    assert data["fourth"]["event"]["owner"]["eventCount"] == 2
    assert list(Event.objects.order_by("pk").values_list("title", flat=True)) == ["One", "Two"]


def test_a_failing_mutation_in_an_operation_rolls_back_only_itself(gql, alice_token):
    answer = gql(
        """mutation {
             ok: createEvent(input: {title: "Kept", startsAt: "2026-01-01T10:00:00Z",
               endsAt: "2026-01-01T11:00:00Z"}) { event { title } }
             bad: createEvent(input: {title: "Bad", startsAt: "2026-01-01T10:00:00Z",
               endsAt: "2026-01-01T09:00:00Z"}) { event { title } }
             after: createEvent(input: {title: "After", startsAt: "2026-01-01T10:00:00Z",
               endsAt: "2026-01-01T11:00:00Z"}) { event { title } }
           }""",
        token=alice_token,
    )
    assert answer.status == 200
    assert answer.data == {"ok": {"event": {"title": "Kept"}}, "bad": None, "after": {"event": {"title": "After"}}}
    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["path"] == ["bad"]
    assert answer.errors[0]["extensions"]["field"] == "endsAt"
    assert list(Event.objects.order_by("pk").values_list("title", flat=True)) == ["Kept", "After"]


def test_a_mutation_whose_payload_fails_after_the_write_still_reports_the_error(gql, alice_token):
    """A bad argument inside the payload selection is reported with its code, not a 500."""
    answer = gql(
        """mutation { createEvent(input: {title: "A", startsAt: "2026-01-01T10:00:00Z", endsAt: "2026-01-01T11:00:00Z"})
             { event { title attendees(first: 1000) { totalCount } } } }""",
        token=alice_token,
    )
    assert answer.status == 200
    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"].get("field") == "first"
    assert answer.errors[0]["path"] == ["createEvent", "event", "attendees"]
    # The write was rolled back, so no payload claims it happened.
    assert answer.data == {"createEvent": None}
    assert not Event.objects.exists()
