"""Who sees what, as docs/api.md words it, in plain Python: the expected side of
tests/test_permissions_property.py.

Written from the contract alone. It imports nothing of the server's (least of all
calendarapp.rules), so a mistake in the server's rule cannot hide by being copied here.
Users, events and friend requests are named by their primary keys; every list comes in
the order the API promises (events by startsAt then id, users by displayName then id).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

PUBLIC, FRIENDS, PRIVATE = "PUBLIC", "FRIENDS", "PRIVATE"
PENDING, ACCEPTED, DECLINED = "PENDING", "ACCEPTED", "DECLINED"
GOING = "GOING"
FORBIDDEN, NOT_FOUND, BAD_USER_INPUT = "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"

Window = tuple[dt.datetime | None, dt.datetime | None]  # [start, end) in UTC; None is open
EVERYTHING: Window = (None, None)


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    timezone: str


@dataclass(frozen=True)
class Happening:
    """An event: whose, who may see it, when."""

    owner: int
    visibility: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    title: str = "Event"


@dataclass(frozen=True)
class Request:
    """A friend request: it makes no one a friend until accepted, and then only through
    the friendship it creates (a friendship may end while its request stays ACCEPTED)."""

    sender: int
    recipient: int
    status: str


@dataclass
class Model:
    people: dict[int, Person]
    friendships: set[frozenset[int]]  # each friendship once, mutual
    events: dict[int, Happening]
    rsvps: dict[tuple[int, int], str]  # (event, user) -> GOING | MAYBE | DECLINED
    requests: dict[int, Request]
    exports: dict[int, int] = field(default_factory=dict)  # export job -> its owner
    tokens: dict[str, int] = field(default_factory=dict)  # every token issued -> its user
    revoked: set[str] = field(default_factory=set)

    # --- relationships ---------------------------------------------------------------------

    def friends_of(self, user: int) -> set[int]:
        return {other for pair in self.friendships if user in pair for other in pair if other != user}

    def are_friends(self, a: int, b: int) -> bool:
        return frozenset((a, b)) in self.friendships and a != b

    def may_see(self, viewer: int, event: int) -> bool:
        """The owner sees all their events; a friend PUBLIC and FRIENDS ones; anyone else PUBLIC ones."""
        happening = self.events.get(event)
        if happening is None:
            return False
        if happening.owner == viewer:
            return True
        if self.are_friends(viewer, happening.owner):
            return happening.visibility in (PUBLIC, FRIENDS)
        return happening.visibility == PUBLIC

    # --- tokens -----------------------------------------------------------------------------

    def acts_as(self, token: str) -> int | None:
        """Whom a request with `token` acts as: its user, until it is revoked; else no one."""
        user = self.tokens.get(token)
        return None if token in self.revoked or user not in self.people else user

    def logout(self, token: str, all_devices: bool) -> int:
        """`logout`: revoke the token it is sent with, or every token of its user; how many it revoked."""
        user = self.acts_as(token)
        live = {other for other, owner in self.tokens.items() if owner == user and other not in self.revoked}
        ending = live if all_devices else {token} & live
        self.revoked |= ending
        return len(ending)

    # --- time ------------------------------------------------------------------------------

    def day(self, viewer: int, date: dt.date) -> Window:
        """The calendar day `date` in the viewer's time zone, from local midnight to local midnight."""
        return self.days(viewer, date, date)

    def days(self, viewer: int, first: dt.date, last: dt.date) -> Window:
        zone = ZoneInfo(self.people[viewer].timezone)
        start = dt.datetime(first.year, first.month, first.day, tzinfo=zone)
        after = last + dt.timedelta(days=1)
        end = dt.datetime(after.year, after.month, after.day, tzinfo=zone)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    def overlaps(self, event: int, window: Window) -> bool:
        start, end = window
        happening = self.events[event]
        return (end is None or happening.starts_at < end) and (start is None or happening.ends_at > start)

    def in_event_order(self, events) -> list[int]:
        return sorted(events, key=lambda pk: (self.events[pk].starts_at, pk))

    def in_user_order(self, users) -> list[int]:
        return sorted(users, key=lambda pk: (self.people[pk].display_name, pk))

    # --- what each path holds ----------------------------------------------------------------

    def events_of(self, viewer: int, owner: int, window: Window = EVERYTHING) -> list[int]:
        """`user(owner) { events }`, `eventCount` and `viewer { events }`."""
        return self.in_event_order(
            pk
            for pk, happening in self.events.items()
            if happening.owner == owner and self.may_see(viewer, pk) and self.overlaps(pk, window)
        )

    def friends_events(self, viewer: int, window: Window) -> list[int]:
        """`friendsEvents`: the friends' events the viewer sees; not the viewer's own."""
        friends = self.friends_of(viewer)
        return self.in_event_order(
            pk
            for pk, happening in self.events.items()
            if happening.owner in friends and self.may_see(viewer, pk) and self.overlaps(pk, window)
        )

    def sync_scope(self, viewer: int) -> set[int]:
        """`changes`: the viewer's own events and the friends' events the viewer sees."""
        return set(self.events_of(viewer, viewer)) | set(self.friends_events(viewer, EVERYTHING))

    def export_rows(self, viewer: int, first: dt.date, last: dt.date) -> list[int]:
        """An export: the viewer's own events on the days `first` to `last`, in the viewer's time zone."""
        return self.events_of(viewer, viewer, self.days(viewer, first, last))

    def attendees(self, event: int) -> list[int]:
        """The users whose RSVP is GOING: every one of them, whoever asks."""
        return self.in_user_order(user for (pk, user), status in self.rsvps.items() if pk == event and status == GOING)

    def viewer_rsvp(self, viewer: int, event: int) -> str | None:
        return self.rsvps.get((event, viewer))

    def may_list_friends(self, viewer: int, user: int) -> bool:
        return viewer == user or self.are_friends(viewer, user)

    def listed_friends(self, user: int) -> list[int]:
        return self.in_user_order(self.friends_of(user))

    def mutual_friend_count(self, viewer: int, user: int) -> int:
        return len(self.friends_of(viewer) & self.friends_of(user))

    def may_see_request(self, viewer: int, request: int) -> bool:
        found = self.requests.get(request)
        return found is not None and viewer in (found.sender, found.recipient)

    def may_see_export(self, viewer: int, job: int) -> bool:
        return self.exports.get(job) == viewer

    # --- mutations: the error code each one answers (None: it succeeds), and its effect -----

    def change_event(self, viewer: int, event: int) -> str | None:
        """`updateEvent` and `deleteEvent`: unseen is missing; seen but someone else's is forbidden."""
        if not self.may_see(viewer, event):
            return NOT_FOUND
        return None if self.events[event].owner == viewer else FORBIDDEN

    def rsvp(self, viewer: int, event: int) -> str | None:
        """Anyone who can see an event may RSVP to it."""
        return None if self.may_see(viewer, event) else NOT_FOUND

    def remove_friend(self, viewer: int, user: int) -> str | None:
        return None if self.are_friends(viewer, user) else NOT_FOUND

    def respond(self, viewer: int, request: int) -> str | None:
        """Only the recipient responds, once; to anyone else but the sender the request is not there."""
        if not self.may_see_request(viewer, request):
            return NOT_FOUND
        found = self.requests[request]
        if found.recipient != viewer:
            return FORBIDDEN
        return None if found.status == PENDING else BAD_USER_INPUT

    def retitle(self, event: int, title: str) -> None:
        happening = self.events[event]
        self.events[event] = Happening(
            happening.owner, happening.visibility, happening.starts_at, happening.ends_at, title
        )

    def delete_event(self, event: int) -> None:
        del self.events[event]
        self.rsvps = {key: status for key, status in self.rsvps.items() if key[0] != event}

    def set_rsvp(self, viewer: int, event: int, status: str | None) -> None:
        if status is None:
            self.rsvps.pop((event, viewer), None)
        else:
            self.rsvps[(event, viewer)] = status

    def end_friendship(self, a: int, b: int) -> None:
        self.friendships.discard(frozenset((a, b)))

    def answer_request(self, request: int, accept: bool) -> None:
        found = self.requests[request]
        self.requests[request] = Request(found.sender, found.recipient, ACCEPTED if accept else DECLINED)
        if accept:
            self.friendships.add(frozenset((found.sender, found.recipient)))
