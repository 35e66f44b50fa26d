"""Schema fuzzing with schemathesis: every query and every mutation of the schema the server
publishes (introspected over /graphql), sent in-process to Django's WSGI application with random
selections and random argument values, as a seeded user with friends, events of every visibility,
pending friend requests and export jobs, so that operations hit real rows.

Every answer is checked:

- never a 5xx;
- a JSON object with `data` and/or `errors`, whatever the status;
- every error carries `extensions.code`, one of the codes of docs/api.md, and none is
  INTERNAL_SERVER_ERROR (the database is up: that code would be an unhandled exception);
- a mutation answered with an error (refused, failed, or failed below its payload) changed no row
  of any calendarapp table (a content hash of every table, before and after), and one answered
  without an error changed some;
- each operation was answered without any error at least once (the fuzzing reached it).

Most cases are schemathesis' positive ones (documents that validate, with random values; an
argument that names what it wants, such as `eventId` or `password`, mostly gets a value that means
something to the seeded world), about one in five its negative ones (documents that break the
schema's types). Each example runs in a savepoint rolled back afterwards, so every example starts
from the same world and a failure replays, and shrinks, exactly. The seed is fixed (FUZZ_SEED, 0):
every run sends the same requests.

Examples per operation: FUZZ_EXAMPLES, 40 by default (680 requests, about 25 s per database).
On PostgreSQL the same fuzzing also runs over HTTP against the Procfile's web process (gunicorn,
the ASGI bridge, production settings) on the test database: FUZZ_LIVE_EXAMPLES per operation, 20
by default (340 requests), one after another, each keeping what it wrote. A longer run, with the
requests and outcomes of each operation printed (-v):

    FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_fuzz_schema.py -v
    FUZZ_EXAMPLES=500 FUZZ_SEED=7 .venv/bin/python -m pytest tests/test_fuzz_schema.py -v
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.apps import apps
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from graphql import (
    ArgumentNode,
    IntValueNode,
    NullValueNode,
    ObjectFieldNode,
    StringValueNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from hypothesis import HealthCheck, given, seed, settings, strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.graphql import nodes

from calendarapp.changes import Position
from calendarapp.ids import MAX_PK, TYPE_CODES, global_id
from calendarapp.models import AuthToken, ExportJob, FriendRequest, Rsvp, User, hash_token
from loaders.pagination import offset_to_cursor
from schema.schema import GRAPHQL_SCHEMA
from tests.conftest import World, sealed_id, utc
from tests.test_http import CODES

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))
LIVE_EXAMPLES = int(os.environ.get("FUZZ_LIVE_EXAMPLES", "20"))
ROUND = 100  # examples per hypothesis run (see the loop at the end)
OPERATIONS = [
    f"{root.name}.{name}" for root in (GRAPHQL_SCHEMA.query_type, GRAPHQL_SCHEMA.mutation_type) for name in root.fields
]
PASSWORD = "secret-pass-123"  # the password World gives every user


# --- the world the operations run against ----------------------------------------------------------

USERNAMES = ("power", "anna", "ben", "cleo", "zed", "dora", "eve")
VISIBILITIES = ("PUBLIC", "FRIENDS", "PRIVATE")
EVENTS = tuple(f"event.{name}.{visibility}" for name in ("power", "anna", "zed") for visibility in VISIBILITIES)
REQUESTS = ("request.incoming", "request.outgoing", "request.others")
EXPORTS = ("export.power", "export.anna")
USERS = tuple(f"user.{name}" for name in USERNAMES)
ROWS = (*USERS, *REQUESTS, *EVENTS, *EXPORTS)


@dataclass
class Seeded:
    """The seeded rows' IDs by key (ROWS) and the viewers' tokens."""

    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


# The world of the test running now, read by the ID strategy while hypothesis draws.
current = Seeded()


def seed_world(world: World) -> Seeded:
    """power (Europe/Paris) is friends with anna, ben and cleo; zed asked power to be friends,
    power asked dora, cleo asked zed, eve knows no one; power, anna and zed have an event of each visibility on
    2026-11-23, with RSVPs from power and ben; power and anna each have an export job."""
    users = {name: world.user(name, timezone="Europe/Paris" if name == "power" else "UTC") for name in USERNAMES}
    for friend in ("anna", "ben", "cleo"):
        world.befriend(users["power"], users[friend])
    world.befriend(users["anna"], users["ben"])
    ids = {f"user.{name}": World.id(user) for name, user in users.items()}
    for key, (sender, receiver) in zip(REQUESTS, [("zed", "power"), ("power", "dora"), ("cleo", "zed")], strict=True):
        ids[key] = World.id(FriendRequest.objects.create(from_user=users[sender], to_user=users[receiver]))
    for name in ("power", "anna", "zed"):
        for hour, visibility in enumerate(VISIBILITIES, start=9):
            event = world.event(users[name], utc(2026, 11, 23, hour), visibility=visibility, title=f"{name} {hour}")
            ids[f"event.{name}.{visibility}"] = World.id(event)
            for guest, status in (("power", Rsvp.Status.GOING), ("ben", Rsvp.Status.MAYBE)):
                if guest != name:
                    Rsvp.objects.create(user=users[guest], event=event, status=status)
    for key in EXPORTS:
        owner = users[key.removeprefix("export.")]
        job = ExportJob.objects.create(owner=owner, date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30))
        ids[key] = global_id("ExportJob", job.pk)
    return Seeded(ids, {name: world.token(users[name]) for name in ("power", "anna")})


# --- what the scalars are drawn from ---------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def uniform(values: tuple) -> st.SearchStrategy:
    """One of `values`, each about as likely (sampled_from favours the first ones)."""
    return st.integers(min_value=0, max_value=2**16).map(lambda index: values[index % len(values)])


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, one of weight 2 drawn from about twice as often as one of weight 1
    (st.one_of would not do: it drops repeated strategies)."""
    return uniform(tuple(strategy for weight, strategy in choices for _ in range(weight))).flatmap(
        lambda chosen: chosen
    )


IDS = weighted(
    (2, uniform(ROWS).map(lambda key: current.ids[key])),  # real rows, of every type and owner
    (  # IDs of rows that do not exist
        1,
        st.tuples(st.sampled_from(list(TYPE_CODES)), st.integers(min_value=0, max_value=MAX_PK)).map(
            lambda id_: global_id(*id_)
        ),
    ),
    (1, st.binary(min_size=16, max_size=16).map(sealed_id)),  # sealed by the server, but not an ID
    (  # the format before IDs were sealed
        1,
        st.tuples(
            st.sampled_from(["User", "Event", "FriendRequest", "ExportJob", "Node", ""]),
            st.integers(min_value=-1, max_value=2**70),
        ).map(lambda id_: b64(f"{id_[0]}:{id_[1]}")),
    ),
    (1, st.text(max_size=40)),
)
CURSORS = st.one_of(
    st.integers(min_value=0, max_value=30).map(offset_to_cursor),
    st.integers(min_value=-1, max_value=10**13).map(lambda offset: b64(f"offset:{offset}")),
    st.tuples(st.integers(min_value=0, max_value=2**64), st.integers(min_value=0, max_value=MAX_PK)).map(
        lambda position: base64.urlsafe_b64encode(
            f"sync:v2:{position[0]}:{global_id('Event', position[1])}".encode()
        ).decode()
    ),
    st.tuples(st.integers(min_value=0, max_value=2**64), st.integers(min_value=0, max_value=2**64)).map(
        lambda position: base64.urlsafe_b64encode(f"sync:v1:{position[0]}:{position[1]}".encode()).decode()
    ),  # the format before IDs were sealed
)
STRINGS = weighted(
    (2, uniform((*USERNAMES, "nobody"))),
    (1, uniform((PASSWORD, "a-Long-pass-42", "password", "1234567890", "Lunch", ""))),
    (1, uniform(("UTC", "Europe/Paris", "Asia/Tokyo", "America/St_Johns", "Not/AZone", "utc", "../etc"))),
    (2, CURSORS),
    (2, st.text(max_size=30)),
    (1, st.text(min_size=195, max_size=205, alphabet="ab é")),  # around the 200-character title limit
)
# Around the seeded day mostly, and anywhere from year 1 to 9999.
DAYS = weighted((3, st.dates(min_value=dt.date(2026, 11, 20), max_value=dt.date(2026, 11, 26))), (1, st.dates()))
DATES = weighted(
    (4, DAYS.map(dt.date.isoformat)),
    (1, st.sampled_from(["2026-02-30", "2026-11-23T00:00:00Z", "23/11/2026", "", "9999-12-31", "0001-01-01"])),
)
OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: dt.timedelta(minutes=minutes)
)
DATETIMES = weighted(
    (
        4,
        st.builds(
            lambda day, time, offset: dt.datetime.combine(day, time, dt.timezone(offset)).isoformat(),
            DAYS,
            st.times(),
            OFFSETS,
        ),
    ),
    (1, st.builds(lambda day, time: dt.datetime.combine(day, time).isoformat(), DAYS, st.times())),  # naive
    (1, st.sampled_from(["2026-11-23T25:00:00Z", "2026-11-23", "now", "", "0001-01-01T00:00:00+14:00"])),
)
INTS = weighted(
    (3, st.integers(min_value=-2, max_value=120)),  # page sizes around their limits
    (1, st.integers(min_value=-(2**31), max_value=2**31 - 1)),
)

schemathesis.graphql.scalar("ID", IDS.map(nodes.String))
schemathesis.graphql.scalar("String", STRINGS.map(nodes.String))
schemathesis.graphql.scalar("Date", DATES.map(nodes.String))
schemathesis.graphql.scalar("DateTime", DATETIMES.map(nodes.String))
schemathesis.graphql.scalar("Int", INTS.map(nodes.Int))


# Where an argument or input field says what it wants, a positive case gets, three times in four, a
# value that means something to the seeded world: an event of power's to update, a friend to remove,
# the right password, a cursor that exists. Keyed by (root field or None for any, argument name).
Row = str  # a key of ROWS, turned into that row's ID when drawn
MEANINGFUL_ROWS: dict[tuple[str | None, str], tuple[Row, ...]] = {
    ("updateEvent", "id"): EVENTS[:5],  # power's three, and two of anna's he may see but not change
    ("deleteEvent", "id"): EVENTS[:5],
    ("exportJob", "id"): EXPORTS,
    ("node", "id"): ROWS,
    (None, "eventId"): EVENTS,
    (None, "requestId"): REQUESTS,
    (None, "userId"): ("user.anna", "user.ben", "user.cleo", "user.zed", "user.power", "user.dora", "user.eve"),
}
MEANINGFUL_VALUES: dict[tuple[str | None, str], tuple[Any, ...]] = {
    ("signup", "username"): ("newcomer", "zoe.b", "power", "", "x" * 151),
    ("sendFriendRequest", "username"): ("eve", "zed", "dora", "cleo", "power", "nobody"),
    (None, "username"): (*USERNAMES, "nobody"),
    (None, "title"): ("Lunch", "Run \U0001f3c3", "x" * 200, "", "x" * 201),
    (None, "startsAt"): ("2026-11-23T10:00:00+01:00", "2026-11-23T10:00:00Z", "2026-11-24T09:00:00-05:00"),
    (None, "endsAt"): ("2026-11-23T12:00:00+01:00", "2026-11-24T23:00:00Z", "2026-11-23T09:00:00Z"),
    (None, "password"): (PASSWORD, PASSWORD, "a-Long-pass-42", "short"),
    (None, "timezone"): ("UTC", "Europe/Paris", "America/St_Johns", "Not/AZone"),
    (None, "after"): (None, offset_to_cursor(0), offset_to_cursor(1), offset_to_cursor(99)),
    (None, "since"): (None, Position.start().to_cursor(), Position(1, 0).to_cursor()),
    (None, "first"): (None, 0, 1, 2, 20, 100, 101, -1),
}


class MeaningfulValues(Visitor):
    """Gives the arguments and input fields named in MEANINGFUL_ROWS and MEANINGFUL_VALUES one of
    their values, three times in four, each choice drawn by hypothesis."""

    def __init__(self, root_field: str, draw: Callable) -> None:
        super().__init__()
        self.root_field = root_field
        self.draw = draw

    def enter_argument(self, node: ArgumentNode, *_):
        return self.replace(node)

    def enter_object_field(self, node: ObjectFieldNode, *_):
        return self.replace(node)

    def replace(self, node: ArgumentNode | ObjectFieldNode):
        name = node.name.value
        rows = MEANINGFUL_ROWS.get((self.root_field, name)) or MEANINGFUL_ROWS.get((None, name))
        values = MEANINGFUL_VALUES.get((self.root_field, name)) or MEANINGFUL_VALUES.get((None, name))
        generated = isinstance(node.value, StringValueNode | IntValueNode | NullValueNode)
        if not (rows or values) or not generated or self.draw(st.integers(min_value=0, max_value=3)) == 3:
            return None
        value = current.ids[self.draw(uniform(rows))] if rows else self.draw(uniform(values))
        return type(node)(name=node.name, value=literal(value))


def literal(value: Any) -> StringValueNode | IntValueNode | NullValueNode:
    if value is None:
        return NullValueNode()
    if isinstance(value, int):
        return IntValueNode(value=str(value))
    return StringValueNode(value=value)


def with_meaningful_values(query: str, root_field: str, draw: Callable) -> str:
    return print_ast(visit(parse(query), MeaningfulValues(root_field, draw)))


# --- the server, in-process ------------------------------------------------------------------------


class InProcessServer:
    """Django's WSGI application as schemathesis calls it, inside the test's transaction: as with
    Django's test client, a request neither opens nor closes the database connection. Counts the
    requests it serves."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()
        self.requests = 0

    def __call__(self, environ, start_response):
        self.requests += 1
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def server() -> InProcessServer:
    return InProcessServer()


@pytest.fixture(scope="module")
def api(server, django_db_blocker):
    """The schema as the server publishes it: introspected over /graphql, anonymously, with no SQL."""
    with django_db_blocker.block():
        return schemathesis.graphql.from_wsgi("/graphql", server)


@dataclass
class Tally:
    """How the requests of one operation ended."""

    requests: int = 0
    outcomes: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)


@pytest.fixture(scope="module")
def tallies(request) -> Iterator[dict[str, Tally]]:
    """Each operation's Tally; with -v, printed at the end of the module."""
    tallies: dict[str, Tally] = {}
    yield tallies
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or request.config.get_verbosity() < 1 or not tallies:
        return
    lines = [f"schema fuzzing, {EXAMPLES} examples per operation:"]
    for label, tally in tallies.items():
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(tally.outcomes.items()))
        codes = ", ".join(f"{name} {count}" for name, count in tally.codes.most_common())
        lines.append(f"  {label:32} {tally.requests:5} requests: {outcomes}; codes {codes or '-'}")
    lines.append(f"  {'all operations':32} {sum(tally.requests for tally in tallies.values()):5} requests")
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


# --- the checks ------------------------------------------------------------------------------------


def database_state() -> dict[str, str]:
    """A content hash of every calendarapp table."""
    state = {}
    for model in apps.get_app_config("calendarapp").get_models():
        rows = list(model.objects.order_by("pk").values_list())
        state[model._meta.db_table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return state


def checked_body(status: int, content: bytes) -> dict:
    """The JSON body of an answer that keeps the API's promises, else an AssertionError."""
    assert status < 500, f"HTTP {status}: {content[:2000]!r}"
    body = json.loads(content)
    assert isinstance(body, dict) and body.keys() & {"data", "errors"}, body
    assert set(body) <= {"data", "errors", "extensions"}, body
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in CODES, f"an error without one of the API's codes: {error}"
        assert code != "INTERNAL_SERVER_ERROR", f"an unhandled error: {error}"
        assert isinstance(error.get("message"), str) and error["message"], error
    return body


def outcome(status: int, body: dict, field_name: str) -> str:
    """refused (4xx before execution), no-data (data null), failed (the root field null with
    errors), partial (the root field answered, with errors below it) or ok."""
    if body.get("data") is None:
        return "refused" if status >= 400 else "no-data"
    if body.get("errors"):
        return "failed" if body["data"].get(field_name) is None else "partial"
    return "ok"


# --- the fuzzing -----------------------------------------------------------------------------------

VIEWERS = ("power", "power", "power", "anna", "anonymous")


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_answers_with_the_apis_codes_and_a_failed_mutation_writes_nothing(
    label, api, server, tallies, world
):
    global current
    current = seed_world(world)
    tally = tallies.setdefault(label, Tally())
    requests_before = server.requests
    fuzz_operation(api, label, tally, EXAMPLES, isolated=True)
    made = server.requests - requests_before
    assert made >= EXAMPLES // 2, f"{label}: only {made} requests for {EXAMPLES} examples"
    assert tally.outcomes["ok"] > 0, f"{label} never succeeded: {tally}"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_web_process_answers_every_operation_with_the_apis_codes(world, tallies, tmp_path):
    """The same fuzzing over HTTP, against the Procfile's web process (gunicorn, the ASGI bridge,
    production settings) on the test database: FUZZ_LIVE_EXAMPLES examples per operation, one
    after another, each keeping what it wrote."""
    from bench.http_load import django_env, web_server
    from tests.celery_worker import database_url_for_workers

    global current
    current = seed_world(world)
    # Production shows the schema to staff only (GRAPHQL_INTROSPECTION): schemathesis
    # introspects as staff; the cases themselves are sent as the seeded viewers.
    staff = world.user("fuzz_staff")
    staff.is_staff = True
    staff.save()
    introspect_as_staff = {"Authorization": f"Bearer {world.token(staff)}"}
    env = {
        **django_env(database_url_for_workers()),
        "EXPORT_ROOT": str(tmp_path / "exports"),
        "GLOBAL_ID_KEY": django_settings.GLOBAL_ID_KEY,  # the IDs of the rows seeded here are the server's
    }
    live = {label: tallies.setdefault(f"{label} (live)", Tally()) for label in OPERATIONS}
    with web_server(env, tmp_path / "web.log") as (url, _master):
        api = schemathesis.graphql.from_url(url, headers=introspect_as_staff)
        for label, tally in live.items():
            fuzz_operation(api, label, tally, LIVE_EXAMPLES, isolated=False)
    log = (tmp_path / "web.log").read_text()
    few = {label: tally.requests for label, tally in live.items() if tally.requests < LIVE_EXAMPLES // 2}
    assert not few, f"too few requests for {LIVE_EXAMPLES} examples: {few}"
    assert "Traceback" not in log and '"status":500' not in log.replace(" ", ""), log[-3000:]


def token_for(viewer: str, field_name: str) -> str | None:
    """The viewer's token (None: anonymous). `logout` revokes the token it is sent with: it gets
    a token of its own each time, so that it always has one to revoke and the standing ones live."""
    if viewer not in current.tokens:
        return None
    if field_name == "logout":
        return AuthToken.issue(User.objects.get(username=viewer))
    return current.tokens[viewer]


def reissue_revoked_tokens() -> None:
    """`logout(allDevices: true)` revokes the standing tokens too: against a live server, whose
    writes are kept, the next operations get new ones."""
    for name, token in current.tokens.items():
        if AuthToken.objects.filter(key_hash=hash_token(token), revoked_at__isnull=True).exists():
            continue
        current.tokens[name] = AuthToken.issue(User.objects.get(username=name))


def fuzz_operation(api, label: str, tally: Tally, examples: int, isolated: bool) -> None:
    """Send `examples` cases of one operation and check each answer (see the module's
    docstring). `isolated`: each example in a savepoint rolled back afterwards (the server is
    in-process); else they run one after another against a live server, keeping their writes."""
    operation = api.find_operation_by_label(label)
    assert operation is not None, label
    root, _, field_name = label.partition(".")
    cases = weighted(
        (3, operation.as_strategy(generation_mode=GenerationMode.POSITIVE, feedback=NO_FEEDBACK)),
        (1, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, feedback=NO_FEEDBACK)),
    )

    def fuzz(case, viewer, data):
        if case.meta.generation.mode is GenerationMode.POSITIVE:
            case.body = with_meaningful_values(case.body, field_name, data.draw)
        token = token_for(viewer, field_name)  # committed first: a live server must see it
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with transaction.atomic():
            before = database_state() if root == "Mutation" else None
            response = case.call(headers=headers)
            body = checked_body(response.status_code, response.content)
            ended = outcome(response.status_code, body, field_name)
            tally.requests += 1
            tally.outcomes[ended] += 1
            tally.codes.update(error["extensions"]["code"] for error in body.get("errors") or [])
            # A root mutation field runs with its payload in one transaction, rolled back on any
            # error (schema/graphql_core_path.py), even one below a payload that is answered ("partial").
            if before is not None and body.get("errors"):
                assert database_state() == before, f"a failed {field_name} changed the database: {body}"
            elif before is not None:  # the snapshot sees writes: a mutation that succeeded made some
                assert database_state() != before, f"{field_name} succeeded but wrote nothing: {body}"
            transaction.set_rollback(isolated)
        if field_name == "logout" and not isolated:
            reissue_revoked_tokens()

    # In rounds of at most ROUND examples, each its own hypothesis run with its own seed:
    # hypothesis' engine grows by megabytes per example after a few hundred of them.
    for number, start in enumerate(range(0, examples, ROUND)):
        run = given(case=cases, viewer=st.sampled_from(VIEWERS), data=st.data())(fuzz)
        run = settings(
            max_examples=min(ROUND, examples - start),
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )(run)
        seed(SEED * 1_000_000 + number)(run)()
