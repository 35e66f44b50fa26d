"""Filters (API.md, "What the queries mean"): `search:` on `events`, `friendsEvents` and
`friends`, `visibility:` on `events`. They keep part of what the viewer may see and count it;
they never show more, refuse bad values as BAD_USER_INPUT naming the argument on both
execution paths, and cost no statement (tests/test_query_counts.py compares the operations).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from calendarapp.models import User
from loaders.filters import EventFilter, Filters, FriendFilter, clean_filters
from tests.conftest import utc

USER_EVENTS = """query($username: String!, $search: String, $visibility: [Visibility!]) {
  user(username: $username) {
    events(date: "2026-11-23", search: $search, visibility: $visibility) { totalCount edges { node { title } } }
  }
}"""
FEED = """query($search: String) {
  friendsEvents(date: "2026-11-23", search: $search) { totalCount edges { node { title } } }
}"""
FRIENDS = """query($username: String!, $search: String) {
  user(username: $username) { friends(search: $search) { totalCount edges { node { username } } } }
}"""
BOTH_PATHS = pytest.mark.parametrize("compiled", [True, False], ids=["compiled plans", "graphql-core"])


@pytest.fixture
def town(world):
    """vera is friends with ann; sam is a stranger to both. ann has an event of each
    visibility (titles and locations to search), vera one of her own; sam a PUBLIC one."""
    vera, ann, sam = world.user("vera"), world.user("ann", display_name="Élodie"), world.user("sam")
    world.befriend(vera, ann)
    for hour, (visibility, title, location) in enumerate(
        [
            ("PUBLIC", "Book club", "Central library"),
            ("FRIENDS", "Lunch", "Café de Flore"),
            ("PRIVATE", "Dentist", "Downtown"),
            ("FRIENDS", "Running CLUB", ""),
        ],
        start=8,
    ):
        world.event(ann, utc(2026, 11, 23, hour), visibility=visibility, title=title, location=location)
    world.event(vera, utc(2026, 11, 23, 12), visibility="PRIVATE", title="Vera's club")
    world.event(sam, utc(2026, 11, 23, 13), visibility="PUBLIC", title="Sam's club")
    return {name: world.token(user) for name, user in (("vera", vera), ("ann", ann), ("sam", sam))}


def titles(answer, *path: str) -> list[str]:
    connection_data = answer.ok()
    for key in path:
        connection_data = connection_data[key]
    found = [edge["node"]["title"] for edge in connection_data["edges"]]
    assert connection_data["totalCount"] == len(found)
    return found


@BOTH_PATHS
@pytest.mark.parametrize(
    ("search", "expected"),
    [
        pytest.param(None, ["Book club", "Lunch", "Running CLUB"], id="none"),
        pytest.param("  ", ["Book club", "Lunch", "Running CLUB"], id="blank_is_no_filter"),
        pytest.param("club", ["Book club", "Running CLUB"], id="title_any_case"),
        pytest.param(" CLUB ", ["Book club", "Running CLUB"], id="trimmed"),
        pytest.param("LIBRARY", ["Book club"], id="location"),
        pytest.param("flore", ["Lunch"], id="location_any_case"),
        pytest.param("dentist", [], id="a_private_event_is_not_found"),
        pytest.param("%", [], id="like_wildcards_are_text"),
    ],
)
def test_search_keeps_the_events_whose_title_or_location_holds_the_text(gql, town, compiled, search, expected):
    with override_settings(GRAPHQL_COMPILED_PLANS=compiled):
        events = gql(USER_EVENTS, {"username": "ann", "search": search}, token=town["vera"])
        feed = gql(FEED, {"search": search}, token=town["vera"])
    assert titles(events, "user", "events") == expected
    assert titles(feed, "friendsEvents") == expected  # vera's only friend is ann


@BOTH_PATHS
@pytest.mark.parametrize(
    ("viewer", "visibility", "expected"),
    [
        pytest.param("ann", ["PRIVATE"], ["Dentist"], id="the_owner_sees_her_private_events"),
        pytest.param("vera", ["PRIVATE"], [], id="a_friend_never_sees_private_events"),
        pytest.param("vera", ["PRIVATE", "FRIENDS"], ["Lunch", "Running CLUB"], id="a_friend_sees_friends_events"),
        pytest.param("sam", ["FRIENDS", "PRIVATE"], [], id="a_stranger_sees_only_public_events"),
        pytest.param("sam", ["PUBLIC", "PUBLIC"], ["Book club"], id="repeated_values"),
        pytest.param("sam", None, ["Book club"], id="none"),
    ],
)
def test_visibility_keeps_those_visibilities_of_the_events_the_viewer_may_see(
    gql, town, compiled, viewer, visibility, expected
):
    with override_settings(GRAPHQL_COMPILED_PLANS=compiled):
        answer = gql(USER_EVENTS, {"username": "ann", "visibility": visibility}, token=town[viewer])
    assert titles(answer, "user", "events") == expected


def test_a_friends_private_events_never_appear_whatever_the_filters(gql, town):
    query = """query($visibility: [Visibility!], $search: String) {
      viewer { friends { edges { node { events(date: "2026-11-23", visibility: $visibility, search: $search) {
        totalCount edges { node { title visibility } } } } } } }
    }"""
    for search in (None, "dentist", "downtown", "d"):
        data = gql(query, {"visibility": ["PRIVATE"], "search": search}, token=town["vera"]).ok()
        (ann,) = data["viewer"]["friends"]["edges"]
        assert ann["node"]["events"] == {"totalCount": 0, "edges": []}


def test_search_narrows_a_users_friends_and_never_lists_them_to_a_stranger(gql, town, world):
    vera = User.objects.get(username="vera")
    for name in ("bob", "elodia"):
        world.befriend(vera, world.user(name))
    assert gql(FRIENDS, {"username": "vera", "search": "LOD"}, token=town["vera"]).ok() == {
        "user": {
            "friends": {"totalCount": 2, "edges": [{"node": {"username": "elodia"}}, {"node": {"username": "ann"}}]}
        }
    }
    assert gql(FRIENDS, {"username": "vera", "search": "BO"}, token=town["vera"]).ok() == {
        "user": {"friends": {"totalCount": 1, "edges": [{"node": {"username": "bob"}}]}}
    }
    refused = gql(FRIENDS, {"username": "vera", "search": "ann"}, token=town["sam"])
    assert refused.codes == ["FORBIDDEN"] and refused.data == {"user": None}


@BOTH_PATHS
@pytest.mark.parametrize(
    ("query", "variables", "field", "message"),
    [
        pytest.param(
            USER_EVENTS,
            {"username": "ann", "search": "x" * 151},
            "search",
            "search may be at most 150 characters.",
            id="events_long_search",
        ),
        pytest.param(FEED, {"search": "é" * 151}, "search", "search may be at most 150 characters.", id="feed"),
        pytest.param(
            FRIENDS,
            {"username": "vera", "search": " " + "x" * 151},
            "search",
            "search may be at most 150 characters.",
            id="friends_long_search",
        ),
        pytest.param(
            USER_EVENTS,
            {"username": "ann", "visibility": []},
            "visibility",
            "visibility must list at least one value (leave it out to keep them all).",
            id="empty_visibility",
        ),
    ],
)
def test_a_bad_filter_is_bad_user_input_naming_the_argument(gql, town, compiled, query, variables, field, message):
    with override_settings(GRAPHQL_COMPILED_PLANS=compiled):
        answer = gql(query, variables, token=town["vera"])
    assert answer.status == 200 and answer.codes == ["BAD_USER_INPUT"], answer.body
    (error,) = answer.errors
    assert (error["message"], error["extensions"]["field"]) == (message, field)
    # Checked before the list's loader runs: no events or friendships are read.
    read = " ".join(query["sql"] for query in answer.queries)
    assert "calendarapp_event" not in read and "calendarapp_friendship" not in read, read


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param("{ viewer { events(visibility: [SECRET]) { totalCount } } }", {}, id="literal"),
        pytest.param(
            "query($v: [Visibility!]) { viewer { events(visibility: $v) { totalCount } } }",
            {"v": ["PUBLIC", "public"]},
            id="variable",
        ),
    ],
)
def test_an_unknown_visibility_is_refused_before_the_operation_runs(gql, town, query, variables):
    answer = gql(query, variables, token=town["vera"])
    assert answer.status == 400 and answer.codes == ["BAD_USER_INPUT"], answer.body
    assert answer.data is None


def test_equal_filters_make_one_loader_key_and_one_statement(gql, town):
    """A search trimmed, values repeated or reordered: the same filters, one batch."""
    one = """{ user(username: "ann") { a: events(search: "club", visibility: [PUBLIC, FRIENDS]) { totalCount } } }"""
    two = """{ user(username: "ann") {
      a: events(search: "club", visibility: [PUBLIC, FRIENDS]) { totalCount }
      b: events(search: " club  ", visibility: [FRIENDS, PUBLIC, FRIENDS]) { totalCount }
    } }"""
    single, double = gql(one, token=town["vera"]), gql(two, token=town["vera"])
    assert double.ok()["user"] == {"a": {"totalCount": 2}, "b": {"totalCount": 2}}
    assert len(double.queries) == len(single.queries)
    assert clean_filters(EventFilter, {"search": " club  ", "visibility": ["FRIENDS", "PUBLIC", "FRIENDS"]}) == (
        Filters(EventFilter, (("search", "club"), ("visibility", ("FRIENDS", "PUBLIC"))))
    )
    assert clean_filters(FriendFilter, {"search": "   "}) == clean_filters(FriendFilter, {}) == Filters(FriendFilter)


def test_non_ascii_case_is_folded_on_postgresql_and_not_on_sqlite(gql, town):
    """The documented difference (loaders/filters.py): PostgreSQL folds the case of every
    letter, SQLite's LIKE of ASCII letters only. Production runs PostgreSQL."""
    folded = connection.vendor == "postgresql"
    accented = gql(USER_EVENTS, {"username": "ann", "search": "CAFÉ"}, token=town["vera"])
    assert titles(accented, "user", "events") == (["Lunch"] if folded else [])
    friends = gql(FRIENDS, {"username": "vera", "search": "élodie"}, token=town["vera"]).ok()
    assert friends["user"]["friends"]["totalCount"] == (1 if folded else 0)
    # ASCII letters in any case, and the accented letter in its own case, on both.
    assert titles(gql(USER_EVENTS, {"username": "ann", "search": "cAFé"}, token=town["vera"]), "user", "events") == [
        "Lunch"
    ]
