"""Time and paging (docs/api.md, "Scalars", "Connections" and "What the queries mean"):
which events a day or a window selects, in the viewer's time zone and across DST,
the Date and DateTime scalars, and Relay pagination of every connection."""

from __future__ import annotations

import base64
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from calendarapp.models import Event, FriendRequest, Friendship, Rsvp, User
from tests.conftest import World, utc

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def titles(connection: dict) -> list[str]:
    return [edge["node"]["title"] for edge in connection["edges"]]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- a day in the viewer's time zone ----------------------------------------------------------

# kenji (Asia/Tokyo) owns these FRIENDS events; his friends view them from three time zones.
DAY_EVENTS = {
    "whole-week": (utc(2026, 11, 20), utc(2026, 11, 27)),
    "tokyo-early": (utc(2026, 11, 22, 14), utc(2026, 11, 22, 15)),  # ends at 00:00 Nov 23 in Tokyo
    "before": (utc(2026, 11, 23, 3), utc(2026, 11, 23, 4)),
    "ends-at-ny-start": (utc(2026, 11, 23, 4), utc(2026, 11, 23, 5)),  # 23:00-00:00 in New York
    "spans-ny-midnight": (utc(2026, 11, 23, 4, 30), utc(2026, 11, 23, 5, 30)),  # 23:30-00:30 in New York
    "midday": (utc(2026, 11, 23, 12), utc(2026, 11, 23, 13)),
    "tokyo-late": (utc(2026, 11, 23, 15, 30), utc(2026, 11, 23, 16)),  # 00:30 Nov 24 in Tokyo
    "spans-next-ny-midnight": (utc(2026, 11, 24, 4, 30), utc(2026, 11, 24, 5, 30)),
    "starts-at-ny-end": (utc(2026, 11, 24, 5), utc(2026, 11, 24, 6)),  # 00:00 Nov 24 in New York
}

VIEWER_DAYS = [
    # New York (UTC-5): Nov 23 is [Nov 23 05:00Z, Nov 24 05:00Z).
    pytest.param(
        "ny",
        "2026-11-23",
        ["whole-week", "spans-ny-midnight", "midday", "tokyo-late", "spans-next-ny-midnight"],
        id="new_york_nov_23",
    ),
    pytest.param(
        "ny",
        "2026-11-22",
        ["whole-week", "tokyo-early", "before", "ends-at-ny-start", "spans-ny-midnight"],
        id="new_york_nov_22",
    ),
    pytest.param(
        "ny", "2026-11-24", ["whole-week", "spans-next-ny-midnight", "starts-at-ny-end"], id="new_york_nov_24"
    ),
    # UTC: Nov 23 is [Nov 23 00:00Z, Nov 24 00:00Z).
    pytest.param(
        "utc",
        "2026-11-23",
        ["whole-week", "before", "ends-at-ny-start", "spans-ny-midnight", "midday", "tokyo-late"],
        id="utc_nov_23",
    ),
    # Tokyo (UTC+9), the owner's zone: Nov 23 is [Nov 22 15:00Z, Nov 23 15:00Z).
    pytest.param(
        "tokyo",
        "2026-11-23",
        ["whole-week", "before", "ends-at-ny-start", "spans-ny-midnight", "midday"],
        id="tokyo_nov_23",
    ),
    pytest.param("tokyo", "2026-11-22", ["whole-week", "tokyo-early"], id="tokyo_nov_22"),
    pytest.param("tokyo", "2026-11-26", ["whole-week"], id="tokyo_nov_26"),
    pytest.param("ny", "2026-11-30", [], id="new_york_empty_day"),
]


@pytest.fixture
def day_scene(world):
    kenji = world.user("kenji", timezone="Asia/Tokyo")
    viewers = {
        "ny": world.user("ny", timezone="America/New_York"),
        "utc": world.user("utc", timezone="UTC"),
        "tokyo": world.user("tokyo", timezone="Asia/Tokyo"),
    }
    for viewer in viewers.values():
        world.befriend(kenji, viewer)
    for title, (starts_at, ends_at) in DAY_EVENTS.items():
        Event.objects.create(owner=kenji, title=title, starts_at=starts_at, ends_at=ends_at, visibility="FRIENDS")
    return {name: world.token(user) for name, user in viewers.items()}


@pytest.mark.parametrize(("viewer", "date", "expected"), VIEWER_DAYS)
def test_events_of_a_day_overlap_that_day_in_the_viewers_time_zone(gql, day_scene, viewer, date, expected):
    data = gql(
        """query($date: Date!) { user(username: "kenji") {
             events(date: $date, first: 100) { totalCount edges { node { title } } } eventCount(date: $date) } }""",
        {"date": date},
        token=day_scene[viewer],
    ).ok()
    assert titles(data["user"]["events"]) == expected
    assert data["user"]["events"]["totalCount"] == data["user"]["eventCount"] == len(expected)


@pytest.mark.parametrize(("viewer", "date", "expected"), VIEWER_DAYS)
def test_friends_events_of_a_day_overlap_that_day_in_the_viewers_time_zone(gql, day_scene, viewer, date, expected):
    data = gql(
        "query($date: Date!) { friendsEvents(date: $date, first: 100) { totalCount edges { node { title } } } }",
        {"date": date},
        token=day_scene[viewer],
    ).ok()
    assert titles(data["friendsEvents"]) == expected
    assert data["friendsEvents"]["totalCount"] == len(expected)


def test_an_event_spanning_midnight_is_on_both_days_and_one_ending_at_the_day_start_is_not(gql, day_scene):
    query = """query($a: Date!, $b: Date!) { user(username: "kenji") {
                 a: events(date: $a) { edges { node { title } } }
                 b: events(date: $b) { edges { node { title } } } } }"""
    data = gql(query, {"a": "2026-11-22", "b": "2026-11-23"}, token=day_scene["ny"]).ok()["user"]
    assert "spans-ny-midnight" in titles(data["a"]) and "spans-ny-midnight" in titles(data["b"])
    assert "ends-at-ny-start" in titles(data["a"]) and "ends-at-ny-start" not in titles(data["b"])


# --- DST: 23- and 25-hour days -----------------------------------------------------------------

DST_DAYS = [
    # zone, day, its bounds in UTC (worked out by hand, checked against zoneinfo below), hours
    pytest.param("Europe/Paris", "2026-03-29", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), 23, id="paris_spring_23h"),
    pytest.param("Europe/Paris", "2026-10-25", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), 25, id="paris_autumn_25h"),
    pytest.param("Europe/Paris", "2026-10-24", utc(2026, 10, 23, 22), utc(2026, 10, 24, 22), 24, id="paris_plain_24h"),
    pytest.param(
        "America/New_York", "2026-03-08", utc(2026, 3, 8, 5), utc(2026, 3, 9, 4), 23, id="new_york_spring_23h"
    ),
    pytest.param(
        "America/New_York", "2026-11-01", utc(2026, 11, 1, 4), utc(2026, 11, 2, 5), 25, id="new_york_fall_25h"
    ),
]


def local(zone: str, day: dt.date, hour: int, minute: int = 0, fold: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, fold=fold, tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def dst_probes(zone: str, day: dt.date, start: dt.datetime, end: dt.datetime) -> dict[str, tuple]:
    """Events around the day's edges, each (starts_at, ends_at)."""
    before, after = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    probes = {
        "ends-at-start": (start - H, start),
        "first-minute": (start, start + M),
        "straddles-start": (start - M, start + M),
        "last-minute": (end - M, end),
        "straddles-end": (end - M, end + M),
        "starts-at-end": (end, end + H),
        # Where a day taken as 24 hours from its start (or before its end) would be wrong:
        "start+23h30": (start + 23 * H + 30 * M, start + 23 * H + 31 * M),
        "start+24h30": (start + 24 * H + 30 * M, start + 24 * H + 31 * M),
        "end-23h30": (end - 23 * H - 31 * M, end - 23 * H - 30 * M),
        "end-24h30": (end - 24 * H - 31 * M, end - 24 * H - 30 * M),
        # Wall-clock times, converted by zoneinfo (fold picks the first or the repeated hour).
        "local-00:30": (local(zone, day, 0, 30), local(zone, day, 0, 45)),
        "local-23:30": (local(zone, day, 23, 30), local(zone, day, 23, 45)),
        "local-prev-23:30": (local(zone, before, 23, 30), local(zone, before, 23, 45)),
        "local-next-00:30": (local(zone, after, 0, 30), local(zone, after, 0, 45)),
    }
    for hour in (1, 2):
        for fold in (0, 1):
            at = local(zone, day, hour, 30, fold)
            probes[f"local-{hour:02}:30-fold{fold}"] = (at, at + M)
    return probes


@pytest.mark.parametrize(("zone", "date", "start", "end", "hours"), DST_DAYS)
def test_a_day_runs_from_local_midnight_to_local_midnight_across_dst(gql, world, zone, date, start, end, hours):
    day = dt.date.fromisoformat(date)
    # The hand-written bounds agree with zoneinfo, and the day really has `hours` hours.
    assert (local(zone, day, 0), local(zone, day + dt.timedelta(days=1), 0)) == (start, end)
    assert end - start == hours * H

    viewer = world.user("viewer", timezone=zone)
    owner = world.user("owner", timezone="Pacific/Auckland")  # the owner's zone must not matter
    world.befriend(viewer, owner)
    probes = dst_probes(zone, day, start, end)
    for title, (starts_at, ends_at) in probes.items():
        Event.objects.create(owner=owner, title=title, starts_at=starts_at, ends_at=ends_at, visibility="FRIENDS")
    # Overlap with the hand-written bounds; ties on startsAt keep creation (id) order.
    expected = [title for title, (s, e) in sorted(probes.items(), key=lambda item: item[1][0]) if s < end and e > start]

    data = gql(
        """query($date: Date!) { friendsEvents(date: $date, first: 100) { totalCount edges { node { title } } }
             user(username: "owner") { events(date: $date, first: 100) { edges { node { title } } }
                                       eventCount(date: $date) } }""",
        {"date": date},
        token=world.token(viewer),
    ).ok()
    assert titles(data["friendsEvents"]) == expected
    assert titles(data["user"]["events"]) == expected
    assert data["friendsEvents"]["totalCount"] == data["user"]["eventCount"] == len(expected)
    # Spelled out for the autumn day in Paris (CEST until 01:00Z, then CET):
    if date == "2026-10-25":
        assert {"local-00:30", "local-23:30", "start+24h30", "end-24h30"} <= set(expected)
        assert probes["local-00:30"][0] == utc(2026, 10, 24, 22, 30)  # 00:30 CEST
        assert probes["local-23:30"][0] == utc(2026, 10, 25, 22, 30)  # 23:30 CET
    assert not {"ends-at-start", "starts-at-end", "local-prev-23:30", "local-next-00:30"} & set(expected)
    assert ("start+23h30" in expected) == (hours >= 24)
    assert ("start+24h30" in expected) == (hours == 25)


# --- from/to windows ---------------------------------------------------------------------------


@pytest.fixture
def window_token(world):
    wendy = world.user("wendy", timezone="Asia/Kolkata")  # a zone offset by half an hour: it must not matter
    for title, (starts_at, ends_at) in {
        "long": (utc(2026, 11, 23, 9), utc(2026, 11, 23, 14)),
        "a": (utc(2026, 11, 23, 10), utc(2026, 11, 23, 11)),
        "b": (utc(2026, 11, 23, 11), utc(2026, 11, 23, 12)),
        "c": (utc(2026, 11, 23, 12), utc(2026, 11, 23, 13)),
    }.items():
        Event.objects.create(owner=wendy, title=title, starts_at=starts_at, ends_at=ends_at, visibility="PRIVATE")
    return world.token(wendy)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param({"from": "2026-11-23T11:00:00Z", "to": "2026-11-23T12:00:00Z"}, ["long", "b"], id="half_open"),
        pytest.param(
            {"from": "2026-11-23T12:00:00+01:00", "to": "2026-11-23T07:00:00-05:00"}, ["long", "b"], id="offsets"
        ),
        pytest.param(
            {"from": "2026-11-23T10:59:59Z", "to": "2026-11-23T12:00:01Z"},
            ["long", "a", "b", "c"],
            id="one_second_more",
        ),
        pytest.param({"from": "2026-11-23T12:30:00Z"}, ["long", "c"], id="from_only"),
        pytest.param({"to": "2026-11-23T10:30:00Z"}, ["long", "a"], id="to_only"),
        pytest.param({"from": "2026-11-23T13:00:00Z", "to": "2026-11-23T13:30:00Z"}, ["long"], id="inside_one_event"),
        pytest.param({"from": "2026-11-23T14:00:00Z"}, [], id="after_everything"),
        pytest.param({"to": "2026-11-23T09:00:00Z"}, [], id="before_everything"),
        pytest.param({}, ["long", "a", "b", "c"], id="no_window"),
    ],
)
def test_from_to_selects_events_overlapping_the_half_open_window(gql, window_token, variables, expected):
    data = gql(
        """query($from: DateTime, $to: DateTime) {
             viewer { events(from: $from, to: $to) { totalCount edges { node { title } } } } }""",
        variables,
        token=window_token,
    ).ok()
    assert titles(data["viewer"]["events"]) == expected
    assert data["viewer"]["events"]["totalCount"] == len(expected)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        pytest.param('date: "2026-11-23", from: "2026-11-23T00:00:00Z"', "date", id="date_with_from"),
        pytest.param('date: "2026-11-23", to: "2026-11-24T00:00:00Z"', "date", id="date_with_to"),
        pytest.param('from: "2026-11-23T12:00:00Z", to: "2026-11-23T12:00:00Z"', "to", id="to_equal_to_from"),
        pytest.param('from: "2026-11-23T12:00:00Z", to: "2026-11-23T11:00:00Z"', "to", id="to_before_from"),
        pytest.param(
            'from: "2026-11-23T12:00:00+01:00", to: "2026-11-23T11:00:00Z"', "to", id="to_equal_after_offsets"
        ),
        pytest.param("first: 101", "first", id="first_over_100"),
        pytest.param("first: -1", "first", id="negative_first"),
    ],
)
def test_invalid_event_arguments_are_bad_user_input_naming_the_field(gql, window_token, arguments, field):
    answer = gql(f"query {{ viewer {{ events({arguments}) {{ totalCount }} }} }}", token=window_token)
    assert answer.codes == ["BAD_USER_INPUT"], answer.body
    assert answer.errors[0]["extensions"]["field"] == field
    assert answer.data == {"viewer": None}


# --- the Date and DateTime scalars -------------------------------------------------------------

NAIVE_OR_BAD_DATETIMES = [
    pytest.param("2026-11-23T10:00:00", id="naive"),
    pytest.param("2026-11-23 10:00:00", id="naive_with_space"),
    pytest.param("2026-11-23", id="a_date"),
    pytest.param("yesterday", id="words"),
    pytest.param("2026-11-31T10:00:00Z", id="no_such_day"),
]


@pytest.mark.parametrize("value", NAIVE_OR_BAD_DATETIMES)
def test_a_naive_or_invalid_datetime_variable_is_bad_user_input(gql, window_token, value):
    answer = gql(
        "query($from: DateTime) { viewer { events(from: $from) { totalCount } } }", {"from": value}, token=window_token
    )
    assert answer.codes == ["BAD_USER_INPUT"], answer.body
    assert not answer.data


@pytest.mark.parametrize("value", NAIVE_OR_BAD_DATETIMES)
def test_a_naive_or_invalid_datetime_literal_is_bad_user_input(gql, window_token, value):
    answer = gql(f'query {{ viewer {{ events(from: "{value}") {{ totalCount }} }} }}', token=window_token)
    assert answer.codes == ["BAD_USER_INPUT"], answer.body
    assert not answer.data


BAD_DATES = [
    pytest.param("2026-02-30", id="no_such_day"),
    pytest.param("2026-13-01", id="no_such_month"),
    pytest.param("23/11/2026", id="european"),
    pytest.param("20261123", id="basic_format"),
    pytest.param("2026-11-23T00:00:00Z", id="a_datetime"),
    pytest.param("2026-W48-1", id="iso_week_date"),
    pytest.param("2026-1-5", id="unpadded"),
    pytest.param("", id="empty"),
    pytest.param(20261123, id="a_number"),
]


@pytest.mark.parametrize("value", BAD_DATES)
@pytest.mark.parametrize(
    "query",
    [
        pytest.param("query($d: Date!) { friendsEvents(date: $d) { totalCount } }", id="friendsEvents"),
        pytest.param("query($d: Date) { viewer { events(date: $d) { totalCount } } }", id="events"),
        pytest.param("query($d: Date) { viewer { eventCount(date: $d) } }", id="eventCount"),
    ],
)
def test_a_bad_date_variable_is_bad_user_input(gql, window_token, query, value):
    answer = gql(query, {"d": value}, token=window_token)
    assert answer.codes == ["BAD_USER_INPUT"], answer.body
    assert not answer.data


@pytest.mark.parametrize("value", BAD_DATES[:3])
def test_a_bad_date_literal_is_bad_user_input(gql, window_token, value):
    answer = gql(f'query {{ friendsEvents(date: "{value}") {{ totalCount }} }}', token=window_token)
    assert answer.codes == ["BAD_USER_INPUT"], answer.body


def test_a_yyyy_mm_dd_date_is_accepted_as_a_variable_and_a_literal(gql, window_token):
    data = gql(
        'query($d: Date!) { viewer { a: eventCount(date: $d) b: eventCount(date: "2026-11-23") } }',
        {"d": "2026-11-23"},
        token=window_token,
    ).ok()
    assert data["viewer"] == {"a": 4, "b": 4}


def test_datetimes_are_output_in_iso_8601_with_a_utc_offset(gql, world):
    owner = world.user("owner", timezone="Asia/Tokyo")
    event = world.event(owner, utc(2026, 11, 23, 9, 15, 30), hours=1.5)
    data = gql(
        "query($id: ID!) { node(id: $id) { ... on Event { startsAt endsAt createdAt updatedAt } } }",
        {"id": world.id(event)},
        token=world.token(owner),
    ).ok()["node"]
    for name, value in data.items():
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        assert parsed.utcoffset() is not None, f"{name} = {value} has no offset"
        assert value.endswith(("Z", "+00:00")) or value[-6] in "+-", value
    assert dt.datetime.fromisoformat(data["startsAt"]) == utc(2026, 11, 23, 9, 15, 30)
    assert dt.datetime.fromisoformat(data["endsAt"]) == utc(2026, 11, 23, 10, 45, 30)


# --- ordering ----------------------------------------------------------------------------------


def test_friends_are_ordered_by_display_name_then_id(gql, world):
    pat = world.user("pat")
    # Created in this order: ids increase down the list. The two "Bob"s are ordered by id,
    # which is not the order of their usernames.
    for username, display_name in [
        ("zed", "Bob"),
        ("carl", "Carl"),
        ("anna", "Anna"),
        ("amy", "Bob"),
        ("dora", "Dora"),
    ]:
        world.befriend(pat, world.user(username, display_name=display_name))
    data = gql("query { viewer { friends { edges { node { username displayName } } } } }", token=world.token(pat)).ok()
    assert [(e["node"]["displayName"], e["node"]["username"]) for e in data["viewer"]["friends"]["edges"]] == [
        ("Anna", "anna"),
        ("Bob", "zed"),
        ("Bob", "amy"),
        ("Carl", "carl"),
        ("Dora", "dora"),
    ]


def test_events_are_ordered_by_starts_at_then_id_on_every_event_connection(gql, world):
    pat = world.user("pat")
    olga = world.user("olga")
    world.befriend(pat, olga)
    # Creation (id) order differs from title order and from endsAt order on the tie at 10:00.
    world.event(olga, utc(2026, 11, 23, 11), title="late")
    world.event(olga, utc(2026, 11, 23, 10), hours=3, title="tie-x")
    world.event(olga, utc(2026, 11, 23, 10), hours=1, title="tie-c")
    world.event(olga, utc(2026, 11, 23, 10), hours=2, title="tie-a")
    world.event(olga, utc(2026, 11, 23, 9), title="early")
    expected = ["early", "tie-x", "tie-c", "tie-a", "late"]
    data = gql(
        """query { friendsEvents(date: "2026-11-23") { edges { node { title } } }
                   user(username: "olga") { events { edges { node { title } } }
                                            day: events(date: "2026-11-23") { edges { node { title } } } } }""",
        token=world.token(pat),
    ).ok()
    assert titles(data["friendsEvents"]) == expected
    assert titles(data["user"]["events"]) == expected
    assert titles(data["user"]["day"]) == expected


# --- pagination of every connection ------------------------------------------------------------

N = 25
PAGE = "totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } }"
CONNECTIONS = {
    "friends": ("viewer { friends(first: $first, after: $after) { PAGE } }", ("viewer", "friends")),
    "events": ("viewer { events(first: $first, after: $after) { PAGE } }", ("viewer", "events")),
    "friendsEvents": ('friendsEvents(date: "2026-11-23", first: $first, after: $after) { PAGE }', ("friendsEvents",)),
    "attendees": (
        "node(id: $party) { ... on Event { attendees(first: $first, after: $after) { PAGE } } }",
        ("node", "attendees"),
    ),
    "incomingFriendRequests": (
        "incomingFriendRequests(first: $first, after: $after) { PAGE }",
        ("incomingFriendRequests",),
    ),
}


class Paging:
    """pat: N friends (each with one event on Nov 23), N events of his own, N incoming
    friend requests; a party (another user's public event) with N GOING attendees."""

    def __init__(self, world) -> None:
        self.pat = world.user("pat")
        host = world.user("host")
        friends = User.objects.bulk_create(
            [User(username=f"friend{i:02}", display_name=f"Friend {i:02}") for i in range(N)]
        )
        senders = User.objects.bulk_create([User(username=f"sender{i:02}", display_name=f"S{i:02}") for i in range(N)])
        Friendship.objects.bulk_create(
            [Friendship(user=self.pat, friend=f) for f in friends]
            + [Friendship(user=f, friend=self.pat) for f in friends]
        )
        Event.objects.bulk_create(
            [
                self._event(friend, utc(2026, 11, 23, 8) + i * M, f"friend-event-{i:02}")
                for i, friend in enumerate(friends)
            ]
            + [self._event(self.pat, utc(2026, 12, 1) + i * H, f"own-{i:02}") for i in range(N)]
        )
        self.party = self._event(host, utc(2026, 12, 24, 20), "party", visibility="PUBLIC")
        self.party.save()
        Rsvp.objects.bulk_create([Rsvp(user=friend, event=self.party, status="GOING") for friend in friends])
        for sender in senders:
            FriendRequest.objects.create(from_user=sender, to_user=self.pat)
        self.token = world.token(self.pat)

    @staticmethod
    def _event(owner, starts_at, title, visibility="FRIENDS") -> Event:
        return Event(owner=owner, title=title, starts_at=starts_at, ends_at=starts_at + H, visibility=visibility)

    def trim(self, kind: str, keep: int) -> None:
        """Leave only `keep` items in the connection `kind` (items vanish between two pages)."""
        rows = {
            "friends": Friendship.objects.filter(user=self.pat).order_by("friend__display_name", "friend_id"),
            "events": Event.objects.filter(owner=self.pat).order_by("starts_at", "id"),
            "friendsEvents": Event.objects.filter(title__startswith="friend-event-").order_by("starts_at", "id"),
            "attendees": Rsvp.objects.filter(event=self.party).order_by("user__display_name", "user_id"),
            "incomingFriendRequests": FriendRequest.objects.filter(to_user=self.pat).order_by("created_at", "id"),
        }[kind]
        rows.model.objects.filter(pk__in=list(rows.values_list("pk", flat=True)[keep:])).delete()

    def answer(self, gql, kind: str, first=None, after=None):
        selection = CONNECTIONS[kind][0].replace("PAGE", PAGE)
        variables = {"first": first, "after": after}
        party = ""
        if "$party" in selection:
            variables["party"] = World.id(self.party)
            party = ", $party: ID!"
        return gql(f"query($first: Int, $after: String{party}) {{ {selection} }}", variables, token=self.token)

    def page(self, gql, kind: str, first=None, after=None) -> dict:
        connection = self.answer(gql, kind, first, after).ok()
        for key in CONNECTIONS[kind][1]:
            connection = connection[key]
        return connection


@pytest.fixture
def paging(world) -> Paging:
    return Paging(world)


KINDS = list(CONNECTIONS)


def node_ids(connection: dict) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


@pytest.mark.parametrize("kind", KINDS)
def test_first_defaults_to_20(gql, paging, kind):
    connection = paging.page(gql, kind)
    assert len(connection["edges"]) == 20
    assert connection["pageInfo"]["hasNextPage"] is True
    assert connection["totalCount"] == N


@pytest.mark.parametrize("kind", KINDS)
def test_first_100_is_allowed_and_returns_everything(gql, paging, kind):
    connection = paging.page(gql, kind, first=100)
    assert len(connection["edges"]) == N == connection["totalCount"]
    assert len(set(node_ids(connection))) == N
    assert connection["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("first", [101, 1000, -1])
@pytest.mark.parametrize("kind", KINDS)
def test_first_over_100_or_negative_is_bad_user_input(gql, paging, kind, first):
    answer = paging.answer(gql, kind, first=first)
    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == "first"


@pytest.mark.parametrize("kind", KINDS)
def test_walking_the_pages_returns_every_item_once_in_order(gql, paging, kind):
    everything = node_ids(paging.page(gql, kind, first=100))
    seen, after, pages = [], None, []
    while True:
        connection = paging.page(gql, kind, first=7, after=after)
        assert connection["totalCount"] == N  # whatever the page
        pages.append((len(connection["edges"]), connection["pageInfo"]["hasNextPage"]))
        seen += node_ids(connection)
        assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert len(pages) < 10, "the walk does not end"
    assert pages == [(7, True), (7, True), (7, True), (4, False)]
    assert seen == everything


@pytest.mark.parametrize("kind", KINDS)
def test_after_the_last_item_is_an_empty_page_with_the_total(gql, paging, kind):
    last = paging.page(gql, kind, first=5, after=paging.page(gql, kind, first=20)["pageInfo"]["endCursor"])
    assert len(last["edges"]) == 5 and last["pageInfo"]["hasNextPage"] is False
    beyond = paging.page(gql, kind, first=5, after=last["pageInfo"]["endCursor"])
    assert beyond["edges"] == []
    assert beyond["pageInfo"]["hasNextPage"] is False
    assert beyond["totalCount"] == N


@pytest.mark.parametrize("kind", KINDS)
def test_after_past_the_end_once_items_are_gone_is_an_empty_page_with_the_new_total(gql, paging, kind):
    cursor = paging.page(gql, kind, first=20)["pageInfo"]["endCursor"]
    paging.trim(kind, keep=10)
    connection = paging.page(gql, kind, first=5, after=cursor)
    assert connection["edges"] == []
    assert connection["pageInfo"]["hasNextPage"] is False
    assert connection["totalCount"] == 10


GARBAGE_CURSORS = [
    pytest.param("garbage", id="words"),
    pytest.param("", id="empty"),
    pytest.param("!!!!", id="not_base64"),
    pytest.param(b64("offset:-1"), id="negative_offset"),
    pytest.param(b64("offset:abc"), id="offset_not_a_number"),
    pytest.param(b64("arrayconnection:3"), id="graphene_default_cursor"),
    pytest.param(b64("offset:²"), id="unicode_superscript_digit"),
]


@pytest.mark.parametrize("cursor", GARBAGE_CURSORS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_garbage_after_is_bad_user_input(gql, paging, kind, cursor):
    answer = paging.answer(gql, kind, first=5, after=cursor)
    assert answer.codes == ["BAD_USER_INPUT"], answer.body
    assert answer.errors[0]["extensions"]["field"] == "after"


@pytest.mark.parametrize("kind", KINDS)
def test_a_cursor_with_an_absurd_offset_is_an_empty_page_or_bad_user_input_never_a_server_error(gql, paging, kind):
    answer = paging.answer(gql, kind, first=5, after=b64("offset:" + "9" * 40))  # beyond any integer column
    if answer.errors:
        assert answer.codes == ["BAD_USER_INPUT"], answer.body
        assert answer.errors[0]["extensions"]["field"] == "after"
    else:
        connection = paging.page(gql, kind, first=5, after=b64("offset:" + "9" * 40))
        assert connection["edges"] == [] and connection["totalCount"] == N


# --- nested pagination -------------------------------------------------------------------------


@pytest.fixture
def nested(world):
    pat = world.user("pat")
    counts = {"ann": 5, "ben": 1, "cat": 0, "dan": 3}
    for username, count in counts.items():
        friend = world.user(username)
        world.befriend(pat, friend)
        for i in range(count):
            # Interleaved in time across friends: a limit on the whole list would cut the wrong ones.
            world.event(
                friend,
                utc(2026, 11, 23, 8 + 2 * i) + dt.timedelta(minutes=list(counts).index(username)),
                title=f"{username}-{i}",
            )
    # ben's one event is the earliest of all
    Event.objects.filter(title="ben-0").update(starts_at=utc(2026, 11, 22, 23), ends_at=utc(2026, 11, 22, 23, 30))
    return world.token(pat)


NESTED = """query($after: String, $eventsAfter: String) { viewer { friends(first: 3, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { username events(first: 2, after: $eventsAfter) {
        totalCount pageInfo { hasNextPage } edges { node { title } } } } } } } }"""


def per_friend(data: dict) -> dict[str, tuple[list[str], int, bool]]:
    return {
        edge["node"]["username"]: (
            titles(edge["node"]["events"]),
            edge["node"]["events"]["totalCount"],
            edge["node"]["events"]["pageInfo"]["hasNextPage"],
        )
        for edge in data["viewer"]["friends"]["edges"]
    }


def test_nested_events_are_paginated_per_friend(gql, nested):
    data = gql(NESTED, token=nested).ok()
    friends = data["viewer"]["friends"]
    assert friends["totalCount"] == 4 and friends["pageInfo"]["hasNextPage"] is True
    assert per_friend(data) == {
        "ann": (["ann-0", "ann-1"], 5, True),
        "ben": (["ben-0"], 1, False),
        "cat": ([], 0, False),
    }
    second = gql(NESTED, {"after": friends["pageInfo"]["endCursor"]}, token=nested).ok()
    assert second["viewer"]["friends"]["pageInfo"]["hasNextPage"] is False
    assert per_friend(second) == {"dan": (["dan-0", "dan-1"], 3, True)}


def test_a_nested_after_applies_to_each_friends_own_list(gql, nested):
    first_page = gql(NESTED, token=nested).ok()
    ann = first_page["viewer"]["friends"]["edges"][0]["node"]
    cursor = gql('query { user(username: "ann") { events(first: 2) { pageInfo { endCursor } } } }', token=nested).ok()[
        "user"
    ]["events"]["pageInfo"]["endCursor"]
    assert ann["username"] == "ann"
    data = gql(NESTED, {"eventsAfter": cursor}, token=nested).ok()
    assert per_friend(data) == {
        "ann": (["ann-2", "ann-3"], 5, True),
        "ben": ([], 1, False),
        "cat": ([], 0, False),
    }


# --- friends(search:) --------------------------------------------------------------------------


@pytest.fixture
def search_token(world):
    pat = world.user("pat")
    for username, display_name in [
        ("anna", "Anna Smith"),
        ("bjones", "Bob Jones"),
        ("carla", "Carla SMITHERS"),
        ("smithy", "Dave"),
        ("eve", "Eve"),
    ]:
        world.befriend(pat, world.user(username, display_name=display_name))
    world.user("smithson", display_name="Not A Friend Smith")
    return world.token(pat)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        pytest.param("smith", ["anna", "carla", "smithy"], id="display_name_or_username"),
        pytest.param("SMITH", ["anna", "carla", "smithy"], id="case_insensitive"),
        pytest.param("  Smith ", ["anna", "carla", "smithy"], id="surrounding_spaces_ignored"),
        pytest.param("jONes", ["bjones"], id="mixed_case"),
        pytest.param("thy", ["smithy"], id="part_of_a_username"),
        pytest.param("zzz", [], id="no_match"),
        pytest.param("", ["anna", "bjones", "carla", "smithy", "eve"], id="empty_is_everyone"),
    ],
)
def test_friends_search_filters_by_display_name_or_username_in_any_case(gql, search_token, search, expected):
    data = gql(
        "query($s: String) { viewer { friends(search: $s) { totalCount edges { node { username } } } } }",
        {"s": search},
        token=search_token,
    ).ok()
    friends = data["viewer"]["friends"]
    assert [edge["node"]["username"] for edge in friends["edges"]] == expected
    assert friends["totalCount"] == len(expected)


def test_friends_search_paginates_within_the_matches(gql, search_token):
    query = """query($after: String) { viewer { friends(search: "smith", first: 2, after: $after) {
                 totalCount pageInfo { hasNextPage endCursor } edges { node { username } } } } }"""
    first = gql(query, token=search_token).ok()["viewer"]["friends"]
    assert [e["node"]["username"] for e in first["edges"]] == ["anna", "carla"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"] is True
    second = gql(query, {"after": first["pageInfo"]["endCursor"]}, token=search_token).ok()["viewer"]["friends"]
    assert [e["node"]["username"] for e in second["edges"]] == ["smithy"]
    assert second["totalCount"] == 3 and second["pageInfo"]["hasNextPage"] is False
