"""Delta sync (`changes(since:, first:)` in docs/api.md): the change sequence and
the one statement that reads a page of changes.

**The sequence.** Every transaction that changes what a sync client may hold (an event
created, edited, RSVPed to or deleted; a friendship made or ended) takes one number from
the sequence and stamps it on what it wrote. The sequence is a single counter row,
incremented in the writing transaction: the row stays locked until that transaction
commits, so a later number is never visible before an earlier one, and a sync that has
read the counter's value N has seen every change numbered N or less. A timestamp cannot
promise that: two transactions may commit in the other order, or in the same instant.
Writers take the number after every other row lock they need (the counter is the last
lock a transaction takes), so two writers never wait on each other in a cycle.

**The items.** Each event the client may have to hear about is one item keyed
(key, event id), where key is the sequence number of the last change that matters to
the viewer: its own change, or for a friend's event the start of the friendship (so a
new friend's existing events all arrive), or for a former friend's the friendship's
end. An item is an upsert when the event is in the viewer's scope now
(`Event.objects.in_sync_scope(viewer)` in calendarapp.rules), else a removal: a
tombstone, a friend's event made PRIVATE, a former friend's event.
Whether an item is a removal never depends on how far the cursor has moved within the
items (only on whether a friendship began by then), so a page boundary cannot hide one.

**Privacy.** A removal is sent only for an event the client may hold: the viewer's own,
or one that was in the viewer's scope at some time (its owner's friends could see it
while the viewer was one of them), of an owner whose friendship with the viewer began no
later than the items already delivered. A client receives an event only while it is in
scope, so that is every removal it may need; and no one learns the id of an event they
never could see: a stranger's, one its owner kept PRIVATE, one hidden whenever the two
were friends (hidden before the friendship began, or shown only after it ended). For
that, an event records each period during which friends could see it, on the sequence
(`Event.shown_seq` to `hidden_seq`, the earlier ones as `ShownPeriod` rows), and a
friendship when it began and ended. For a current friendship the last period says it
all (friends saw the event since the friendship began if that period ended after); for
one that ended, an earlier period may be the one that overlaps it: an event held during
the friendship, hidden, then shown again after the end must still go.

**The cursor** is the position (key, event id) of the last item delivered, or (N + 1, 0)
once everything up to counter value N is delivered; the first sync starts at (0, 0).
It travels as base64 of "sync:v2:<key>:<the event's API ID>", so it survives a restart
and names no primary key. A cursor made with other IDs (the first format, "sync:v1:<key>:
<event pk>", from before IDs were sealed, or one made with another GLOBAL_ID_KEY) is
refused as stale: the client's cache holds IDs the server no longer reads, and only a
sync from the start replaces them.
A page holds the items after the cursor, in (key, event id) order, up to the counter
value read in the same statement (one snapshot). Any later change to an item's state
gives it a key above that value, so it comes again in a later page: applying the
pages in order leaves the client holding exactly its scope, even when writes happen
between two pages of one sync.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection

from .ids import global_id, parse_global_id
from .models import ChangeCounter, DeletedEvent, EndedFriendship, Event, Friendship, ShownPeriod
from .rules import SEEN_BY_FRIENDS

if TYPE_CHECKING:
    from .models import User

MAX_EVENT_ID = 2**63 - 1
CURSOR_PREFIX = "sync:v2:"
_CURSOR_BODY = re.compile(r"([0-9]{1,19}):([A-Za-z0-9_-]{22})")
_EARLIER_CURSOR = re.compile(r"sync:v1:[0-9]{1,19}:[0-9]{1,19}")

CHANGED, REMOVED, COUNTER = "changed", "removed", "counter"


def next_change_seq() -> int:
    """Take the next number of the change sequence; call inside the writing transaction,
    after taking every other row lock the transaction needs."""
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)
    with connection.cursor() as cursor:
        # One statement on SQLite (>= 3.35) and PostgreSQL alike, creating the row if a
        # flushed database lacks it; the row lock it takes orders concurrent writers by commit.
        cursor.execute(
            f"INSERT INTO {table} (id, value) VALUES (1, 1) "
            f"ON CONFLICT (id) DO UPDATE SET value = {table}.value + 1 RETURNING value"
        )
        return cursor.fetchone()[0]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a client is in the sequence of items: after (seq, event_id)."""

    seq: int
    event_id: int

    @classmethod
    def start(cls) -> Position:
        return cls(0, 0)

    @classmethod
    def everything_up_to(cls, seq: int) -> Position:
        """After every item keyed `seq` or less: before the first item keyed seq + 1."""
        return cls(seq + 1, 0)

    def to_cursor(self) -> str:
        body = f"{CURSOR_PREFIX}{self.seq}:{global_id('Event', self.event_id)}"
        return base64.urlsafe_b64encode(body.encode()).decode()

    @classmethod
    def from_cursor(cls, cursor: str) -> Position | None:
        """The position a cursor stands for, or None if it is not a sync cursor; StaleCursor
        for a cursor made with other IDs than this server's."""
        try:
            text = base64.urlsafe_b64decode(cursor.encode()).decode()
        except (ValueError, UnicodeError):
            return None
        match = _CURSOR_BODY.fullmatch(text.removeprefix(CURSOR_PREFIX)) if text.startswith(CURSOR_PREFIX) else None
        if match is None:
            if _EARLIER_CURSOR.fullmatch(text):
                raise StaleCursor(cursor)
            return None
        seq, event = int(match.group(1)), parse_global_id(match.group(2))
        if event is None or event[0] != "Event":
            raise StaleCursor(cursor)
        if seq > MAX_EVENT_ID:
            return None
        return cls(seq, event[1])


class StaleCursor(ValueError):
    """A sync cursor made with other IDs than the server's now: the client must sync again
    from the start, replacing every ID it holds."""


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One answer of delta sync: ids in (key, event id) order, and where to go on from."""

    changed_ids: list[int]
    removed_ids: list[int]
    next_position: Position
    has_more: bool


def changes_since(viewer: User, position: Position, first: int) -> ChangePage:
    """The first `first` items after `position` in the viewer's sync scope, in one statement."""
    params = {
        "viewer": viewer.pk,
        "seq": position.seq,
        "after_id": position.event_id,
        "limit": first + 1,
        **{f"visible_{i}": visibility for i, visibility in enumerate(SEEN_BY_FRIENDS)},
    }
    with connection.cursor() as cursor:
        cursor.execute(_page_statement(), params)
        rows = cursor.fetchall()
    counter = next(key for kind, _, key in rows if kind == COUNTER)
    items = sorted((key, event_id, kind) for kind, event_id, key in rows if kind != COUNTER)
    return _page_of(items, first, counter)


def _page_of(items: list[tuple[int, int, str]], first: int, counter: int) -> ChangePage:
    page, has_more = items[:first], len(items) > first
    next_position = Position(*page[-1][:2]) if has_more else Position.everything_up_to(counter)
    return ChangePage(
        changed_ids=[event_id for _, event_id, kind in page if kind == CHANGED],
        removed_ids=[event_id for _, event_id, kind in page if kind == REMOVED],
        next_position=next_position,
        has_more=has_more,
    )


# The statement, in parts. The cursor is (%(seq)s, %(after_id)s). `friend.since` is when a
# current friendship began; `past` are the viewer's friendships that ended, from `began` to
# `until`, and `ended.until` the last end of one at or after the cursor; `known` are the
# other users whose events the client may hold: a friendship with them began at a key
# whose items were (maybe partly) delivered. A friend's event is keyed by its change when
# that came after the friendship began (read on the (owner, change_seq) index), else by the
# friendship's start. A former friend counts only until the cursor passes the end of the
# friendship, so all their items are keyed at the end at the latest (a deletion after the
# end, too). Tables are filled in by _page_statement.
_SCOPE = """
counter AS (SELECT COALESCE(MAX(value), 0) AS seq FROM {counter}),
friend AS (
    SELECT friend_id AS owner_id, change_seq AS since FROM {friendship} WHERE user_id = %(viewer)s
),
past AS (
    SELECT former_friend_id AS owner_id, began_seq AS began, change_seq AS until FROM {ended}
    WHERE user_id = %(viewer)s
),
ended AS (
    SELECT owner_id, MAX(until) AS until FROM past WHERE until >= %(seq)s GROUP BY owner_id
),
known AS (
    SELECT owner_id FROM friend WHERE since < %(seq)s OR (since = %(seq)s AND %(after_id)s > 0)
    UNION
    SELECT owner_id FROM past WHERE began < %(seq)s OR (began = %(seq)s AND %(after_id)s > 0)
),
known_friend AS (
    SELECT owner_id, since FROM friend WHERE owner_id IN (SELECT owner_id FROM known)
),
former_friend AS (
    SELECT owner_id, until FROM ended
    WHERE owner_id NOT IN (SELECT owner_id FROM friend) AND owner_id IN (SELECT owner_id FROM known)
)"""

_FRIEND_EVENT_KIND = "CASE WHEN e.visibility IN ({visible}) THEN '{changed}' ELSE '{removed}' END"

# Whether the viewer could see {row} (an event `e` or a tombstone `d`, whose event id is
# {row}.{id}) while a friendship that has ended lasted: its last shown period, or an
# earlier one, overlaps the friendship. Only for owners the viewer has stopped being
# friends with, so a friend of long standing costs one hashed look-up.
_SEEN_IN_PAST = """({row}.owner_id IN (SELECT owner_id FROM past) AND EXISTS (
    SELECT 1 FROM past w WHERE w.owner_id = {row}.owner_id AND (
        ({row}.shown_seq < w.until AND {row}.hidden_seq > w.began)
        OR EXISTS (SELECT 1 FROM {period} p
            WHERE p.event_id = {row}.{id} AND p.shown_seq < w.until AND p.hidden_seq > w.began))))"""

# Whether the viewer could see {row}, of a friend `f`, at some time: since the friendship
# began (friends saw it after that: earlier periods ended before the last one), or in an
# earlier friendship.
_SEEN = "({row}.hidden_seq > f.since OR {seen_in_past})"

_ITEMS = """
SELECT '{changed}' AS kind, id AS event_id, change_seq AS item_key FROM {event}
WHERE owner_id = %(viewer)s AND change_seq >= %(seq)s
UNION ALL
SELECT {friend_event_kind}, e.id, e.change_seq
FROM friend f JOIN {event} e ON e.owner_id = f.owner_id
WHERE e.change_seq >= %(seq)s AND e.change_seq >= f.since
    AND (e.visibility IN ({visible}) OR ({event_seen} AND f.owner_id IN (SELECT owner_id FROM known_friend)))
UNION ALL
SELECT {friend_event_kind}, e.id, f.since
FROM friend f JOIN {event} e ON e.owner_id = f.owner_id
WHERE f.since >= %(seq)s AND e.change_seq < f.since
    AND (e.visibility IN ({visible}) OR ({event_seen} AND f.owner_id IN (SELECT owner_id FROM known_friend)))
UNION ALL
SELECT '{removed}', e.id, x.until
FROM former_friend x JOIN {event} e ON e.owner_id = x.owner_id
WHERE {event_seen_in_past}
UNION ALL
SELECT '{removed}', event_id, change_seq FROM {deleted}
WHERE owner_id = %(viewer)s AND change_seq >= %(seq)s
UNION ALL
SELECT '{removed}', d.event_id, d.change_seq
FROM known_friend f JOIN {deleted} d ON d.owner_id = f.owner_id
WHERE d.change_seq >= %(seq)s AND {tombstone_seen}
UNION ALL
SELECT '{removed}', d.event_id, CASE WHEN d.change_seq < x.until THEN d.change_seq ELSE x.until END
FROM former_friend x JOIN {deleted} d ON d.owner_id = x.owner_id
WHERE d.change_seq >= %(seq)s AND {tombstone_seen_in_past}"""

_PAGE = """
WITH {scope}
SELECT kind, event_id, item_key FROM (
    SELECT kind, event_id, item_key FROM ({items}) item
    WHERE (item_key, event_id) > (%(seq)s, %(after_id)s)
        AND item_key <= (SELECT seq FROM counter)
    ORDER BY item_key, event_id
    LIMIT %(limit)s
) page
UNION ALL
SELECT '{counter_kind}', 0, seq FROM counter"""


def _page_statement() -> str:
    """The page statement with this database's table names, on one line (as logs and the
    query snapshots show statements); built per call: cheap, and `connection` is per thread."""

    def table(model) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    visible = ", ".join(f"%(visible_{i})s" for i in range(len(SEEN_BY_FRIENDS)))
    words = {"changed": CHANGED, "removed": REMOVED, "visible": visible}
    tables = {
        "counter": table(ChangeCounter),
        "friendship": table(Friendship),
        "ended": table(EndedFriendship),
        "event": table(Event),
        "deleted": table(DeletedEvent),
    }
    seen_in_past = {
        "event": _SEEN_IN_PAST.format(row="e", id="id", period=table(ShownPeriod)),
        "tombstone": _SEEN_IN_PAST.format(row="d", id="event_id", period=table(ShownPeriod)),
    }
    items = _ITEMS.format(
        friend_event_kind=_FRIEND_EVENT_KIND.format(**words),
        event_seen=_SEEN.format(row="e", seen_in_past=seen_in_past["event"]),
        event_seen_in_past=seen_in_past["event"],
        tombstone_seen=_SEEN.format(row="d", seen_in_past=seen_in_past["tombstone"]),
        tombstone_seen_in_past=seen_in_past["tombstone"],
        **words,
        **tables,
    )
    statement = _PAGE.format(scope=_SCOPE.format(**tables), items=items, counter_kind=COUNTER)
    return " ".join(statement.split())
