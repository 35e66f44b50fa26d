"""`manage.py seed_demo`: fill the database with demo data for exploration and benchmarks.

See docs/api.md, "Demo data". The same flags always make the same data: every random
choice comes from `random.Random` streams derived from --seed (one per phase, so that e.g.
changing --attendees does not reshuffle the events), and no value depends on the clock
except the models' auto timestamps.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from calendarapp.changes import next_change_seq
from calendarapp.models import AuthToken, Event, FriendRequest, Friendship, Rsvp, User, Visibility

POWER_USERNAME = "power"
POWER_DISPLAY_NAME = "Power User"
POWER_TIMEZONE = "Europe/Paris"
DEFAULT_START = dt.date(2026, 11, 23)
DEFAULT_PASSWORD = "demo"
DEMO_PREFIX = "demo_"
STRANGER_COUNT = 3
AVATAR_URL = "https://example.com/avatars/{username}.png"
BATCH_SIZE = 2000

# Each friend befriends up to this many of the next FRIEND_WINDOW friends, so the
# friend graph is connected locally without being a clique.
MAX_EXTRA_FRIENDS = 3
FRIEND_WINDOW = 10

# Events sit inside the day, in the power user's time zone, on a 15-minute grid.
DAY_OPENS = dt.time(7, 0)
DAY_CLOSES = dt.time(22, 0)
SLOT_MINUTES = 15
MIN_DURATION_MINUTES = 30
MAX_DURATION_MINUTES = 180

VISIBILITY_WEIGHTS = {Visibility.PUBLIC: 30, Visibility.FRIENDS: 60, Visibility.PRIVATE: 10}
RSVP_STATUS_WEIGHTS = {Rsvp.Status.GOING: 70, Rsvp.Status.MAYBE: 20, Rsvp.Status.DECLINED: 10}

FIRST_NAMES = (
    "Alice", "Bruno", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiroshi", "Inès", "João",
    "Kemal", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tamar",
    "Ulla", "Victor", "Wen", "Ximena", "Yusuf", "Zoé",
)  # fmt: skip
LAST_NAMES = (
    "Anderson", "Bernard", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Lefebvre", "Müller", "Nakamura", "O'Brien", "Petrov", "Rossi", "Silva",
    "Tanaka", "Umarov", "Varga", "Wang", "Yilmaz", "Zhang",
)  # fmt: skip
TIMEZONES = (
    "Europe/Paris", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
    "America/Sao_Paulo", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney", "UTC",
)  # fmt: skip
TITLES = (
    "Standup", "Lunch", "Coffee chat", "Gym", "Dentist", "Team sync", "Yoga class", "Book club",
    "Code review", "1:1", "Grocery run", "Piano lesson", "Dinner with family", "Running club",
    "Project kickoff", "Haircut", "Movie night", "Language exchange", "Board games", "Volunteering",
)  # fmt: skip
LOCATIONS = (
    "", "", "Office", "Café de Flore", "Home", "City gym", "Room 4.2", "Central library",
    "Parc Monceau", "Video call", "Downtown studio", "Community center",
)  # fmt: skip
DESCRIPTIONS = (
    "", "", "", "Bring a notebook.", "Agenda in the shared doc.", "Let's meet at the entrance.",
    "Weekly, don't be late!", "Ping me if you can't make it.",
)  # fmt: skip


@dataclass(frozen=True)
class SeedOptions:
    friends: int
    events_per_day: int
    days: int
    start: dt.date
    attendees: int
    seed: int
    password: str
    reset: bool


@dataclass
class SeedCounts:
    users: int = 0
    friendships: int = 0
    friend_requests: int = 0
    events: int = 0
    rsvps: int = 0


class Command(BaseCommand):
    help = "Create the power user, its friends and their events (deterministic demo data; see docs/api.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--friends", type=int, default=1000, help="Number of friends of `power` (default 1000).")
        parser.add_argument("--events-per-day", type=int, default=10, help="Events per friend per day (default 10).")
        parser.add_argument("--days", type=int, default=7, help="Number of days with events (default 7).")
        parser.add_argument(
            "--start", default=DEFAULT_START.isoformat(), help=f"First day, YYYY-MM-DD (default {DEFAULT_START})."
        )
        parser.add_argument("--attendees", type=int, default=3, help="Maximum RSVPs per event (default 3).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed: same seed, same data (default 0).")
        parser.add_argument(
            "--password", default=DEFAULT_PASSWORD, help=f"Password of every demo user (default '{DEFAULT_PASSWORD}')."
        )
        parser.add_argument("--reset", action="store_true", help="Delete previously seeded demo data first.")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help=f"Seed only when user '{POWER_USERNAME}' does not exist; otherwise keep the data as it is.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        opts = parse_options(options)
        if options["if_missing"] and opts.reset:
            raise CommandError("--if-missing keeps existing data and --reset deletes it: pass one of them.")
        if options["if_missing"] and User.objects.filter(username=POWER_USERNAME).exists():
            self.stdout.write(f"Demo data kept: user '{POWER_USERNAME}' exists (--reset deletes it and seeds again).")
            return
        began = time.perf_counter()
        with transaction.atomic():
            if opts.reset:
                delete_demo_data()
            elif demo_users().exists():
                raise CommandError(
                    f"Demo data already exists (user '{POWER_USERNAME}' or '{DEMO_PREFIX}*'): "
                    "pass --reset to delete it and seed again."
                )
            counts = seed(opts)
        refresh_planner_statistics()
        seconds = time.perf_counter() - began
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {counts.users} users, {counts.friendships} friendships ({2 * counts.friendships} rows), "
                f"{counts.friend_requests} friend requests, {counts.events} events, {counts.rsvps} rsvps "
                f"in {seconds:.1f}s."
            )
        )


def refresh_planner_statistics() -> None:
    """After a bulk load PostgreSQL's statistics are stale until autovacuum gets to
    them; plans made meanwhile (a sequential scan where an index fits) would make
    the first minutes of a benchmark or a demo misleadingly slow."""
    if connection.vendor != "postgresql":
        return
    tables = [model._meta.db_table for model in (User, Friendship, FriendRequest, Event, Rsvp)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(table) for table in tables))


def parse_options(options: dict[str, Any]) -> SeedOptions:
    """Validate the flags; call_command passes keyword values unparsed, so check types here too."""
    counts = {}
    for name in ("friends", "events_per_day", "days", "attendees"):
        value = options[name]
        if not isinstance(value, int) or value < 0:
            flag = "--" + name.replace("_", "-")
            raise CommandError(f"{flag} must be a whole number >= 0, got {value!r}.")
        counts[name] = value
    if not isinstance(options["seed"], int):
        raise CommandError(f"--seed must be an integer, got {options['seed']!r}.")
    if not options["password"]:
        raise CommandError("--password must not be empty.")
    return SeedOptions(
        **counts,
        start=parse_start(options["start"]),
        seed=options["seed"],
        password=options["password"],
        reset=bool(options["reset"]),
    )


def parse_start(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CommandError(f"--start must be a date like 2026-11-23, got {value!r}.") from None


def demo_users() -> QuerySet[User]:
    # startswith escapes the LIKE wildcard "_", so this matches the literal prefix only.
    return User.objects.filter(Q(username=POWER_USERNAME) | Q(username__startswith=DEMO_PREFIX))


def delete_demo_data() -> None:
    """Delete every user a previous run made, and everything hanging off them.

    The big child tables go first, each in one DELETE: letting the user delete cascade
    would load every event and RSVP into memory first. The final user delete still
    cascades to anything else.
    """
    users = demo_users()
    Rsvp.objects.filter(Q(user__in=users) | Q(event__owner__in=users)).delete()
    delete_events(Event.objects.filter(owner__in=users))
    Friendship.objects.filter(Q(user__in=users) | Q(friend__in=users)).delete()
    FriendRequest.objects.filter(Q(from_user__in=users) | Q(to_user__in=users)).delete()
    AuthToken.objects.filter(user__in=users).delete()
    users.delete()


def delete_events(events: QuerySet[Event]) -> None:
    # Even with their RSVPs gone, the ORM loads every event to look for cascades (seconds for
    # 70,000): one raw DELETE is safe as long as RSVPs are the only rows pointing at events.
    if all(relation.related_model is Rsvp for relation in Event._meta.related_objects):
        events._raw_delete(events.db)
    else:
        events.delete()


def seed(opts: SeedOptions) -> SeedCounts:
    counts = SeedCounts()
    # One change (delta sync) for everything inserted: data reseeded after a client synced
    # is newer than the client's cursor.
    seq = next_change_seq()
    # Hashing is deliberately slow; every demo user shares the same password, so hash once.
    password_hash = make_password(opts.password)
    users = build_users(opts, rng_for(opts, "users"), password_hash)
    User.objects.bulk_create(users, batch_size=BATCH_SIZE)
    counts.users = len(users)

    ids = fetch_user_ids()
    power_id = ids[POWER_USERNAME]
    friend_ids = [ids[friend_username(i, opts.friends)] for i in range(1, opts.friends + 1)]
    stranger_ids = [ids[stranger_username(i)] for i in range(1, STRANGER_COUNT + 1)]

    friendships = build_friendships(power_id, friend_ids, rng_for(opts, "friendships"), seq)
    Friendship.objects.bulk_create(friendships, batch_size=BATCH_SIZE)
    counts.friendships = len(friendships) // 2

    requests = [FriendRequest(from_user_id=sid, to_user_id=power_id) for sid in stranger_ids]
    FriendRequest.objects.bulk_create(requests, batch_size=BATCH_SIZE)
    counts.friend_requests = len(requests)

    events, owner_positions = build_events(opts, rng_for(opts, "events"), friend_ids, seq)
    event_ids = insert_events(events)
    counts.events = len(events)

    # RSVPs may come from power or any friend but the event's owner.
    pool = [power_id, *friend_ids]
    rsvps = build_rsvps(opts, rng_for(opts, "rsvps"), event_ids, [p + 1 for p in owner_positions], pool)
    Rsvp.objects.bulk_create(rsvps, batch_size=BATCH_SIZE)
    counts.rsvps = len(rsvps)
    return counts


def rng_for(opts: SeedOptions, phase: str) -> random.Random:
    """One RNG stream per phase; string seeds are hashed with SHA-512, so stable across runs."""
    return random.Random(f"seed_demo/{opts.seed}/{phase}")


def friend_username(number: int, friends: int) -> str:
    # Zero-padded so that sorting by username is sorting by number.
    width = max(4, len(str(friends)))
    return f"{DEMO_PREFIX}{number:0{width}d}"


def stranger_username(number: int) -> str:
    return f"{DEMO_PREFIX}stranger_{number}"


def make_user(username: str, display_name: str, timezone: str, password_hash: str) -> User:
    first_name, _, last_name = display_name.partition(" ")
    return User(
        username=username,
        display_name=display_name,
        first_name=first_name,
        last_name=last_name,
        email=f"{username}@example.com",
        timezone=timezone,
        avatar_url=AVATAR_URL.format(username=username),
        password=password_hash,
    )


def build_users(opts: SeedOptions, rng: random.Random, password_hash: str) -> list[User]:
    users = [make_user(POWER_USERNAME, POWER_DISPLAY_NAME, POWER_TIMEZONE, password_hash)]
    usernames = [friend_username(i, opts.friends) for i in range(1, opts.friends + 1)]
    usernames += [stranger_username(i) for i in range(1, STRANGER_COUNT + 1)]
    for username in usernames:
        display_name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        users.append(make_user(username, display_name, rng.choice(TIMEZONES), password_hash))
    return users


def fetch_user_ids() -> dict[str, int]:
    # bulk_create does not set pks on every backend: read them back by username.
    return dict(demo_users().values_list("username", "id"))


def build_friendships(power_id: int, friend_ids: list[int], rng: random.Random, seq: int) -> list[Friendship]:
    """Both directions of every friendship (see the Friendship model)."""
    pairs = [(power_id, friend_id) for friend_id in friend_ids]
    for i, friend_id in enumerate(friend_ids):
        window = friend_ids[i + 1 : i + 1 + FRIEND_WINDOW]
        # Only later friends are picked, so no pair can be drawn twice.
        chosen = rng.sample(window, min(len(window), rng.randint(0, MAX_EXTRA_FRIENDS)))
        pairs.extend((friend_id, other_id) for other_id in chosen)
    rows = []
    for a, b in pairs:
        rows.append(Friendship(user_id=a, friend_id=b, change_seq=seq))
        rows.append(Friendship(user_id=b, friend_id=a, change_seq=seq))
    return rows


def build_events(
    opts: SeedOptions, rng: random.Random, friend_ids: list[int], seq: int
) -> tuple[list[Event], list[int]]:
    """The events, numbered `seq` on the change sequence, and for each the position of its owner in `friend_ids`."""
    zone = ZoneInfo(POWER_TIMEZONE)
    days = [opts.start + dt.timedelta(days=d) for d in range(opts.days)]
    opening_hours = [
        (dt.datetime.combine(day, DAY_OPENS, tzinfo=zone), dt.datetime.combine(day, DAY_CLOSES, tzinfo=zone))
        for day in days
    ]
    events: list[Event] = []
    owner_positions: list[int] = []
    for position, owner_id in enumerate(friend_ids):
        for opens, closes in opening_hours:
            for _ in range(opts.events_per_day):
                events.append(build_event(rng, owner_id, opens, closes, seq))
                owner_positions.append(position)
    return events, owner_positions


def build_event(rng: random.Random, owner_id: int, opens: dt.datetime, closes: dt.datetime, seq: int) -> Event:
    """An event between `opens` and `closes` (local, aware), on a SLOT_MINUTES grid."""
    open_minutes = (closes - opens) // dt.timedelta(minutes=1)
    duration = rng.randrange(MIN_DURATION_MINUTES, MAX_DURATION_MINUTES + 1, SLOT_MINUTES)
    offset = rng.randrange(0, open_minutes - duration + 1, SLOT_MINUTES)
    starts_at = opens + dt.timedelta(minutes=offset)
    visibility = weighted_choice(rng, VISIBILITY_CHOICES)
    event = Event(
        owner_id=owner_id,
        title=rng.choice(TITLES),
        description=rng.choice(DESCRIPTIONS),
        location=rng.choice(LOCATIONS),
        # Stored in UTC; the arithmetic above is wall-clock time in the local zone.
        starts_at=starts_at.astimezone(dt.UTC),
        ends_at=(starts_at + dt.timedelta(minutes=duration)).astimezone(dt.UTC),
        visibility=visibility,
    )
    event.number_change(seq)  # a new event: never an earlier shown period to keep
    return event


def weighted_choice(rng: random.Random, choices: tuple[list[str], list[int]]) -> str:
    values, cumulative_weights = choices
    return rng.choices(values, cum_weights=cumulative_weights)[0]


def cumulative(weights: dict[str, int]) -> tuple[list[str], list[int]]:
    # random.choices recomputes cumulative weights on every call otherwise: ~175,000 calls here.
    return list(weights), list(itertools.accumulate(weights.values()))


VISIBILITY_CHOICES = cumulative(VISIBILITY_WEIGHTS)
RSVP_STATUS_CHOICES = cumulative(RSVP_STATUS_WEIGHTS)


def insert_events(events: list[Event]) -> list[int]:
    """Insert `events` and return their ids in the same order."""
    Event.objects.bulk_create(events, batch_size=BATCH_SIZE)
    if all(event.pk is not None for event in events):
        return [event.pk for event in events]
    # Backends without RETURNING: every demo event was just inserted (the demo users are new),
    # and ids grow in insertion order, so reading them back by id keeps the order.
    new_events = Event.objects.filter(owner__username__startswith=DEMO_PREFIX).order_by("id")
    ids = list(new_events.values_list("id", flat=True))
    if len(ids) != len(events):
        raise CommandError(f"Expected {len(events)} new events, found {len(ids)}.")
    return ids


def build_rsvps(
    opts: SeedOptions, rng: random.Random, event_ids: list[int], owner_positions: list[int], pool: list[int]
) -> list[Rsvp]:
    """Up to --attendees RSVPs per event, from `pool` minus the owner at `owner_positions[i]`."""
    rsvps = []
    others = len(pool) - 1
    for event_id, owner_position in zip(event_ids, owner_positions, strict=True):
        count = min(rng.randint(0, opts.attendees), others)
        for picked in rng.sample(range(others), count):
            # Draw among the others, then skip over the owner's slot.
            user_id = pool[picked + 1 if picked >= owner_position else picked]
            rsvps.append(Rsvp(event_id=event_id, user_id=user_id, status=weighted_choice(rng, RSVP_STATUS_CHOICES)))
    return rsvps
