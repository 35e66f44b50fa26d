"""Delta sync (`changes(since:, first:)`): what each kind of change makes a client
receive, paging, cursors and errors. Writes go through calendarapp.services (what the
mutations call), syncs through the GraphQL endpoint."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from django.test import override_settings

from calendarapp import services
from calendarapp.changes import Position
from calendarapp.ids import global_id, parse_global_id
from calendarapp.models import Event, User
from tests.conftest import GraphQLClient, World, utc
from tests.sync_client import SYNC, SyncClient, full_fetch

NINE = utc(2026, 11, 23, 9)


@dataclass
class People:
    viewer: User
    friend: User
    other_friend: User
    stranger: User
    token: str


@pytest.fixture
def people(world: World) -> People:
    viewer, friend, other_friend, stranger = (world.user(name) for name in ("vera", "fred", "fiona", "stan"))
    world.befriend(viewer, friend)
    world.befriend(viewer, other_friend)
    world.befriend(friend, stranger)
    return People(viewer, friend, other_friend, stranger, world.token(viewer))


@pytest.fixture
def client(gql: GraphQLClient, people: People) -> SyncClient:
    return SyncClient(gql, people.token)


def create(owner: User, title: str = "Event", visibility: str = "FRIENDS") -> Event:
    return services.create_event(owner, title=title, starts_at=NINE, ends_at=NINE, visibility=visibility)


def gid(event: Event | int) -> str:
    return global_id("Event", event if isinstance(event, int) else event.pk)


def received(answers: list[dict]) -> tuple[list[str], list[str]]:
    """(event ids, removed ids) of a sync's answers, in order."""
    events = [event["id"] for answer in answers for event in answer["events"]]
    removed = [event_id for answer in answers for event_id in answer["removedEventIds"]]
    return events, removed


def test_first_sync_lists_own_and_friends_visible_events_and_nothing_of_strangers(client, people):
    own = [create(people.viewer, visibility=v) for v in ("PUBLIC", "FRIENDS", "PRIVATE")]
    friends = [create(people.friend, visibility=v) for v in ("PUBLIC", "FRIENDS")]
    friends_private = create(people.friend, visibility="PRIVATE")
    strangers = [create(people.stranger, visibility=v) for v in ("PUBLIC", "FRIENDS", "PRIVATE")]

    events, removed = received(client.sync())

    assert sorted(events) == sorted(gid(e) for e in own + friends)
    assert not set(events + removed) & {gid(e) for e in [friends_private, *strangers]}
    assert client.cache == full_fetch(people.viewer)


def test_edited_event_arrives_again_with_its_new_fields(client, people):
    event = create(people.friend, title="Lunch")
    client.sync()

    services.update_event(people.friend, event.pk, title="Late lunch")
    events, removed = received(client.sync())

    assert (events, removed) == ([gid(event)], [])
    assert client.cache[gid(event)]["title"] == "Late lunch"
    assert client.cache == full_fetch(people.viewer)


def test_sync_without_changes_is_empty_and_keeps_its_cursor(client, people):
    create(people.friend)
    client.sync()
    cursor = client.cursor

    answer = client.fetch_page()

    assert answer == {"cursor": cursor, "hasMore": False, "events": [], "removedEventIds": []}


def test_deleted_event_is_removed(client, people):
    own, friends = create(people.viewer), create(people.friend)
    client.sync()

    services.delete_event(people.viewer, own.pk)
    services.delete_event(people.friend, friends.pk)
    events, removed = received(client.sync())

    assert (events, sorted(removed)) == ([], sorted([gid(own), gid(friends)]))
    assert client.cache == {}


def test_event_made_private_leaves_friends_but_stays_with_its_owner(gql, client, people):
    event = create(people.friend)
    owner = SyncClient(gql, World().token(people.friend))
    client.sync(), owner.sync()

    services.update_event(people.friend, event.pk, visibility="PRIVATE")

    assert received(client.sync()) == ([], [gid(event)])
    assert received(owner.sync()) == ([gid(event)], [])
    assert owner.cache[gid(event)]["visibility"] == "PRIVATE"


def test_event_shown_to_friends_again_arrives_again(client, people):
    event = create(people.friend)
    client.sync()
    services.update_event(people.friend, event.pk, visibility="PRIVATE")
    client.sync()

    services.update_event(people.friend, event.pk, visibility="FRIENDS")

    assert received(client.sync()) == ([gid(event)], [])
    assert client.cache == full_fetch(people.viewer)


@pytest.mark.parametrize("who_ends_it", ["viewer", "friend"])
def test_unfriending_removes_the_former_friends_events(client, people, who_ends_it):
    events = [create(people.friend), create(people.friend, visibility="PUBLIC")]
    kept = create(people.other_friend)
    client.sync()

    if who_ends_it == "viewer":
        services.remove_friend(people.viewer, people.friend.pk)
    else:
        services.remove_friend(people.friend, people.viewer.pk)

    assert received(client.sync()) == ([], [gid(e) for e in sorted(events, key=lambda e: e.pk)])  # in pk order
    assert set(client.cache) == {gid(kept)}


def test_new_friends_existing_events_arrive(world, client, people):
    newcomer = world.user("nina")
    visible = [create(newcomer, visibility="PUBLIC"), create(newcomer)]
    hidden = create(newcomer, visibility="PRIVATE")
    client.sync()

    request = services.send_friend_request(people.viewer, newcomer.username)
    services.respond_to_friend_request(newcomer, request.pk, accept=True)
    events, removed = received(client.sync())

    assert (sorted(events), removed) == (sorted(gid(e) for e in visible), [])
    assert gid(hidden) not in client.cache
    assert client.cache == full_fetch(people.viewer)


def test_rsvp_set_and_cleared_bumps_the_event(world, client, people):
    event = create(people.friend, visibility="PUBLIC")  # other_friend may answer it too
    client.sync()
    updated_at = client.cache[gid(event)]["updatedAt"]

    services.set_rsvp(people.other_friend, event.pk, "GOING")
    assert received(client.sync()) == ([gid(event)], [])
    assert client.cache[gid(event)]["attendeeCount"] == 1

    services.set_rsvp(people.viewer, event.pk, "MAYBE")
    client.sync()
    assert client.cache[gid(event)]["viewerRsvp"] == "MAYBE"

    services.set_rsvp(people.other_friend, event.pk, None)
    assert received(client.sync()) == ([gid(event)], [])
    assert client.cache[gid(event)]["attendeeCount"] == 0
    assert client.cache[gid(event)]["updatedAt"] == updated_at  # an RSVP is not an edit of the event


def test_small_pages_deliver_every_change_once_and_say_when_more_wait(client, people):
    events = [create(people.viewer, title=f"Mine {i}") for i in range(3)]
    events += [create(people.friend, title=f"Theirs {i}") for i in range(4)]

    answers = client.sync(first=2)

    assert [len(a["events"]) for a in answers] == [2, 2, 2, 1]
    assert [a["hasMore"] for a in answers] == [True, True, True, False]
    ids, _ = received(answers)
    assert ids == [gid(e) for e in events]  # in the order they changed, each once


def test_a_full_last_page_says_nothing_more_waits(client, people):
    for i in range(2):
        create(people.friend, title=f"Theirs {i}")

    answers = client.sync(first=2)

    assert [(len(a["events"]), a["hasMore"]) for a in answers] == [(2, False)]


def test_changes_sharing_one_seq_across_a_page_boundary_are_not_skipped(world, client, people):
    # A new friendship numbers all of the friend's existing events with its one seq.
    newcomer = world.user("nina")
    events = [create(newcomer, title=f"Theirs {i}") for i in range(5)]
    client.sync()
    world.befriend(people.viewer, newcomer)

    answers = client.sync(first=2)

    assert [len(a["events"]) for a in answers] == [2, 2, 1]
    assert received(answers)[0] == [gid(e) for e in events]


def test_writes_between_two_pages_of_one_sync_are_not_lost(client, people):
    first, second, third = (create(people.friend, title=f"Theirs {i}") for i in range(3))
    client.fetch_page(first=2)

    services.update_event(people.friend, first.pk, title="Edited after it was sent")
    services.delete_event(people.friend, third.pk)
    fourth = create(people.friend, title="Created while paging")
    client.sync(first=2)

    assert set(client.cache) == {gid(first), gid(second), gid(fourth)}
    assert client.cache == full_fetch(people.viewer)


def test_cursor_survives_a_server_restart(client, people):
    create(people.friend, title="Before")
    client.sync()
    after = create(people.friend, title="After")

    restarted = SyncClient(GraphQLClient(), World().token(people.viewer))
    restarted.cursor = client.cursor

    assert received(restarted.sync()) == ([gid(after)], [])


def test_cursor_is_base64_of_a_versioned_string(client, people):
    create(people.friend)
    client.sync()

    text = base64.urlsafe_b64decode(client.cursor).decode()

    assert text.startswith("sync:v2:")
    seq, event_id = text.removeprefix("sync:v2:").split(":")
    assert Position.from_cursor(client.cursor) == Position(int(seq), parse_global_id(event_id)[1])


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "since",
    [
        "",
        "not a cursor",
        "!!!",
        cursor_of("offset:3"),  # a connection's cursor
        cursor_of("sync:v1:12"),
        cursor_of("sync:v1:-1:0"),
        cursor_of("sync:v2:1:1"),
        cursor_of("sync:v1:1:99999999999999999999"),
        cursor_of(f"sync:v2:{2**64}:{global_id('Event', 1)}"),
        cursor_of(f"sync:v2:1:{global_id('Event', 1)}:"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_malformed_cursor_is_bad_user_input(gql, people, since):
    answer = gql(SYNC, {"since": since}, token=people.token)

    assert answer.data is None
    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in answer.errors] == [
        ("BAD_USER_INPUT", "since")
    ]


STALE = "since was made with IDs this server no longer uses: sync again from the start, without since."


def assert_stale(answer) -> None:
    assert answer.data is None
    assert [(e["extensions"]["code"], e["extensions"].get("field"), e["message"]) for e in answer.errors] == [
        ("BAD_USER_INPUT", "since", STALE)
    ]


@pytest.mark.parametrize(
    "since",
    [
        pytest.param(cursor_of("sync:v1:12:34"), id="first_format"),
        pytest.param(cursor_of("sync:v2:12:" + "A" * 22), id="not_an_id"),
        pytest.param(cursor_of(f"sync:v2:12:{global_id('User', 34)}"), id="a_users_id"),
    ],
)
def test_a_cursor_of_other_ids_is_refused_as_stale(gql, people, since):
    assert_stale(gql(SYNC, {"since": since}, token=people.token))


def test_after_the_ids_key_changes_the_old_cursor_is_stale_and_a_sync_from_the_start_replaces_every_id(client, people):
    event = create(people.friend)
    before = client.sync()
    assert received(before) == ([gid(event)], [])
    with override_settings(GLOBAL_ID_KEY="a-new-key-of-the-ids-at-least-32-characters"):
        assert_stale(client.gql(SYNC, {"since": client.cursor}, token=people.token))
        client.cursor, client.cache = None, {}
        assert received(client.sync()) == ([gid(event)], [])
        assert gid(event) != received(before)[0][0]


@pytest.mark.parametrize("first", [0, -1, 501])
def test_first_outside_1_to_500_is_bad_user_input(gql, people, first):
    answer = gql(SYNC, {"first": first}, token=people.token)

    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in answer.errors] == [
        ("BAD_USER_INPUT", "first")
    ]


def test_first_defaults_to_100_and_may_be_500(gql, people):
    for i in range(101):
        create(people.viewer, title=f"Mine {i}")

    default = gql(SYNC, {}, token=people.token).ok()["changes"]
    largest = gql(SYNC, {"first": 500}, token=people.token).ok()["changes"]

    assert (len(default["events"]), default["hasMore"]) == (100, True)
    assert (len(largest["events"]), largest["hasMore"]) == (101, False)


def test_anonymous_viewer_is_unauthenticated(gql, people):
    answer = gql(SYNC, {})

    assert answer.data is None
    assert answer.codes == ["UNAUTHENTICATED"]


def test_ids_of_events_the_viewer_never_could_see_never_appear(world, client, people):
    """Not strangers' events, not friends' PRIVATE events, not what a former friend
    made after the friendship ended: neither as events nor as removals."""
    client.sync()
    strangers = create(people.stranger, visibility="PUBLIC")
    friends_private = create(people.friend, visibility="PRIVATE")
    never_shared = create(people.friend, visibility="PRIVATE")
    for event in (strangers, friends_private):
        services.update_event(event.owner, event.pk, title="Edited")
    services.delete_event(people.stranger, strangers.pk)
    services.delete_event(people.friend, friends_private.pk)
    client.sync()

    services.remove_friend(people.viewer, people.other_friend.pk)
    made_after_the_end = create(people.other_friend)
    services.delete_event(people.other_friend, create(people.other_friend).pk)
    events, removed = received(client.sync())

    secrets = {gid(e) for e in (strangers, friends_private, never_shared, made_after_the_end)}
    assert not secrets & set(events + removed)
    assert removed == []  # other_friend had no event the viewer held


def test_a_friend_sees_removals_only_of_events_they_could_see(gql, client, people):
    """The owner's own device hears of its private event's deletion; a friend's does not."""
    event = create(people.friend, visibility="PRIVATE")
    owner = SyncClient(gql, World().token(people.friend))
    client.sync(), owner.sync()

    services.delete_event(people.friend, event.pk)

    assert received(owner.sync()) == ([], [gid(event)])
    assert received(client.sync()) == ([], [])


def test_events_of_a_friend_made_again_after_an_unfriending_arrive_again(client, people):
    event = create(people.friend)
    client.sync()
    services.remove_friend(people.friend, people.viewer.pk)
    client.sync()
    assert client.cache == {}

    request = services.send_friend_request(people.friend, people.viewer.username)
    services.respond_to_friend_request(people.viewer, request.pk, accept=True)

    assert received(client.sync()) == ([gid(event)], [])
    assert client.cache == full_fetch(people.viewer)


def test_a_new_friends_events_hidden_before_the_friendship_never_appear(world, client, people):
    newcomer = world.user("nina")
    once_shown = create(newcomer)
    services.update_event(newcomer, once_shown.pk, visibility="PRIVATE")
    deleted = create(newcomer)
    services.delete_event(newcomer, deleted.pk)
    client.sync()

    world.befriend(people.viewer, newcomer)
    services.update_event(newcomer, once_shown.pk, title="Edited while friends")
    events, removed = received(client.sync(first=1))

    assert (events, removed) == ([], [])


def test_a_former_friends_events_are_all_removed_across_small_pages(client, people):
    events = [create(people.friend, title=f"Theirs {i}") for i in range(3)]
    client.sync()

    services.remove_friend(people.viewer, people.friend.pk)
    answers = client.sync(first=1)

    assert received(answers) == ([], [gid(e) for e in events])
    assert client.cache == {}


def test_a_new_friends_event_hidden_between_two_pages_is_removed(world, client, people):
    newcomer = world.user("nina")
    first, second = create(newcomer, title="First"), create(newcomer, title="Second")
    client.sync()
    world.befriend(people.viewer, newcomer)
    client.fetch_page(first=1)
    assert gid(first) in client.cache

    services.update_event(newcomer, first.pk, visibility="PRIVATE")
    client.sync(first=1)

    assert set(client.cache) == {gid(second)}
    assert client.cache == full_fetch(people.viewer)


def test_a_removal_is_not_lost_when_other_changes_move_the_cursor_past_its_cause(client, people):
    """Found by tests/test_changes_property.py: a friend's event hidden, then deleted,
    while the viewer's own changes numbered in between are paged through first."""
    event = create(people.friend)
    client.sync()

    services.update_event(people.friend, event.pk, visibility="PRIVATE")
    create(people.viewer, title="Numbered between the two")
    services.delete_event(people.friend, event.pk)
    client.sync(first=1)

    assert gid(event) not in client.cache
    assert client.cache == full_fetch(people.viewer)


def test_a_friendship_ended_while_its_first_sync_was_paging_removes_what_arrived(world, client, people):
    newcomer = world.user("nina")
    events = [create(newcomer, title=f"Theirs {i}") for i in range(2)]
    client.sync()
    world.befriend(people.viewer, newcomer)
    client.fetch_page(first=1)  # both events share the friendship's seq: one arrives
    assert gid(events[0]) in client.cache

    services.remove_friend(newcomer, people.viewer.pk)
    client.sync(first=1)

    assert client.cache == {}


def test_an_event_deleted_just_before_an_unfriending_is_removed(client, people):
    event = create(people.friend)
    client.sync()

    services.delete_event(people.friend, event.pk)
    services.remove_friend(people.friend, people.viewer.pk)

    assert received(client.sync()) == ([], [gid(event)])


def test_a_former_friends_event_deleted_after_the_end_is_removed_across_pages(client, people):
    """Found by tests/test_changes_property.py: the deletion came after another
    friendship's end, and the page boundary fell between the two."""
    theirs = [create(people.friend, title=f"Theirs {i}") for i in range(2)]
    hers = create(people.other_friend)
    client.sync()

    services.remove_friend(people.other_friend, people.viewer.pk)
    services.remove_friend(people.friend, people.viewer.pk)
    services.delete_event(people.other_friend, hers.pk)

    assert sorted(received(client.sync(first=1))[1]) == sorted(gid(e) for e in [*theirs, hers])
    assert client.cache == {}


# --- removals name only what was in the viewer's scope (issue 11) ---------------------------
# An event friends saw, hidden before the viewer befriended its owner, was never in the
# viewer's scope: no answer may name it, however the sync is paged and whatever happens to
# it while they are friends or after.


def hidden_before_befriending(world: World, people: People) -> tuple[User, Event, Event]:
    """A new friend of the viewer with an event shown to friends and, numbered after it, one
    friends saw before it was made PRIVATE; the friendship begins after both."""
    newcomer = world.user("nina")
    shown, hidden = create(newcomer, title="Shown"), create(newcomer, title="Hidden")
    services.update_event(newcomer, hidden.pk, visibility="PRIVATE")
    world.befriend(people.viewer, newcomer)
    return newcomer, shown, hidden


def test_an_event_hidden_before_the_friendship_is_not_removed_on_the_first_sync(world, client, people):
    """Both events are keyed at the friendship's start, and a later change makes the first
    page say more waits: the page boundary falls between them."""
    _, shown, _ = hidden_before_befriending(world, people)
    own = create(people.viewer, title="Numbered after the friendship")

    assert received(client.sync(first=1)) == ([gid(shown), gid(own)], [])


def test_an_event_hidden_before_the_friendship_is_not_removed_when_it_ends(world, client, people):
    newcomer, shown, _ = hidden_before_befriending(world, people)
    client.sync()

    services.remove_friend(newcomer, people.viewer.pk)

    assert received(client.sync()) == ([], [gid(shown)])
    assert client.cache == full_fetch(people.viewer)


@pytest.mark.parametrize("change", ["edited", "deleted"])
def test_an_event_hidden_before_the_friendship_is_not_removed_when_it_changes(world, client, people, change):
    newcomer, _, hidden = hidden_before_befriending(world, people)
    client.sync()

    if change == "edited":
        services.update_event(newcomer, hidden.pk, title="Edited while friends")
    else:
        services.delete_event(newcomer, hidden.pk)

    assert received(client.sync()) == ([], [])


@pytest.mark.parametrize("after_the_end", ["deleted", "shown again"])
def test_an_event_hidden_throughout_a_friendship_is_not_removed_when_it_ends(world, client, people, after_the_end):
    """Seen by friends before the friendship and after its end, but not while it lasted."""
    newcomer, shown, hidden = hidden_before_befriending(world, people)
    client.sync()
    services.remove_friend(people.viewer, newcomer.pk)

    if after_the_end == "deleted":
        services.delete_event(newcomer, hidden.pk)
    else:
        services.update_event(newcomer, hidden.pk, visibility="FRIENDS")

    assert received(client.sync()) == ([], [gid(shown)])


def test_an_event_shown_only_between_two_friendships_is_not_removed(world, client, people):
    """The viewer's device held the friend's events during the first friendship; this one
    friends saw only while the two were not friends."""
    between = create(people.friend, visibility="PRIVATE")
    client.sync()
    services.remove_friend(people.friend, people.viewer.pk)
    services.update_event(people.friend, between.pk, visibility="FRIENDS")
    services.update_event(people.friend, between.pk, visibility="PRIVATE")
    world.befriend(people.viewer, people.friend)

    assert received(client.sync()) == ([], [])


# And every event the device may hold still goes, however little its owner's friends
# see of it now: the server must know when friends saw it, not only when they last did.


def test_an_event_held_then_hidden_and_shown_again_after_the_unfriending_is_removed(client, people):
    event = create(people.friend)
    client.sync()
    services.update_event(people.friend, event.pk, visibility="PRIVATE")
    services.remove_friend(people.friend, people.viewer.pk)

    services.update_event(people.friend, event.pk, visibility="FRIENDS")

    assert received(client.sync()) == ([], [gid(event)])
    assert client.cache == full_fetch(people.viewer)


def test_an_event_held_in_an_earlier_friendship_and_hidden_before_the_next_is_removed(world, client, people):
    event = create(people.friend)
    client.sync()
    services.remove_friend(people.friend, people.viewer.pk)
    services.update_event(people.friend, event.pk, visibility="PRIVATE")

    world.befriend(people.viewer, people.friend)

    assert received(client.sync()) == ([], [gid(event)])
    assert client.cache == full_fetch(people.viewer)
