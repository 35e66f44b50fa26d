"""Who sees what (docs/api.md, "Who sees what"), on every read path that reaches an event.

The scene: olga owns a PUBLIC, a FRIENDS and a PRIVATE event. fred and mia are her
friends (and each other's), paula is her friend but not fred's, sam is nobody's.
paula and fred own the same three kinds of events. Viewers: olga (the owner), fred
(a friend) and sam (a non-friend).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest

from calendarapp.models import Event, FriendRequest, Friendship, User
from tests.conftest import World, sealed_id, utc

DAY = "2026-11-23"
VISIBILITIES = ("PUBLIC", "FRIENDS", "PRIVATE")

# (viewer, the visibilities of olga's events that viewer sees), one row per role.
MATRIX = [
    pytest.param("olga", ["PUBLIC", "FRIENDS", "PRIVATE"], id="owner_sees_public_friends_and_private"),
    pytest.param("fred", ["PUBLIC", "FRIENDS"], id="friend_sees_public_and_friends_not_private"),
    pytest.param("sam", ["PUBLIC"], id="non_friend_sees_public_only"),
]
ROLE_OF = {"olga": "owner", "fred": "friend", "sam": "non_friend"}
SEES = {"olga": set(VISIBILITIES), "fred": {"PUBLIC", "FRIENDS"}, "sam": {"PUBLIC"}}

EVENTS = "totalCount edges { node { title visibility owner { username } } }"


@dataclass
class Scene:
    users: dict[str, User]
    tokens: dict[str, str]
    events: dict[str, Event]  # "olga-public", "paula-friends", ...

    def event_id(self, name: str) -> str:
        return World.id(self.events[name])

    def user_id(self, username: str) -> str:
        return World.id(self.users[username])


@pytest.fixture
def scene(world) -> Scene:
    users = {name: world.user(name) for name in ("olga", "fred", "sam", "paula", "mia")}
    world.befriend(users["olga"], users["fred"])
    world.befriend(users["olga"], users["paula"])
    world.befriend(users["olga"], users["mia"])
    world.befriend(users["fred"], users["mia"])
    events = {}
    for owner in ("olga", "paula", "fred"):
        for hour, visibility in zip((9, 11, 13), VISIBILITIES, strict=True):
            name = f"{owner}-{visibility.lower()}"
            events[name] = world.event(users[owner], utc(2026, 11, 23, hour), visibility=visibility, title=name)
    return Scene(users, {name: world.token(user) for name, user in users.items()}, events)


def visibilities(connection: dict) -> list[str]:
    return [edge["node"]["visibility"] for edge in connection["edges"]]


def titles(connection: dict) -> list[str]:
    return [edge["node"]["title"] for edge in connection["edges"]]


def olga_titles(visible: list[str]) -> list[str]:
    return [f"olga-{visibility.lower()}" for visibility in visible]


# --- User.events and User.eventCount -------------------------------------------------------


@pytest.mark.parametrize(("viewer", "visible"), MATRIX)
def test_user_by_username_events_and_counts_follow_the_visibility_rule(gql, scene, viewer, visible):
    data = gql(
        f"""query($date: Date!) {{ user(username: "olga") {{
              all: events {{ {EVENTS} }}
              day: events(date: $date) {{ {EVENTS} }}
              window: events(from: "2026-11-23T00:00:00Z", to: "2026-11-24T00:00:00Z") {{ {EVENTS} }}
              eventCount
              dayCount: eventCount(date: $date)
            }} }}""",
        {"date": DAY},
        token=scene.tokens[viewer],
    ).ok()
    user = data["user"]
    for name in ("all", "day", "window"):
        assert visibilities(user[name]) == visible, name
        assert titles(user[name]) == olga_titles(visible)
        assert user[name]["totalCount"] == len(visible)
        assert {edge["node"]["owner"]["username"] for edge in user[name]["edges"]} == {"olga"}
    assert user["eventCount"] == len(visible)
    assert user["dayCount"] == len(visible)


@pytest.mark.parametrize(("viewer", "visible"), MATRIX)
def test_user_by_node_id_events_and_counts_follow_the_visibility_rule(gql, scene, viewer, visible):
    data = gql(
        f"""query($id: ID!, $date: Date!) {{ node(id: $id) {{ ... on User {{
              username
              events {{ {EVENTS} }}
              day: events(date: $date) {{ {EVENTS} }}
              eventCount
              dayCount: eventCount(date: $date)
            }} }} }}""",
        {"id": scene.user_id("olga"), "date": DAY},
        token=scene.tokens[viewer],
    ).ok()
    user = data["node"]
    assert user["username"] == "olga"
    assert visibilities(user["events"]) == visible
    assert visibilities(user["day"]) == visible
    assert user["events"]["totalCount"] == user["day"]["totalCount"] == len(visible)
    assert user["eventCount"] == user["dayCount"] == len(visible)


def test_owner_sees_all_own_events_through_viewer(gql, scene):
    data = gql(
        f"query {{ viewer {{ events {{ {EVENTS} }} eventCount }} }}",
        token=scene.tokens["olga"],
    ).ok()
    assert visibilities(data["viewer"]["events"]) == list(VISIBILITIES)
    assert data["viewer"]["events"]["totalCount"] == data["viewer"]["eventCount"] == 3


def test_nested_events_through_friends_are_filtered_for_the_viewer_not_the_parent(gql, scene):
    """fred → his friends (mia, olga) → olga's friends (fred himself, mia, paula) → their events:
    at every depth the rule is applied to fred, the viewer."""
    data = gql(
        f"""query($date: Date!) {{ viewer {{ friends {{ edges {{ node {{
              username
              events {{ {EVENTS} }}
              eventCount(date: $date)
              friends {{ edges {{ node {{ username events(date: $date) {{ {EVENTS} }} eventCount }} }} }}
            }} }} }} }} }}""",
        {"date": DAY},
        token=scene.tokens["fred"],
    ).ok()
    friends = {edge["node"]["username"]: edge["node"] for edge in data["viewer"]["friends"]["edges"]}
    assert list(friends) == ["mia", "olga"]  # by displayName
    olga = friends["olga"]
    assert visibilities(olga["events"]) == ["PUBLIC", "FRIENDS"]
    assert olga["events"]["totalCount"] == olga["eventCount"] == 2

    second_level = {edge["node"]["username"]: edge["node"] for edge in olga["friends"]["edges"]}
    assert list(second_level) == ["fred", "mia", "paula"]
    # fred is the viewer: all his own events, even two levels down.
    assert titles(second_level["fred"]["events"]) == ["fred-public", "fred-friends", "fred-private"]
    assert second_level["fred"]["eventCount"] == 3
    # paula is a friend of olga but not of fred: PUBLIC only.
    assert titles(second_level["paula"]["events"]) == ["paula-public"]
    assert second_level["paula"]["events"]["totalCount"] == second_level["paula"]["eventCount"] == 1
    assert second_level["mia"]["events"]["totalCount"] == 0


# --- node(id:) of an Event ------------------------------------------------------------------


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("viewer", ["olga", "fred", "sam"], ids=ROLE_OF.get)
def test_event_by_node_is_visible_exactly_when_the_rule_allows_and_null_like_a_missing_id_otherwise(
    gql, scene, world, viewer, visibility
):
    query = "query($id: ID!) { node(id: $id) { id ... on Event { title visibility attendeeCount } } }"
    name = f"olga-{visibility.lower()}"
    answer = gql(query, {"id": scene.event_id(name)}, token=scene.tokens[viewer])

    gone = world.event(scene.users["olga"], utc(2026, 11, 23, 15), visibility="PUBLIC")
    gone_id = world.id(gone)
    gone.delete()
    missing = gql(query, {"id": gone_id}, token=scene.tokens[viewer])
    assert missing.status == 200 and missing.body == {"data": {"node": None}}

    if visibility in SEES[viewer]:
        node = answer.ok()["node"]
        assert node["id"] == scene.event_id(name)
        assert (node["title"], node["visibility"]) == (name, visibility)
    else:
        assert answer.status == missing.status
        assert answer.body == missing.body  # indistinguishable from an event that does not exist


# --- friendsEvents ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        # olga's friends fred and paula: their PUBLIC and FRIENDS events, by startsAt then id
        # (paula's were created before fred's); not olga's own.
        pytest.param(
            "olga",
            ["paula-public", "fred-public", "paula-friends", "fred-friends"],
            id="owner_sees_friends_public_and_friends_events_not_own",
        ),
        # fred's friends olga and mia: olga's PUBLIC and FRIENDS; not fred's own, not paula's public.
        pytest.param("fred", ["olga-public", "olga-friends"], id="friend_sees_public_and_friends_not_private_nor_own"),
        # sam has no friends: nothing, though olga's PUBLIC event is visible to him elsewhere.
        pytest.param("sam", [], id="user_without_friends_gets_an_empty_feed"),
    ],
)
def test_friends_events_hold_the_visible_events_of_friends_only(gql, scene, viewer, expected):
    data = gql(
        f"query($date: Date!) {{ friendsEvents(date: $date) {{ {EVENTS} }} }}",
        {"date": DAY},
        token=scene.tokens[viewer],
    ).ok()
    assert titles(data["friendsEvents"]) == expected
    assert data["friendsEvents"]["totalCount"] == len(expected)
    assert all(edge["node"]["owner"]["username"] != viewer for edge in data["friendsEvents"]["edges"])


# --- attendees and attendeeCount --------------------------------------------------------------


@pytest.fixture
def rsvps(scene, world):
    """RSVPs on olga's events. fred is GOING to the private one (say it was FRIENDS when he
    answered): still, he must never reach it."""
    users, events = scene.users, scene.events
    world.rsvp(users["sam"], events["olga-public"], "GOING")
    world.rsvp(users["mia"], events["olga-public"], "MAYBE")
    world.rsvp(users["fred"], events["olga-public"], "DECLINED")
    world.rsvp(users["mia"], events["olga-friends"], "GOING")
    world.rsvp(users["fred"], events["olga-friends"], "GOING")
    world.rsvp(users["paula"], events["olga-friends"], "MAYBE")
    world.rsvp(users["fred"], events["olga-private"], "GOING")
    return {"olga-public": ["sam"], "olga-friends": ["fred", "mia"], "olga-private": ["fred"]}


ATTENDEES = "title attendeeCount attendees { totalCount edges { node { username } } }"


def attendee_map(connection: dict) -> dict[str, tuple[int, int, list[str]]]:
    return {
        edge["node"]["title"]: (
            edge["node"]["attendeeCount"],
            edge["node"]["attendees"]["totalCount"],
            [a["node"]["username"] for a in edge["node"]["attendees"]["edges"]],
        )
        for edge in connection["edges"]
    }


@pytest.mark.parametrize(("viewer", "visible"), MATRIX)
def test_attendees_are_the_going_users_of_visible_events_only(gql, scene, rsvps, viewer, visible):
    data = gql(
        f'query {{ user(username: "olga") {{ events {{ edges {{ node {{ {ATTENDEES} }} }} }} }} }}',
        token=scene.tokens[viewer],
    ).ok()
    expected = {name: (len(rsvps[name]), len(rsvps[name]), rsvps[name]) for name in olga_titles(visible)}
    assert attendee_map(data["user"]["events"]) == expected


@pytest.mark.parametrize("viewer", ["olga", "fred", "sam"], ids=ROLE_OF.get)
@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_attendees_by_event_node_are_reachable_only_when_the_event_is(gql, scene, rsvps, viewer, visibility):
    name = f"olga-{visibility.lower()}"
    answer = gql(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Event {{ {ATTENDEES} }} }} }}",
        {"id": scene.event_id(name)},
        token=scene.tokens[viewer],
    )
    node = answer.ok()["node"]
    if visibility in SEES[viewer]:
        assert node["attendeeCount"] == node["attendees"]["totalCount"] == len(rsvps[name])
        assert [edge["node"]["username"] for edge in node["attendees"]["edges"]] == rsvps[name]
    else:
        assert node is None


def test_attendees_through_friends_events_are_those_of_visible_events(gql, scene, rsvps):
    data = gql(
        f"query($date: Date!) {{ friendsEvents(date: $date) {{ edges {{ node {{ {ATTENDEES} }} }} }} }}",
        {"date": DAY},
        token=scene.tokens["fred"],
    ).ok()
    assert attendee_map(data["friendsEvents"]) == {
        "olga-public": (1, 1, ["sam"]),
        "olga-friends": (2, 2, ["fred", "mia"]),
    }


# --- friends: who may list them, isFriend and counts ------------------------------------------


def test_friends_of_a_non_friend_are_forbidden(gql, scene):
    answer = gql(
        'query { viewer { username } user(username: "olga") { username friends { totalCount } } }',
        token=scene.tokens["sam"],
    )
    assert answer.codes == ["FORBIDDEN"]
    assert answer.errors[0]["path"] == ["user", "friends"]
    # friends is non-null, so its error nulls `user` (the nearest nullable parent, as the
    # GraphQL spec says), and nothing else: the sibling `viewer` is still answered.
    assert answer.data == {"viewer": {"username": "sam"}, "user": None}


def test_friends_of_a_non_friend_by_node_are_forbidden(gql, scene):
    answer = gql(
        "query($id: ID!) { node(id: $id) { ... on User { friends { edges { node { username } } } } } }",
        {"id": scene.user_id("paula")},
        token=scene.tokens["fred"],
    )
    assert answer.codes == ["FORBIDDEN"]
    assert answer.data == {"node": None}


def test_friends_of_a_friend_and_of_oneself_are_listed(gql, scene):
    data = gql(
        """query { user(username: "olga") { friends { totalCount edges { node { username } } } }
                   viewer { friends { totalCount edges { node { username } } } }
                   me: user(username: "fred") { friends { totalCount edges { node { username } } } } }""",
        token=scene.tokens["fred"],
    ).ok()
    assert [e["node"]["username"] for e in data["user"]["friends"]["edges"]] == ["fred", "mia", "paula"]
    assert data["user"]["friends"]["totalCount"] == 3
    assert [e["node"]["username"] for e in data["viewer"]["friends"]["edges"]] == ["mia", "olga"]
    assert data["me"]["friends"] == data["viewer"]["friends"]


def test_nested_friends_are_forbidden_only_where_the_viewer_is_not_a_friend(gql, scene):
    answer = gql(
        """query { user(username: "olga") { friends { edges { node { username
              friends { totalCount edges { node { username } } } } } } } }""",
        token=scene.tokens["fred"],
    )
    assert answer.codes == ["FORBIDDEN"]
    assert answer.data is not None, "the error must null paula's node only, not the whole answer"
    edges = answer.data["user"]["friends"]["edges"]
    assert answer.errors[0]["path"] == ["user", "friends", "edges", 2, "node", "friends"]
    assert edges[2]["node"] is None  # paula: fred is not her friend
    assert edges[0]["node"]["username"] == "fred"  # himself
    assert [e["node"]["username"] for e in edges[0]["node"]["friends"]["edges"]] == ["mia", "olga"]
    assert edges[1]["node"]["username"] == "mia"  # his friend
    assert [e["node"]["username"] for e in edges[1]["node"]["friends"]["edges"]] == ["fred", "olga"]


def test_is_friend_friend_count_and_mutual_friend_count(gql, scene):
    data = gql(
        """fragment F on User { isFriend friendCount mutualFriendCount }
           query { olga: user(username: "olga") { ...F } paula: user(username: "paula") { ...F }
                   mia: user(username: "mia") { ...F } sam: user(username: "sam") { ...F }
                   viewer { isFriend friendCount } }""",
        token=scene.tokens["fred"],
    ).ok()
    # fred's friends: olga, mia.
    assert data["olga"] == {"isFriend": True, "friendCount": 3, "mutualFriendCount": 1}  # shared: mia
    assert data["paula"] == {"isFriend": False, "friendCount": 1, "mutualFriendCount": 1}  # shared: olga
    assert data["mia"] == {"isFriend": True, "friendCount": 2, "mutualFriendCount": 1}  # shared: olga
    assert data["sam"] == {"isFriend": False, "friendCount": 0, "mutualFriendCount": 0}
    assert data["viewer"] == {"isFriend": False, "friendCount": 2}


STRANGERS_VIEW = """query($date: Date!) { user(username: "paula") {
  id username displayName timezone avatarUrl isFriend friendCount mutualFriendCount
  eventCount dayCount: eventCount(date: $date) events { edges { node { title } } }
} }"""


def test_what_a_stranger_sees_of_a_user_is_what_the_readme_says(gql, scene, world):
    """README, "What a stranger sees of a user": the profile fields, isFriend, both counts,
    the PUBLIC events and their count; the friends list is FORBIDDEN (tested above)."""
    paula = scene.users["paula"]
    paula.timezone, paula.avatar_url = "Asia/Tokyo", "https://example.com/paula.png"
    paula.save()
    world.befriend(paula, scene.users["fred"])
    world.befriend(scene.users["sam"], scene.users["fred"])  # fred: a friend sam and paula share
    data = gql(STRANGERS_VIEW, {"date": DAY}, token=scene.tokens["sam"]).ok()
    assert data["user"] == {
        "id": World.id(paula),
        "username": "paula",
        "displayName": "Paula",
        "timezone": "Asia/Tokyo",
        "avatarUrl": "https://example.com/paula.png",
        "isFriend": False,
        "friendCount": 2,  # all of them, though the list is not shown
        "mutualFriendCount": 1,
        "eventCount": 1,
        "dayCount": 1,
        "events": {"edges": [{"node": {"title": "paula-public"}}]},
    }


def test_friendship_is_mutual_for_is_friend(gql, scene):
    data = gql('query { user(username: "fred") { isFriend } }', token=scene.tokens["olga"]).ok()
    assert data["user"]["isFriend"] is True


# --- a removed friendship ---------------------------------------------------------------------


@pytest.mark.parametrize("remover", ["fred", "olga"], ids=["removed_by_the_friend", "removed_by_the_owner"])
def test_removed_friendship_stops_friends_visibility_on_every_path(gql, scene, remover):
    other = "olga" if remover == "fred" else "fred"
    gql(
        "mutation($id: ID!) { removeFriend(input: {userId: $id}) { removedUserId } }",
        {"id": scene.user_id(other)},
        token=scene.tokens[remover],
    ).ok()
    assert not Friendship.objects.filter(user__username__in=["olga", "fred"], friend__username__in=["olga", "fred"])

    answer = gql(
        f"""query($date: Date!, $friendsEvent: ID!) {{
              user(username: "olga") {{ isFriend events {{ {EVENTS} }} eventCount dayCount: eventCount(date: $date) }}
              friendsEvents(date: $date) {{ {EVENTS} }}
              node(id: $friendsEvent) {{ id }}
            }}""",
        {"date": DAY, "friendsEvent": scene.event_id("olga-friends")},
        token=scene.tokens["fred"],
    )
    data = answer.ok()
    assert data["user"]["isFriend"] is False
    assert titles(data["user"]["events"]) == ["olga-public"]
    assert data["user"]["events"]["totalCount"] == data["user"]["eventCount"] == data["user"]["dayCount"] == 1
    assert data["friendsEvents"] == {"totalCount": 0, "edges": []}
    assert data["node"] is None

    # Both sides: olga no longer sees fred's FRIENDS event either, nor may fred list her friends.
    olga_view = gql(
        f'query {{ user(username: "fred") {{ isFriend events {{ {EVENTS} }} }} }}', token=scene.tokens["olga"]
    ).ok()
    assert olga_view["user"]["isFriend"] is False
    assert titles(olga_view["user"]["events"]) == ["fred-public"]
    forbidden = gql('query { user(username: "olga") { friends { totalCount } } }', token=scene.tokens["fred"])
    assert forbidden.codes == ["FORBIDDEN"]


# --- anonymous viewers ------------------------------------------------------------------------


ANONYMOUS_FIELDS = [
    pytest.param('user(username: "olga") { username }', id="user"),
    pytest.param('node(id: "USER_ID") { id }', id="node_of_a_user"),
    pytest.param('node(id: "EVENT_ID") { id }', id="node_of_a_public_event"),
    pytest.param('friendsEvents(date: "2026-11-23") { totalCount }', id="friendsEvents"),
    pytest.param("incomingFriendRequests { totalCount }", id="incomingFriendRequests"),
]
BAD_AUTHORIZATIONS = [
    pytest.param(None, id="no_header"),
    pytest.param("Bearer not-a-token", id="unknown_token"),
    pytest.param("Bearer ", id="empty_token"),
    pytest.param("Bearer VALID-tampered", id="tampered_token"),
    pytest.param("Basic VALID", id="valid_token_under_another_scheme"),
    pytest.param("Bearer " + "x" * 5000, id="huge_token"),
]


def authorization_header(template: str | None, scene: Scene) -> dict[str, str]:
    if template is None:
        return {}
    return {"HTTP_AUTHORIZATION": template.replace("VALID", scene.tokens["olga"])}


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATIONS)
def test_anonymous_or_invalid_token_viewer_is_null(gql, scene, authorization):
    answer = gql.post({"query": "query { viewer { username } }"}, **authorization_header(authorization, scene))
    assert answer.status == 200
    assert answer.body == {"data": {"viewer": None}}


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATIONS)
@pytest.mark.parametrize("field", ANONYMOUS_FIELDS)
def test_anonymous_or_invalid_token_gets_unauthenticated_everywhere_else(gql, scene, authorization, field):
    field = field.replace("USER_ID", scene.user_id("olga")).replace("EVENT_ID", scene.event_id("olga-public"))
    answer = gql.post(
        {"query": f"query {{ viewer {{ username }} {field} }}"}, **authorization_header(authorization, scene)
    )
    assert answer.codes == ["UNAUTHENTICATED"]
    # friendsEvents and incomingFriendRequests are non-null: their error nulls the whole data.
    assert not any((answer.data or {}).values())  # viewer is null and nothing leaks


def test_a_valid_token_is_the_control_for_the_anonymous_tests(gql, scene):
    answer = gql.post({"query": "query { viewer { username } }"}, HTTP_AUTHORIZATION=f"Bearer {scene.tokens['olga']}")
    assert answer.ok() == {"viewer": {"username": "olga"}}


# --- malformed and foreign IDs ----------------------------------------------------------------


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


MALFORMED_IDS = [
    pytest.param("garbage", id="not_base64"),
    pytest.param("", id="empty"),
    pytest.param("!!!", id="punctuation"),
    pytest.param("1", id="bare_number"),
    pytest.param(b64("Event"), id="no_separator"),
    pytest.param(b64("Event:"), id="no_pk"),
    pytest.param(b64(":1"), id="no_type"),
    pytest.param(b64("Event:abc"), id="pk_not_a_number"),
    pytest.param(b64("Event:-1"), id="negative_pk"),
    pytest.param(b64("Event:1.0"), id="decimal_pk"),
    pytest.param(b64("Event:" + "9" * 30), id="pk_overflowing_bigint"),
    pytest.param(b64("Event:²"), id="pk_unicode_superscript_digit"),
    pytest.param(b64(b"\xff\xfe:1"), id="not_utf8"),
]


def assert_null_node_without_server_error(answer) -> None:
    assert answer.status in (200, 400), answer.body
    assert "INTERNAL_SERVER_ERROR" not in answer.codes, answer.body
    assert set(answer.codes) <= {"BAD_USER_INPUT"}, answer.body  # docs/api.md: null or BAD_USER_INPUT
    assert (answer.data or {}).get("node") is None


@pytest.mark.parametrize("node_id", MALFORMED_IDS)
def test_node_with_a_malformed_id_is_null_not_a_server_error(gql, scene, node_id):
    answer = gql("query($id: ID!) { node(id: $id) { id } }", {"id": node_id}, token=scene.tokens["olga"])
    assert_null_node_without_server_error(answer)


@pytest.mark.parametrize("type_code", [0, 5, 255])
def test_node_with_an_id_of_an_unknown_type_is_null(gql, scene, type_code):
    # Sealed with the server's key and naming a real event's primary key, but under a type
    # code that no Node type has.
    block = bytes([1, type_code]) + scene.events["olga-public"].pk.to_bytes(8, "big") + bytes(6)
    answer = gql("query($id: ID!) { node(id: $id) { id } }", {"id": sealed_id(block)}, token=scene.tokens["olga"])
    assert_null_node_without_server_error(answer)


def test_node_of_each_type_is_found_with_its_own_id(gql, scene):
    """The control for the null answers above: real IDs of every Node type resolve."""
    request = FriendRequest.objects.create(from_user=scene.users["sam"], to_user=scene.users["olga"])
    ids = [scene.user_id("fred"), scene.event_id("olga-public"), World.id(request)]
    data = gql(
        "query($a: ID!, $b: ID!, $c: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } c: node(id: $c) { id } }",
        dict(zip("abc", ids, strict=True)),
        token=scene.tokens["olga"],
    ).ok()
    assert [data[key]["id"] for key in "abc"] == ids


# --- friend requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "visible"),
    [
        pytest.param("sam", True, id="sender_sees_it"),
        pytest.param("olga", True, id="recipient_sees_it"),
        pytest.param("fred", False, id="recipients_friend_does_not"),
        pytest.param("paula", False, id="anyone_else_does_not"),
    ],
)
def test_friend_request_by_node_is_visible_to_sender_and_recipient_only(gql, scene, viewer, visible):
    request = FriendRequest.objects.create(from_user=scene.users["sam"], to_user=scene.users["olga"])
    request_id = World.id(request)
    answer = gql(
        "query($id: ID!) { node(id: $id) { id ... on FriendRequest { from { username } to { username } createdAt } } }",
        {"id": request_id},
        token=scene.tokens[viewer],
    )
    node = answer.ok()["node"]
    if visible:
        assert node["id"] == request_id
        assert (node["from"]["username"], node["to"]["username"]) == ("sam", "olga")
    else:
        assert node is None


def test_incoming_friend_requests_list_pending_requests_to_the_viewer_only(gql, scene, world):
    users = scene.users
    rick, sue, tom, una = (world.user(name) for name in ("rick", "sue", "tom", "una"))
    FriendRequest.objects.create(from_user=rick, to_user=users["olga"])
    FriendRequest.objects.create(from_user=sue, to_user=users["olga"], status="DECLINED")
    FriendRequest.objects.create(from_user=tom, to_user=users["olga"], status="ACCEPTED")
    FriendRequest.objects.create(from_user=users["sam"], to_user=users["olga"])
    FriendRequest.objects.create(from_user=users["olga"], to_user=una)  # outgoing
    FriendRequest.objects.create(from_user=rick, to_user=users["fred"])  # someone else's

    query = "query { incomingFriendRequests { totalCount edges { node { from { username } to { username } } } } }"

    def inbox(username: str) -> tuple[int, list[tuple[str, str]]]:
        connection = gql(query, token=scene.tokens.get(username) or world.token(User.objects.get(username=username)))
        connection = connection.ok()["incomingFriendRequests"]
        pairs = [(e["node"]["from"]["username"], e["node"]["to"]["username"]) for e in connection["edges"]]
        return connection["totalCount"], pairs

    assert inbox("olga") == (2, [("rick", "olga"), ("sam", "olga")])  # oldest first
    assert inbox("fred") == (1, [("rick", "fred")])
    assert inbox("una") == (1, [("olga", "una")])
    assert inbox("rick") == (0, [])  # a sender's outgoing requests are not incoming
