"""The worlds the differential tests (tests/test_differential.py) run against, seeded once
per test module: every relationship a viewer can have with a row, every visibility, and the
shapes of data that make execution take its less common turns.

Two worlds share the database, with no link between them:

- **the town**, around `vera` (Europe/Paris): 24 friends (more than a page of 20) in time
  zones from UTC-3:30 to UTC+14 (half- and quarter-hour offsets, DST on both sides), one
  friend with no events (`nadia`), two display names that collide (`ann` and `dan` are both
  "Ann"); friends of friends (`fiona`, `gus`) and strangers (`sam`, `hal`, `ivy`, `zoe`);
  events PUBLIC, FRIENDS and PRIVATE of several owners, 23 of `ann`'s on one day (more
  than a page; some at a café, for `search:`), events spanning three days, crossing midnight in Tokyo, of no length,
  all-day, around both 2026 DST changes, far in the past and future, with microseconds,
  and with text that JSON escapes (quotes, backslashes, newlines, U+2028, emoji, NUL-free
  control characters); RSVPs of every status, some by users who cannot see the event, 22
  GOING to one event; friend requests incoming, outgoing, declined, accepted and between
  others; export jobs PENDING, DONE, FAILED, and one of a stranger's.
- **the quiet world**: `quinn` (no friends, no events, nothing), `olga` and `pete` (friends;
  only `pete` has events).

Every row is made as the services make them (tests/conftest.py's World), so delta sync
sees a consistent history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from calendarapp.changes import Position, next_change_seq
from calendarapp.ids import global_id
from calendarapp.models import Event, ExportJob, FriendRequest, Rsvp, User
from loaders.pagination import offset_to_cursor
from tests.conftest import World, utc

DAY = dt.date(2026, 11, 23)  # a Monday; most events are on it
PARIS_SPRING_FORWARD = dt.date(2026, 3, 29)  # a 23-hour day in Europe/Paris
NEW_YORK_FALL_BACK = dt.date(2026, 11, 1)  # a 25-hour day in America/New_York
VISIBILITIES = ("PUBLIC", "FRIENDS", "PRIVATE")
PASSWORD = "secret-pass-123"  # World's password for every user

# name: (time zone, display name, avatar URL)
PEOPLE: dict[str, tuple[str, str, str | None]] = {
    "vera": ("Europe/Paris", "Vera", "https://example.com/v.png"),
    "ann": ("UTC", "Ann", None),
    "bob": ("America/New_York", "bob", "https://example.com/b.png"),
    "cat": ("Asia/Tokyo", "Cat", None),
    "dan": ("Australia/Lord_Howe", "Ann", None),  # the same display name as ann's
    "eli": ("America/St_Johns", "Élodie \u201cEli\u201d", None),
    "nadia": ("Asia/Kathmandu", "Nadia", None),  # a friend with no events
    "fiona": ("Pacific/Kiritimati", "Fiona", None),  # friend of ann and bob
    "gus": ("UTC", "gus", None),  # friend of ann
    "sam": ("America/Los_Angeles", "Sam \U0001f680", "https://example.com/s.png"),  # a stranger
    "hal": ("UTC", "Hal", None),
    "ivy": ("UTC", "Ivy", None),
    "zoe": ("Europe/London", "Zoë", None),  # a stranger with no events
    "quinn": ("UTC", "Quinn", None),  # the quiet world: no one, nothing
    "olga": ("Europe/Berlin", "Olga", None),
    "pete": ("Europe/Berlin", "Pete", None),
}
PALS = tuple(f"pal{i:02}" for i in range(1, 19))  # vera's other friends, to make her list long
VERAS_FRIENDS = ("ann", "bob", "cat", "dan", "eli", "nadia", *PALS)
OTHER_FRIENDSHIPS = (("ann", "fiona"), ("bob", "fiona"), ("ann", "gus"), ("ann", "bob"), ("olga", "pete"))
# JSON escapes all of these; a serializer that writes them differently shows.
AWKWARD_TEXT = 'Say "hi" \\ back\nthen\ttab \u2028 line sep, </script> & \U0001f389 \x07'


@dataclass(repr=False)
class Town:
    """The seeded rows: users by name, everyone's token, and the IDs the API gives out,
    keyed by a readable name (`event:ann:FRIENDS`, `request:sam->vera`, `job:vera:DONE`)."""

    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    # Every sync cursor worth sending (`changes(since:)`), by name.
    cursors: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Town of {len(self.users)} users and {len(self.ids)} IDs>"

    def id(self, key: str) -> str:
        return self.ids[key]

    def keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.ids if key.startswith(prefix))


def seed_town() -> Town:
    world, town = World(), Town()
    for name in (*PEOPLE, *PALS):
        timezone, display_name, avatar = PEOPLE.get(name, ("UTC", f"Pal {name[3:]}", None))
        user = world.user(name, timezone=timezone, display_name=display_name)
        if avatar:
            User.objects.filter(pk=user.pk).update(avatar_url=avatar)
            user.avatar_url = avatar
        town.users[name] = user
        town.ids[f"user:{name}"] = World.id(user)
    users = town.users
    for friend in VERAS_FRIENDS:
        world.befriend(users["vera"], users[friend])
    for a, b in OTHER_FRIENDSHIPS:
        world.befriend(users[a], users[b])
    for name in ("vera", "ann", "fiona", "sam", "quinn", "olga"):
        town.tokens[name] = world.token(users[name])

    events: dict[str, Event] = {}

    def event(key: str, owner: str, starts_at: dt.datetime, hours: float, visibility: str, **fields) -> None:
        events[key] = world.event(users[owner], starts_at, hours=hours, visibility=visibility, **fields)
        town.ids[f"event:{key}"] = World.id(events[key])

    # One event of each visibility on DAY for each of these owners, one hour apart.
    for hour, owner in enumerate(("vera", "ann", "bob", "fiona", "sam", "pete"), start=8):
        for offset, visibility in enumerate(VISIBILITIES):
            starts_at = utc(2026, 11, 23, hour, offset * 15) + dt.timedelta(microseconds=123456 * offset)
            event(f"{owner}:{visibility}", owner, starts_at, 1.5, visibility, title=f"{owner} {visibility.lower()}")
    # ann's busy day: 23 more, all through the day, so that a page of 20 has a next one.
    for i in range(23):
        starts_at = utc(2026, 11, 23, 0, 30) + dt.timedelta(minutes=61 * i)
        location = "Caf\u00e9 du Parc" if i % 4 == 0 else ""  # for search: a location, not a title
        event(f"ann:busy{i:02}", "ann", starts_at, 0.5, VISIBILITIES[i % 2], title=f"Busy {i:02}", location=location)
    # Shapes of time.
    event("bob:three-days", "bob", utc(2026, 11, 22, 20), 30, "FRIENDS", title="Three days")
    event("cat:tokyo-midnight", "cat", utc(2026, 11, 23, 14, 30), 1.5, "FRIENDS", title="Across Tokyo's midnight")
    event("vera:no-length", "vera", utc(2026, 11, 22, 23), 0, "FRIENDS", title="No length, at Paris midnight")
    event("eli:all-day", "eli", dt.datetime(2026, 11, 23, 3, 30, tzinfo=dt.UTC), 24, "PUBLIC", all_day=True)
    event("dan:lord-howe", "dan", utc(2026, 11, 22, 13), 2, "FRIENDS", title="Lord Howe morning")
    event("vera:spring-forward", "vera", utc(2026, 3, 29, 0, 30), 2, "FRIENDS", title="Spring forward")
    event("ann:spring-forward", "ann", utc(2026, 3, 28, 23, 30), 1, "PUBLIC", title="Before the gap")
    event("bob:fall-back", "bob", utc(2026, 11, 1, 5, 30), 1, "FRIENDS", title="The hour twice")
    event("sam:far-future", "sam", utc(2099, 12, 31, 23), 0.5, "PUBLIC", title="Far future")
    event("ann:long-ago", "ann", utc(2001, 1, 1), 1, "FRIENDS", title="Long ago")
    event(
        "eli:awkward",
        "eli",
        utc(2026, 11, 23, 18),
        1,
        "FRIENDS",
        title=AWKWARD_TEXT[:60],
        description=AWKWARD_TEXT * 3,
        location="Caf\u00e9 \u00ab Le Z\u00e8bre \u00bb",
    )

    # RSVPs of every status, by friends, strangers, and users who cannot see the event.
    for key, rsvps in {
        "ann:FRIENDS": (("vera", "GOING"), ("bob", "MAYBE"), ("fiona", "DECLINED"), ("gus", "GOING")),
        "ann:PUBLIC": (("sam", "GOING"), ("vera", "DECLINED")),
        "sam:PUBLIC": (("vera", "MAYBE"), ("ann", "GOING")),
        "sam:PRIVATE": (("vera", "GOING"),),  # vera answered an event she cannot see
        "vera:FRIENDS": (("ann", "GOING"), ("bob", "GOING"), ("cat", "MAYBE")),
        "bob:three-days": (("vera", "GOING"), ("fiona", "GOING")),
        "pete:FRIENDS": (("olga", "GOING"),),
    }.items():
        for name, status in rsvps:
            world.rsvp(users[name], events[key], status)
    # 22 GOING to sam's PUBLIC event: more than a page of 20 attendees.
    seq = next_change_seq()
    Event.objects.filter(pk=events["sam:PUBLIC"].pk).update(change_seq=seq)
    Rsvp.objects.bulk_create(
        [Rsvp(user=users[name], event=events["sam:PUBLIC"], status="GOING") for name in (*PALS, "bob", "cat", "dan")]
    )

    # Friend requests: incoming to vera (more than a page of 3), outgoing, answered, between others.
    for sender, receiver, status in (
        ("sam", "vera", "PENDING"),
        ("fiona", "vera", "PENDING"),
        ("hal", "vera", "PENDING"),
        ("ivy", "vera", "PENDING"),
        ("gus", "vera", "DECLINED"),
        ("ann", "vera", "ACCEPTED"),
        ("vera", "zoe", "PENDING"),
        ("fiona", "sam", "PENDING"),
        ("olga", "quinn", "DECLINED"),
    ):
        request = FriendRequest.objects.create(from_user=users[sender], to_user=users[receiver], status=status)
        town.ids[f"request:{sender}->{receiver}"] = World.id(request)

    # Export jobs of every status.
    week = {"date_from": DAY, "date_to": DAY + dt.timedelta(days=6)}
    for owner, status, extra in (
        ("vera", "PENDING", {}),
        ("vera", "DONE", {"row_count": 4}),
        ("vera", "FAILED", {"error": "The export took too long."}),
        ("sam", "DONE", {"row_count": 0}),
    ):
        job = ExportJob.objects.create(owner=users[owner], status=status, **week, **extra)
        town.ids[f"job:{owner}:{status}"] = global_id("ExportJob", job.pk)

    # Sync cursors: from nothing, partway (after the first change numbered), past the end, garbage.
    town.cursors = {
        "start": Position.start().to_cursor(),
        "partway": Position(seq // 2, 0).to_cursor(),
        "end": Position.everything_up_to(next_change_seq()).to_cursor(),
    }
    return town


# IDs that are no row's: the right shape for a row that does not exist, and strings that
# are not IDs at all (a legacy base64 "User:1", an empty string, text).
MISSING_IDS = {
    "missing:event": lambda: global_id("Event", 2**40),
    "missing:user": lambda: global_id("User", 2**40),
    "garbage:legacy": lambda: "VXNlcjox",
    "garbage:empty": lambda: "",
    "garbage:text": lambda: "not an id",
}
# Page cursors: the first rows, a few rows in, far past the end, and not a cursor.
PAGE_CURSORS = {
    "after:0": offset_to_cursor(0),
    "after:2": offset_to_cursor(2),
    "after:19": offset_to_cursor(19),
    "after:past-end": offset_to_cursor(5000),
    "after:garbage": "bm90IGEgY3Vyc29y",
}
