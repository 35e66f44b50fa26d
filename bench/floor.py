"""The floor: each operation answered by ONE hand-written PostgreSQL statement that
builds the whole response document in the database (lateral joins, `json_agg`).

This is as fast as the work of an operation can be done from Python: one round trip,
no ORM, no GraphQL, no Python objects per row. Our server is measured against it.

Each statement returns the same JSON document the GraphQL server answers
(`{"data": ...}`: the same fields, order, IDs, cursors and counts), with the same
rules: the visibility rule of `calendarapp/rules.py` written in SQL, the day's UTC
bounds computed in Python with `calendarapp.timezones.day_bounds` (as the server
does) and passed as parameters, Relay pages of `first` rows with `totalCount`,
`hasNextPage` and `endCursor`. The bench checks that the documents are equal.

Authentication is not part of the floor (the server's token lookup is one more
statement): the floor knows the viewer's id.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from calendarapp.ids import FORMAT_VERSION, TYPE_CODES

# --- Fragments shared by the statements (constants, never user input) -------------


def sealed_id(type_name: str) -> str:
    """An API ID, as calendarapp.ids.global_id makes it, in SQL (pgcrypto's AES): the block
    [version, type code, key as 8 bytes big-endian, 6 zero bytes] encrypted with the key
    passed as %(id_key)s, in URL-safe base64 without padding (22 characters, no line break)."""
    prefix = f"\\x{FORMAT_VERSION:02x}{TYPE_CODES[type_name]:02x}"
    block = f"'{prefix}'::bytea || int8send({{0}}::bigint) || '\\x000000000000'::bytea"
    encrypted = f"encrypt({block}, %(id_key)s, 'aes-ecb/pad:none')"
    return f"rtrim(translate(encode({encrypted}, 'base64'), '+/', '-_'), '=')"


USER_ID = sealed_id("User")
EVENT_ID = sealed_id("Event")

# A connection cursor, as loaders.pagination.offset_to_cursor builds it:
# urlsafe base64("offset:<1-based position>").
CURSOR = "translate(encode(convert_to('offset:' || {0}, 'UTF8'), 'base64'), '+/', '-_')"

# calendarapp/rules.py, EventQuerySet.visible_to, for an event row aliased `e`:
# the owner sees all their events, a friend PUBLIC and FRIENDS ones, anyone else PUBLIC.
VISIBLE_TO_VIEWER = """(
        e.owner_id = %(viewer_id)s
        OR e.visibility = 'PUBLIC'
        OR (e.visibility = 'FRIENDS' AND e.owner_id IN (
            SELECT fv.friend_id FROM calendarapp_friendship fv WHERE fv.user_id = %(viewer_id)s))
    )"""

# EventQuerySet.overlapping: the events overlapping the viewer's calendar day [start, end).
OVERLAPS_DAY = "e.starts_at < %(day_end)s AND e.ends_at > %(day_start)s"

# Event.attendeeCount: users whose RSVP is GOING.
ATTENDEE_COUNT = "(SELECT count(*) FROM calendarapp_rsvp r WHERE r.event_id = {0} AND r.status = 'GOING')"

# Event.viewerRsvp: the viewer's own RSVP status, or null.
VIEWER_RSVP = "(SELECT r.status FROM calendarapp_rsvp r WHERE r.event_id = {0} AND r.user_id = %(viewer_id)s)"

# User.isFriend: the user is one of the viewer's friends (never the viewer themself).
IS_FRIEND = "EXISTS (SELECT 1 FROM calendarapp_friendship fi WHERE fi.user_id = %(viewer_id)s AND fi.friend_id = {0})"

# User.mutualFriendCount: the user's friends who are also the viewer's friends.
MUTUAL_FRIEND_COUNT = """(SELECT count(*) FROM calendarapp_friendship fm
        WHERE fm.user_id = {0} AND fm.friend_id IN (
            SELECT fv.friend_id FROM calendarapp_friendship fv WHERE fv.user_id = %(viewer_id)s))"""


# --- The home screen ----------------------------------------------------------------
# viewer -> friends(first: 100) with totalCount and pageInfo -> each friend's events of
# the day (first 20, the server's default page) with totalCount -> owner, attendeeCount,
# viewerRsvp. One statement: the friends' page in a CTE, each friend's events in a
# LATERAL subquery that numbers them (row_number) and counts them (count(*)).
HOME_SCREEN = f"""
WITH friend_page AS (
    -- One row more than the page, to know whether there is a next page.
    SELECT u.id, u.display_name, u.avatar_url
    FROM calendarapp_friendship f
    JOIN calendarapp_user u ON u.id = f.friend_id
    WHERE f.user_id = %(viewer_id)s
    ORDER BY u.display_name, u.id
    LIMIT %(friends_first)s + 1
), friends AS (
    SELECT friend_page.*, row_number() OVER (ORDER BY display_name, id) AS n FROM friend_page
)
SELECT json_build_object('data', json_build_object('viewer', json_build_object(
    'id', {USER_ID.format("v.id")},
    'displayName', v.display_name,
    'timezone', v.timezone,
    'friends', json_build_object(
        'totalCount', (SELECT count(*) FROM calendarapp_friendship f WHERE f.user_id = v.id),
        'pageInfo', json_build_object(
            'hasNextPage', (SELECT count(*) > %(friends_first)s FROM friends),
            'endCursor', (SELECT {CURSOR.format("max(n)")} FROM friends WHERE n <= %(friends_first)s)
        ),
        'edges', coalesce((
            SELECT json_agg(json_build_object('node', json_build_object(
                'id', {USER_ID.format("fr.id")},
                'displayName', fr.display_name,
                'avatarUrl', fr.avatar_url,
                'events', json_build_object('totalCount', day.total, 'edges', day.edges)
            )) ORDER BY fr.n)
            FROM friends fr
            CROSS JOIN LATERAL (
                -- This friend's visible events overlapping the day: all of them
                -- counted, the first page of them (by startsAt, then id) shown.
                SELECT count(*) AS total,
                       coalesce(json_agg(json_build_object('node', json_build_object(
                           'id', {EVENT_ID.format("e.id")},
                           'title', e.title,
                           'location', e.location,
                           'startsAt', e.starts_at,
                           'endsAt', e.ends_at,
                           'allDay', e.all_day,
                           'visibility', e.visibility,
                           'owner', json_build_object('id', {USER_ID.format("fr.id")}, 'displayName', fr.display_name),
                           'attendeeCount', {ATTENDEE_COUNT.format("e.id")},
                           'viewerRsvp', {VIEWER_RSVP.format("e.id")}
                       )) ORDER BY e.n) FILTER (WHERE e.n <= %(events_first)s), '[]') AS edges
                FROM (
                    SELECT e.*, row_number() OVER (ORDER BY e.starts_at, e.id) AS n
                    FROM calendarapp_event e
                    WHERE e.owner_id = fr.id AND {OVERLAPS_DAY} AND {VISIBLE_TO_VIEWER}
                ) e
            ) day
            WHERE fr.n <= %(friends_first)s
        ), '[]')
    )
)))::text
FROM calendarapp_user v
WHERE v.id = %(viewer_id)s
"""


# --- The flat feed ------------------------------------------------------------------
# friendsEvents(date:, first: 100): all the viewer's friends' visible events of the
# day in one connection, by startsAt then id, with owner, attendeeCount, viewerRsvp.
# `day_events` is referenced twice (count and page), so PostgreSQL materializes it once.
FRIENDS_FEED = f"""
WITH day_events AS (
    SELECT e.id, e.owner_id, e.title, e.starts_at, e.ends_at, e.all_day, e.visibility
    FROM calendarapp_event e
    WHERE e.owner_id IN (SELECT f.friend_id FROM calendarapp_friendship f WHERE f.user_id = %(viewer_id)s)
      AND {OVERLAPS_DAY} AND {VISIBLE_TO_VIEWER}
), page AS (
    -- One row more than the page, to know whether there is a next page.
    SELECT * FROM day_events ORDER BY starts_at, id LIMIT %(events_first)s + 1
), numbered AS (
    SELECT page.*, row_number() OVER (ORDER BY starts_at, id) AS n FROM page
)
SELECT json_build_object('data', json_build_object('friendsEvents', json_build_object(
    'totalCount', (SELECT count(*) FROM day_events),
    'pageInfo', json_build_object(
        'hasNextPage', (SELECT count(*) > %(events_first)s FROM numbered),
        'endCursor', (SELECT {CURSOR.format("max(n)")} FROM numbered WHERE n <= %(events_first)s)
    ),
    'edges', coalesce((
        SELECT json_agg(json_build_object(
            'cursor', {CURSOR.format("e.n")},
            'node', json_build_object(
                'id', {EVENT_ID.format("e.id")},
                'title', e.title,
                'startsAt', e.starts_at,
                'endsAt', e.ends_at,
                'allDay', e.all_day,
                'visibility', e.visibility,
                'owner', json_build_object(
                    'id', {USER_ID.format("o.id")}, 'displayName', o.display_name, 'avatarUrl', o.avatar_url
                ),
                'attendeeCount', {ATTENDEE_COUNT.format("e.id")},
                'viewerRsvp', {VIEWER_RSVP.format("e.id")}
            )
        ) ORDER BY e.n)
        FROM numbered e
        JOIN calendarapp_user o ON o.id = e.owner_id
        WHERE e.n <= %(events_first)s
    ), '[]')
)))::text
"""


# --- Event detail -------------------------------------------------------------------
# node(id:) on an Event: its fields, its owner (with isFriend), attendeeCount,
# viewerRsvp, and attendees(first: 50) (users GOING, by displayName then id) with
# isFriend and mutualFriendCount. An event the viewer may not see is null.
EVENT_DETAIL = f"""
WITH event AS (
    SELECT e.* FROM calendarapp_event e WHERE e.id = %(event_id)s AND {VISIBLE_TO_VIEWER}
), going AS (
    SELECT u.id, u.display_name, u.avatar_url
    FROM event e
    JOIN calendarapp_rsvp r ON r.event_id = e.id AND r.status = 'GOING'
    JOIN calendarapp_user u ON u.id = r.user_id
), page AS (
    -- One row more than the page, to know whether there is a next page.
    SELECT * FROM going ORDER BY display_name, id LIMIT %(attendees_first)s + 1
), attendees AS (
    SELECT page.*, row_number() OVER (ORDER BY display_name, id) AS n FROM page
)
SELECT json_build_object('data', json_build_object('node', (
    SELECT json_build_object(
        'id', {EVENT_ID.format("e.id")},
        'title', e.title,
        'description', e.description,
        'location', e.location,
        'startsAt', e.starts_at,
        'endsAt', e.ends_at,
        'allDay', e.all_day,
        'visibility', e.visibility,
        'createdAt', e.created_at,
        'updatedAt', e.updated_at,
        'owner', json_build_object(
            'id', {USER_ID.format("o.id")},
            'username', o.username,
            'displayName', o.display_name,
            'avatarUrl', o.avatar_url,
            'isFriend', {IS_FRIEND.format("o.id")}
        ),
        'attendeeCount', {ATTENDEE_COUNT.format("e.id")},
        'viewerRsvp', {VIEWER_RSVP.format("e.id")},
        'attendees', json_build_object(
            'totalCount', (SELECT count(*) FROM going),
            'pageInfo', json_build_object(
                'hasNextPage', (SELECT count(*) > %(attendees_first)s FROM attendees),
                'endCursor', (SELECT {CURSOR.format("max(n)")} FROM attendees WHERE n <= %(attendees_first)s)
            ),
            'edges', coalesce((
                SELECT json_agg(json_build_object('node', json_build_object(
                    'id', {USER_ID.format("a.id")},
                    'displayName', a.display_name,
                    'avatarUrl', a.avatar_url,
                    'isFriend', {IS_FRIEND.format("a.id")},
                    'mutualFriendCount', {MUTUAL_FRIEND_COUNT.format("a.id")}
                )) ORDER BY a.n)
                FROM attendees a
                WHERE a.n <= %(attendees_first)s
            ), '[]')
        )
    )
    FROM event e
    JOIN calendarapp_user o ON o.id = e.owner_id
)))::text
"""

# --- The trivial operation ----------------------------------------------------------
# `{ __typename }`: nothing to read, the answer a constant. One round trip that does nothing:
# with bench/urls.py's endpoint, what any request costs over HTTP before its own work (the
# fixed cost's floor: no authentication, no GraphQL). Not one of the app's operations, so the
# in-process bench does not time it.
TYPENAME = """SELECT '{"data": {"__typename": "Query"}}'::text"""

STATEMENTS = {
    "home_screen": HOME_SCREEN,
    "friends_feed": FRIENDS_FEED,
    "event_detail": EVENT_DETAIL,
    "typename": TYPENAME,
}

# The page sizes the operations ask for (tests/operations/*.graphql), and the server's
# default page for `events(date:)`, which the home screen does not size.
FRIENDS_FIRST = 100
FEED_FIRST = 100
DEFAULT_EVENTS_FIRST = 20
ATTENDEES_FIRST = 50


@dataclass(frozen=True)
class FloorInput:
    """What the floor statements need to know: the viewer, the viewer's day, the event, and
    the AES key of the API's IDs (calendarapp.ids.current_key())."""

    viewer_id: int
    day_start: dt.datetime
    day_end: dt.datetime
    event_id: int
    id_key: bytes


def floor_body(given: FloorInput) -> bytes:
    """The request body of the floor's HTTP endpoint for `given` (bench/urls.py reads it back):
    everything but the key, which is the server's own."""
    return json.dumps(
        {
            "viewer_id": given.viewer_id,
            "day_start": given.day_start.isoformat(),
            "day_end": given.day_end.isoformat(),
            "event_id": given.event_id,
        }
    ).encode()


def statement(operation: str, given: FloorInput) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters that answer `operation` in one statement."""
    params = {
        "viewer_id": given.viewer_id,
        "day_start": given.day_start,
        "day_end": given.day_end,
        "event_id": given.event_id,
        "id_key": given.id_key,
        "friends_first": FRIENDS_FIRST,
        "events_first": FEED_FIRST if operation == "friends_feed" else DEFAULT_EVENTS_FIRST,
        "attendees_first": ATTENDEES_FIRST,
    }
    return STATEMENTS[operation], params
