"""Differential tests: the compiled plans (GRAPHQL_COMPILED_PLANS=True, issue 12) answer every
request exactly as graphql-core's path (GRAPHQL_COMPILED_PLANS=False, the reference) does:
the same HTTP status and the same body byte for byte, data and errors alike (messages,
paths, locations, codes, their order). tests/differential.py is the harness: how both paths
get the same world, how answers are compared, what a difference report says.

Against the worlds of tests/differential_world.py (seeded once for the module, each test in
a savepoint rolled back), as viewers who are anonymous, the user themself, a friend, a friend
of a friend, a stranger and a user with nothing:

1. every operation file of tests/operations with several sets of variables (74 sets, each as
   all six viewers; mutations each in a savepoint rolled back, both paths from the same
   state), and each file's variable sets again in one batch: 463 requests a path;
2. generated operations (tests/differential_queries.py: hypothesis-graphql's queries, and one
   in five a mutation, dressed with variables, aliases, fragments, @include/@skip), each with
   its variants (flags both ways, variables drawn again), sent one by one or as one batch, a
   quarter of them with an injected loader fault;
3. injected faults: every loader's batch raising, failing one key, or answering null for a
   column the schema says is non-null (and for nullable ones), each on up to four of the
   requests that reach that loader (55 faults); and 31 requests with faults at the root
   (anonymous viewers, an invalid token, bad arguments and variables, refused documents,
   several fields failing in one operation);
4. self-checks: the comparison catches a wrong answer (a null without an error, a dropped
   or reordered error, a DateTime written otherwise, keys reordered, a changed status, the
   same JSON in other bytes, a serializer or a fault on one side only) and says where.

The generated operations are the long part: DIFFERENTIAL_EXAMPLES documents (default 300,
about 650 requests a path; the whole module took 72 s on SQLite and 71 s on PostgreSQL on
the project's 2-core machine, shared with other jobs: 45 s and 40 s of CPU), from a fixed
seed (DIFFERENTIAL_SEED, 0), so every run sends the same requests. A failing generated
example is reported as drawn, not shrunk (DIFFERENTIAL_SHRINK=1 shrinks it, which can take
minutes). A longer run, with a summary of what the generated requests met (-v):

    DIFFERENTIAL_EXAMPLES=5000 .venv/bin/python -m pytest tests/test_differential.py -v
    DIFFERENTIAL_EXAMPLES=2000 DIFFERENTIAL_SEED=7 .venv/bin/python -m pytest tests/test_differential.py -v -k generated
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, OperationalError, transaction
from django.test import override_settings
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLScalarType,
    InlineFragmentNode,
    OperationDefinitionNode,
    parse,
)
from hypothesis import HealthCheck, Phase, given, seed, settings

from schema.errors import Forbidden
from schema.plans.compiler import forget_plans
from schema.schema import schema as graphene_schema
from tests.differential import (
    ANONYMOUS,
    Differ,
    DifferentAnswers,
    Exchange,
    Request,
    Viewer,
    as_json,
    first_difference,
)
from tests.differential_faults import FailingKey, Fault, NullColumn, RaisingBatch, loader_class, with_null
from tests.differential_queries import generated_operations, uniform
from tests.differential_world import (
    DAY,
    MISSING_IDS,
    NEW_YORK_FALL_BACK,
    PAGE_CURSORS,
    PARIS_SPRING_FORWARD,
    PASSWORD,
    Town,
    seed_town,
)

EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "300"))
SEED = int(os.environ.get("DIFFERENTIAL_SEED", "0"))
# Shrinking a failing generated query to a smaller one can take hypothesis minutes; the report
# already shows the whole query, so it is opt-in.
SHRINK = os.environ.get("DIFFERENTIAL_SHRINK", "") not in ("", "0")
ROUND = 100  # examples per hypothesis run: its engine grows by megabytes per example after a few hundred
OPERATIONS_DIR = Path(__file__).parent / "operations"
SCHEMA = graphene_schema.graphql_schema


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker) -> Iterator[Town]:
    """The worlds, seeded once for the module in a transaction rolled back at its end; each
    test runs in a savepoint inside it (pytest-django's `db`)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed_town()
        transaction.set_rollback(True)


@pytest.fixture
def differ(town, db) -> Differ:
    return Differ()


def viewers(town: Town) -> dict[str, Viewer]:
    """Everyone a request is sent as: vera herself, ann her friend, fiona a friend of her
    friends, sam a stranger who asked to be her friend, quinn who has nothing, and no one."""
    return {
        "vera (self)": Viewer("vera (self)", town.tokens["vera"]),
        "ann (vera's friend)": Viewer("ann (vera's friend)", town.tokens["ann"]),
        "fiona (a friend of vera's friends)": Viewer("fiona (a friend of vera's friends)", town.tokens["fiona"]),
        "sam (a stranger)": Viewer("sam (a stranger)", town.tokens["sam"]),
        "quinn (no friends, no events)": Viewer("quinn (no friends, no events)", town.tokens["quinn"]),
        "anonymous": ANONYMOUS,
    }


# --- every operation file --------------------------------------------------------------------


def operation_variables(town: Town) -> dict[str, list[dict]]:
    """Each operation file's sets of variables: the app's usual ones, then edges (other days,
    other targets, cursors past the end, IDs of other types, garbage)."""
    ids, day = town.ids, DAY.isoformat()
    event_input = {"title": "Lunch", "startsAt": "2026-11-23T12:00:00+01:00", "endsAt": "2026-11-23T13:00:00+01:00"}
    return {
        "home_screen": [{"date": day}, {"date": PARIS_SPRING_FORWARD.isoformat()}, {"date": "2026-11-24"}],
        "friends_feed": [
            {"date": day},
            {"date": day, "after": PAGE_CURSORS["after:2"]},
            {"date": day, "after": PAGE_CURSORS["after:past-end"]},
            {"date": NEW_YORK_FALL_BACK.isoformat()},
            {"date": day, "after": PAGE_CURSORS["after:garbage"]},
        ],
        "home_screen_filtered": [
            {"date": day, "search": "busy", "visibility": ["PUBLIC", "FRIENDS"]},
            {"date": day, "search": " BUSY 1", "visibility": None},
            {"date": day, "search": None, "visibility": ["PRIVATE"]},  # a friend's never show
            {"date": day, "search": "caf\u00e9", "visibility": ["FRIENDS", "PUBLIC", "FRIENDS"]},
            {"date": day, "search": "x" * 151},  # too long: BAD_USER_INPUT
            {"date": day, "visibility": []},  # empty: BAD_USER_INPUT
        ],
        "friends_feed_search": [
            {"date": day, "search": "busy"},
            {"date": day, "search": "ANN", "after": PAGE_CURSORS["after:2"]},
            {"date": day, "search": "   "},
            {"date": day, "search": "Z\u00e8bre"},
            {"date": day, "search": "x" * 151},
        ],
        "friend_list": [
            {"search": None, "date": day},
            {"search": "an", "date": day},
            {"search": "  ", "date": day},
            {"search": "É", "date": "2026-11-22"},
        ],
        "friend_day": [
            {"username": "ann", "date": day},
            {"username": "SAM", "date": day},
            {"username": "vera", "date": day},
            {"username": "fiona", "date": "2026-11-24"},
            {"username": "nobody", "date": day},
        ],
        "event_detail": [
            {"id": ids["event:sam:PUBLIC"]},  # 22 attendees: more than a page
            {"id": ids["event:ann:FRIENDS"]},
            {"id": ids["event:vera:PRIVATE"]},
            {"id": ids["event:eli:awkward"]},
            {"id": ids["user:ann"]},  # another type: only `id`
            {"id": MISSING_IDS["missing:event"]()},
            {"id": MISSING_IDS["garbage:text"]()},
        ],
        "friend_requests": [{}],
        "export_job": [
            {"id": ids["job:vera:DONE"]},
            {"id": ids["job:vera:FAILED"]},
            {"id": ids["job:vera:PENDING"]},
            {"id": ids["job:sam:DONE"]},
            {"id": ids["event:vera:PUBLIC"]},
            {"id": MISSING_IDS["garbage:legacy"]()},
        ],
        "sync": [
            {"since": None, "first": 100},
            {"since": None, "first": 3},
            {"since": town.cursors["partway"], "first": 5},
            {"since": town.cursors["end"]},
            {"since": "garbage", "first": 5},
            {"since": None, "first": 0},
        ],
        "create_event": [
            {"input": {**event_input, "clientMutationId": "m1"}},
            {"input": {**event_input, "visibility": "PUBLIC", "allDay": True, "location": "Café «Zèbre»"}},
            {"input": {**event_input, "endsAt": "2026-11-23T11:00:00+01:00"}},  # ends before it starts
            {"input": {**event_input, "title": ""}},
        ],
        "update_event": [
            {"input": {"id": ids["event:vera:FRIENDS"], "title": "Renamed", "visibility": "PRIVATE"}},
            {"input": {"id": ids["event:ann:FRIENDS"], "title": "Not mine"}},
            {"input": {"id": ids["event:sam:PRIVATE"], "title": "Unseen"}},
        ],
        "delete_event": [{"input": {"id": ids["event:vera:PUBLIC"]}}, {"input": {"id": ids["event:ann:PUBLIC"]}}],
        "rsvp": [
            {"input": {"eventId": ids["event:sam:PUBLIC"], "status": "GOING"}},
            {"input": {"eventId": ids["event:ann:FRIENDS"], "status": None}},
            {"input": {"eventId": ids["event:sam:PRIVATE"], "status": "MAYBE"}},
        ],
        "send_friend_request": [
            {"input": {"username": "quinn"}},
            {"input": {"username": "vera"}},
            {"input": {"username": "zoe"}},
        ],
        "respond_to_friend_request": [
            {"input": {"requestId": ids["request:sam->vera"], "accept": True}},
            {"input": {"requestId": ids["request:fiona->vera"], "accept": False}},
            {"input": {"requestId": ids["request:gus->vera"], "accept": True}},  # answered already
        ],
        "remove_friend": [{"input": {"userId": ids["user:ann"]}}, {"input": {"userId": ids["user:sam"]}}],
        "request_events_export": [
            {"input": {"from": day, "to": "2026-11-29", "clientMutationId": "e1"}},
            {"input": {"from": "2026-11-29", "to": day}},
        ],
        "login": [
            {"input": {"username": "vera", "password": PASSWORD}},
            {"input": {"username": "VERA", "password": "wrong password"}},
        ],
        "signup": [
            {
                "input": {
                    "username": "newcomer",
                    "password": "a-long-pass-phrase",
                    "displayName": "New",
                    "timezone": "UTC",
                }
            },
            {
                "input": {
                    "username": "Vera",
                    "password": "a-long-pass-phrase",
                    "displayName": "V",
                    "timezone": "Mars/Base",
                }
            },
        ],
    }


def operation_names() -> list[str]:
    return sorted(path.stem for path in OPERATIONS_DIR.glob("*.graphql"))


def operation_requests(town: Town, operation: str) -> list[Request]:
    """The operation file with each of its variable sets, as every viewer; then all its
    variable sets in one batch, as vera."""
    query = (OPERATIONS_DIR / f"{operation}.graphql").read_text()
    variable_sets = operation_variables(town)[operation]
    requests = [
        Request.operation(f"{operation}.graphql {json.dumps(variables)}", query, variables, viewer)
        for variables in variable_sets
        for viewer in viewers(town).values()
    ]
    if len(variable_sets) > 1:
        batch = [{"query": query, "variables": variables} for variables in variable_sets]
        vera = viewers(town)["vera (self)"]
        requests.append(Request(f"{operation}.graphql, every variable set", batch, vera, writes=requests[0].writes))
    return requests


def test_every_operation_file_has_variables(town, db):
    assert set(operation_names()) == set(operation_variables(town))


@pytest.mark.parametrize("operation", operation_names())
def test_operation_file_answers_the_same_on_both_paths(operation, town, differ):
    requests = operation_requests(town, operation)
    pairs = differ.check(requests)
    statuses = Counter(reference.status for reference, _ in pairs)
    assert statuses[200] > 0, f"{operation}: never answered: {statuses}"


# --- generated operations -------------------------------------------------------------------------

VIEWER_WEIGHTS = (
    ("vera (self)", 4),
    ("ann (vera's friend)", 2),
    ("fiona (a friend of vera's friends)", 1),
    ("sam (a stranger)", 2),
    ("quinn (no friends, no events)", 1),
    ("anonymous", 1),
)


def fault_choices() -> list:
    """The faults a generated request may run with: (factory, weight)."""
    return [
        lambda: RaisingBatch("EventsByOwnerIdLoader", lambda: RuntimeError("injected")),
        lambda: RaisingBatch("UserByIdLoader", lambda: OperationalError("database is locked")),
        lambda: RaisingBatch("IsFriendByUserIdLoader", lambda: DatabaseError("injected")),
        lambda: FailingKey("AttendeeCountByEventIdLoader", lambda: RuntimeError("injected")),
        lambda: FailingKey("FriendsByUserIdLoader", lambda: Forbidden("Injected refusal.")),
        lambda: NullColumn("EventsByOwnerIdLoader", "title"),
        lambda: NullColumn("FriendsEventsLoader", "starts_at"),
        lambda: NullColumn("FriendsByUserIdLoader", "display_name"),
        lambda: NullColumn("VisibleEventByIdLoader", "visibility"),
        lambda: NullColumn("UserByIdLoader", "username"),
        lambda: NullColumn("AttendeeCountByEventIdLoader", None),
        lambda: NullColumn("ViewerRsvpByEventIdLoader", None),
    ]


@dataclass
class Tally:
    """What the generated requests met, for the summary (-v) and the test's own checks."""

    documents: int = 0
    requests: int = 0
    operations: int = 0
    outcomes: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    roots: Counter = field(default_factory=Counter)

    def add(self, request: Request, reference: Exchange, fault: Fault | None) -> None:
        self.requests += 1
        payloads = request.payload if isinstance(request.payload, list) else [request.payload]
        self.roots.update(root_fields(payloads[0]["query"]))
        bodies = reference.body if isinstance(reference.body, list) else [reference.body]
        for body in bodies:
            self.operations += 1
            data, errors = body.get("data"), body.get("errors") or []
            self.outcomes[
                "refused"
                if data is None and reference.status >= 400
                else "no data"
                if data is None
                else "partial"
                if errors
                else "ok"
            ] += 1
            self.codes.update((error.get("extensions") or {}).get("code") for error in errors)
        if fault is not None:
            self.faults[fault.describe()] += 1

    def lines(self) -> list[str]:
        return [
            f"differential, generated: {self.documents} documents, {self.requests} requests, "
            f"{self.operations} operations on each path",
            "  outcomes: " + ", ".join(f"{name} {count}" for name, count in self.outcomes.most_common()),
            "  codes: " + (", ".join(f"{name} {count}" for name, count in self.codes.most_common()) or "-"),
            "  root fields: " + ", ".join(f"{name} {count}" for name, count in self.roots.most_common()),
            *(f"  with {count:3}x: {fault}" for fault, count in self.faults.most_common()),
        ]


def root_fields(query: str) -> set[str]:
    """The root fields a document selects, through fragments."""
    document = parse(query)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    found, pending = set(), [d.selection_set for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                found.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            else:
                pending.append(fragments[selection.name.value].selection_set)
    return found - {"__typename"}


@pytest.fixture(scope="module")
def tally(request) -> Iterator[Tally]:
    """The generated requests' Tally; with -v, printed at the end of the module."""
    found = Tally()
    yield found
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or request.config.get_verbosity() < 1 or not found.requests:
        return
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        reporter.write_line("")
        for line in found.lines():
            reporter.write_line(line)


def test_generated_operations_answer_the_same_on_both_paths(town, differ, tally):
    people, faults = viewers(town), fault_choices()
    weighted_viewers = [label for label, weight in VIEWER_WEIGHTS for _ in range(weight)]
    # Four queries to a mutation (each variant in a savepoint rolled back).
    queries, mutations = generated_operations(SCHEMA, town), generated_operations(SCHEMA, town, mutations=True)
    operations = uniform([queries, queries, queries, queries, mutations]).flatmap(lambda chosen: chosen)

    def check(operation, viewer_label: str, batched: bool, fault_index: int | None) -> None:
        viewer, payloads = people[viewer_label], operation.payloads()
        what = "mutation" if operation.mutation else "query"
        if batched and len(payloads) > 1:
            label = f"a generated {what}, its {len(payloads)} variants in one batch"
            requests = [Request(label, payloads, viewer, writes=operation.mutation)]
        else:
            requests = [
                Request(f"a generated {what}, variant {number} of {len(payloads)}", payload, viewer, operation.mutation)
                for number, payload in enumerate(payloads, start=1)
            ]
        fault = faults[fault_index]() if fault_index is not None else None
        pairs = differ.check(requests, around=fault.installed if fault else None, note=fault.note if fault else "")
        tally.documents += 1
        for request, (reference, _) in zip(requests, pairs, strict=True):
            tally.add(request, reference, fault)

    # In rounds of at most ROUND examples, each its own hypothesis run with its own seed.
    for number, start in enumerate(range(0, EXAMPLES, ROUND)):
        run = given(
            operation=operations,
            viewer_label=uniform(weighted_viewers),
            batched=uniform([True, False, False, False]),
            fault_index=uniform([None, None, None, *range(len(faults))]),
        )(check)
        run = settings(
            max_examples=min(ROUND, EXAMPLES - start),
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])],
        )(run)
        seed(SEED * 1_000_000 + number)(run)()
    # The generated requests mostly ran (not refused before execution), and found data.
    assert tally.outcomes["ok"] + tally.outcomes["partial"] >= tally.operations // 2, "\n".join(tally.lines())


# --- injected faults ---------------------------------------------------------------------------

LOADERS = (
    "UserByIdLoader",
    "IsFriendByUserIdLoader",
    "FriendCountByUserIdLoader",
    "MutualFriendCountByUserIdLoader",
    "FriendsByUserIdLoader",
    "VisibleEventByIdLoader",
    "EventsByOwnerIdLoader",
    "EventCountByOwnerIdLoader",
    "FriendsEventsLoader",
    "AttendeeCountByEventIdLoader",
    "AttendeesByEventIdLoader",
    "ViewerRsvpByEventIdLoader",
    "VisibleFriendRequestByIdLoader",
    "IncomingFriendRequestsLoader",
    "VisibleExportJobByIdLoader",
    "ChangeSetByPositionLoader",
)
NODE = "query($id: ID!) { node(id: $id) { id ... on FriendRequest { createdAt from { id displayName } to { id } } } }"


def probe_requests(town: Town) -> list[Request]:
    """Requests that together reach every loader: each operation file as vera with its first
    variables (mutations too), event details of an event whose owner no page has loaded, and
    a friend request by its ID."""
    vera = viewers(town)["vera (self)"]
    probes = []
    for operation, variable_sets in operation_variables(town).items():
        query = (OPERATIONS_DIR / f"{operation}.graphql").read_text()
        probes.append(
            Request.operation(f"{operation}.graphql {json.dumps(variable_sets[0])}", query, variable_sets[0], vera)
        )
    detail = (OPERATIONS_DIR / "event_detail.graphql").read_text()
    probes.append(
        Request.operation("event_detail.graphql (ann's event)", detail, {"id": town.ids["event:ann:FRIENDS"]}, vera)
    )
    probes.append(Request.operation("node(id:) of a friend request", NODE, {"id": town.ids["request:sam->vera"]}, vera))
    return probes


class Spy(Fault):
    """Changes nothing: counts the batches."""

    def describe(self) -> str:
        return f"a spy on {self.loader}"

    def batch(self, original, loader, keys):
        self.hit()
        return original(loader, keys)


@pytest.fixture(scope="module")
def reaching(town, django_db_blocker) -> dict[str, list[Request]]:
    """For each loader, the probe requests whose reference run calls its batch_load."""
    found: dict[str, list[Request]] = {name: [] for name in LOADERS}
    with django_db_blocker.unblock():
        for probe in probe_requests(town):
            spies = [Spy(name) for name in LOADERS]

            @contextmanager
            def spying(side, spies=spies):
                with ExitStack() as stack:
                    for spy in spies:
                        stack.enter_context(spy.installed(side))
                    yield

            Differ().run([probe], "reference", around=spying)
            for spy in spies:
                if spy.hits["reference"]:
                    found[spy.loader].append(probe)
    return found


ERRORS = {
    "RuntimeError": lambda: RuntimeError("injected"),
    "DatabaseError": lambda: DatabaseError("injected"),
    "OperationalError (database unavailable)": lambda: OperationalError("database is locked"),
    "Forbidden": lambda: Forbidden("Injected refusal."),
    "ObjectDoesNotExist (NOT_FOUND)": lambda: ObjectDoesNotExist("injected"),
}
# Each loader raising one kind of error, and failing one key with another, the kinds in turn.
RAISING = [(loader, list(ERRORS)[index % len(ERRORS)]) for index, loader in enumerate(LOADERS)]
FAILING_KEY = [(loader, list(ERRORS)[(index + 2) % len(ERRORS)]) for index, loader in enumerate(LOADERS)]
# (loader, attribute): a column the schema says is non-null read as null, or a nullable one
# (avatar_url, viewerRsvp: no error at all); None: the loader's value itself.
NULLS = [
    ("UserByIdLoader", "display_name"),
    ("UserByIdLoader", "avatar_url"),
    ("IsFriendByUserIdLoader", None),
    ("FriendCountByUserIdLoader", None),
    ("MutualFriendCountByUserIdLoader", None),
    ("FriendsByUserIdLoader", "display_name"),
    ("FriendsByUserIdLoader", "username"),
    ("VisibleEventByIdLoader", "title"),
    ("VisibleEventByIdLoader", "ends_at"),
    ("EventsByOwnerIdLoader", "title"),
    ("EventsByOwnerIdLoader", "all_day"),
    ("EventCountByOwnerIdLoader", None),
    ("FriendsEventsLoader", "starts_at"),
    ("FriendsEventsLoader", "visibility"),
    ("AttendeeCountByEventIdLoader", None),
    ("AttendeesByEventIdLoader", "display_name"),
    ("ViewerRsvpByEventIdLoader", None),
    ("VisibleFriendRequestByIdLoader", "created_at"),
    ("IncomingFriendRequestsLoader", "created_at"),
    ("VisibleExportJobByIdLoader", "status"),
    ("VisibleExportJobByIdLoader", "date_from"),
    ("ChangeSetByPositionLoader", "title"),
    ("ChangeSetByPositionLoader", "owner_id"),
]
MAX_PROBES_PER_FAULT = 4


def run_fault(differ: Differ, reaching: dict[str, list[Request]], fault: Fault) -> None:
    requests = reaching[fault.loader][:MAX_PROBES_PER_FAULT]
    assert requests, f"no probe request reaches {fault.loader}: add one to probe_requests"
    differ.check(requests, around=fault.installed, note=fault.note)
    assert fault.hits["reference"] > 0, f"{fault.describe()} never fired on the reference path"


def test_every_loader_is_reached_by_a_probe_and_exists(reaching):
    for name in LOADERS:
        loader_class(name)  # a renamed loader fails here, not silently
    assert {name for name, requests in reaching.items() if not requests} == set()


@pytest.mark.parametrize(("loader", "error"), RAISING, ids=[f"{loader}-{error}" for loader, error in RAISING])
def test_a_loader_batch_that_raises_answers_the_same_on_both_paths(loader, error, differ, reaching):
    run_fault(differ, reaching, RaisingBatch(loader, ERRORS[error]))


@pytest.mark.parametrize(("loader", "error"), FAILING_KEY, ids=[f"{loader}-{error}" for loader, error in FAILING_KEY])
def test_a_loader_that_fails_one_key_answers_the_same_on_both_paths(loader, error, differ, reaching):
    run_fault(differ, reaching, FailingKey(loader, ERRORS[error]))


@pytest.mark.parametrize(
    ("loader", "attribute"), NULLS, ids=[f"{loader}-{attribute or 'value'}" for loader, attribute in NULLS]
)
def test_a_null_read_from_a_column_answers_the_same_on_both_paths(loader, attribute, differ, reaching):
    run_fault(differ, reaching, NullColumn(loader, attribute))


def root_fault_requests(town: Town) -> list[Request]:
    """Faults at the root: no viewer where one is needed, an invalid token, arguments out of
    range or malformed, variables that do not fit, documents refused before they run, and
    several root fields failing in one operation (their errors' order)."""
    people = viewers(town)
    vera, sam, anonymous = people["vera (self)"], people["sam (a stranger)"], ANONYMOUS
    invalid = Viewer("an invalid token", "not-a-token-of-ours")
    day = DAY.isoformat()
    feed = (
        "query($d: Date!, $n: Int, $a: String) "
        "{ friendsEvents(date: $d, first: $n, after: $a) { totalCount edges { node { id title } } } }"
    )
    cases = [
        ("anonymous home screen", (OPERATIONS_DIR / "home_screen.graphql").read_text(), {"date": day}, anonymous),
        (
            "an invalid token's home screen",
            (OPERATIONS_DIR / "home_screen.graphql").read_text(),
            {"date": day},
            invalid,
        ),
        (
            "anonymous viewer and user",
            '{ viewer { id } user(username: "ann") { id } b: viewer { displayName } }',
            None,
            anonymous,
        ),
        (
            "anonymous node, changes, exportJob",
            f'{{ node(id: "{town.ids["event:ann:PUBLIC"]}") {{ id }} changes {{ cursor }} '
            f'exportJob(id: "{town.ids["job:vera:DONE"]}") {{ id }} }}',
            None,
            anonymous,
        ),
        ("first: 1000", feed, {"d": day, "n": 1000}, vera),
        ("first: -1", feed, {"d": day, "n": -1}, vera),
        ("first: 0", feed, {"d": day, "n": 0}, vera),
        ("a bad after cursor", feed, {"d": day, "a": "garbage"}, vera),
        ("an after cursor past the end", feed, {"d": day, "a": PAGE_CURSORS["after:past-end"]}, vera),
        ("a bad date in a variable", feed, {"d": "2026-02-30"}, vera),
        ("a date of the wrong type", feed, {"d": 20261123}, vera),
        ("a missing required variable", feed, {}, vera),
        ("a bad date literal", '{ friendsEvents(date: "23/11/2026") { totalCount } }', None, vera),
        ("first: 1000 as a literal", f'{{ friendsEvents(date: "{day}", first: 1000) {{ totalCount }} }}', None, vera),
        (
            "date with from",
            f'{{ viewer {{ events(date: "{day}", from: "2026-11-23T00:00:00Z") {{ totalCount }} }} }}',
            None,
            vera,
        ),
        (
            "to before from",
            '{ viewer { events(from: "2026-11-23T10:00:00Z", to: "2026-11-23T09:00:00+00:00") { totalCount } } }',
            None,
            vera,
        ),
        ("a naive DateTime", '{ viewer { events(from: "2026-11-23T10:00:00") { totalCount } } }', None, vera),
        ("changes(first: 501)", "{ changes(first: 501) { cursor } }", None, vera),
        ("exportJob of a malformed ID", '{ exportJob(id: "not an id") { id } }', None, vera),
        (
            "a stranger's friends (FORBIDDEN)",
            '{ user(username: "ann") { id friends { totalCount } friendCount } }',
            None,
            sam,
        ),
        (
            "several root fields failing, in order",
            f'{{ a: viewer {{ friends(first: -1) {{ totalCount }} }} b: exportJob(id: "x") {{ id }} '
            f'c: user(username: "ann") {{ id friends {{ totalCount }} }} v: viewer {{ id }} '
            f'd: viewer {{ events(date: "{day}", after: "x") {{ totalCount }} }} }}',
            None,
            sam,
        ),
        (
            "a non-null root field failing first",
            f'{{ a: friendsEvents(date: "{day}", first: -1) {{ totalCount }} v: viewer {{ id }} '
            f'b: friendsEvents(date: "{day}", after: "x") {{ totalCount }} '
            f'c: user(username: "ann") {{ friends {{ totalCount }} }} d: exportJob(id: "x") {{ id }} }}',
            None,
            sam,
        ),
        (
            "an error in every item of a list",
            '{ viewer { friends(first: 30) { edges { node { id friends(first: 1, after: "x") { totalCount } } } } } }',
            None,
            vera,
        ),
        (
            "FORBIDDEN below some items of a list and not others",
            f'{{ friendsEvents(date: "{day}") {{ edges {{ node {{ id '
            f"owner {{ username friends(first: 2) {{ totalCount }} }} }} }} }} }}",
            None,
            people["fiona (a friend of vera's friends)"],
        ),
        ("an unknown field", "{ viewer { id shoeSize } }", None, vera),
        ("a syntax error", "{ viewer { id ", None, vera),
        (
            "too deep",
            "{ viewer { friends { edges { node { friends { edges { node "
            "{ friends { edges { node { id } } } } } } } } } } }",
            None,
            vera,
        ),
        ("a mutation field in a query", "{ createEvent { event { id } } }", None, vera),
        ("unknown operation name", "query A { viewer { id } } query B { viewer { id } }", None, vera),
    ]
    requests = [Request.operation(label, query, variables, viewer) for label, query, variables, viewer in cases]
    requests.append(
        Request(
            "operation C of A and B",
            {"query": "query A { viewer { id } } query B { __typename }", "operationName": "C"},
            vera,
        )
    )
    requests.append(
        Request(
            "a batch of a failing and a working operation",
            [
                {"query": feed, "variables": {"d": day, "n": -1}},
                {"query": feed, "variables": {"d": day, "n": 2}},
                {"query": "{ viewer { id"},
            ],
            vera,
        )
    )
    return requests


def test_faults_at_the_root_answer_the_same_on_both_paths(town, differ):
    pairs = differ.check(root_fault_requests(town))
    assert any(reference.status == 400 for reference, _ in pairs)
    assert any(
        reference.status == 200 and reference.body.get("errors")
        for reference, _ in pairs
        if isinstance(reference.body, dict)
    )


# --- the comparison can fail -------------------------------------------------------------------


def altered(exchange: Exchange, change, status: int | None = None) -> Exchange:
    """The exchange with its body changed by `change` (a function of a copy of the body)."""
    body = change(json.loads(json.dumps(exchange.body)))
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return replace(exchange, body=body, content=content, status=status or exchange.status)


def test_first_difference_names_the_first_differing_path_and_kind():
    reference = {"data": {"viewer": {"id": "u1", "friends": [{"n": 1}, {"n": 2}]}}, "errors": [{"message": "a"}]}
    cases = {
        "a value": (
            {"data": {"viewer": {"id": "u2", "friends": [{"n": 1}, {"n": 2}]}}, "errors": [{"message": "a"}]},
            "$.data.viewer.id",
            "values differ",
        ),
        "a null": (
            {"data": {"viewer": {"id": "u1", "friends": [{"n": 1}, {"n": None}]}}, "errors": [{"message": "a"}]},
            "$.data.viewer.friends[1].n",
            "types differ",
        ),
        "true for 1": (
            {"data": {"viewer": {"id": "u1", "friends": [{"n": True}, {"n": 2}]}}, "errors": [{"message": "a"}]},
            "$.data.viewer.friends[0].n",
            "types differ",
        ),
        "a shorter list": (
            {"data": {"viewer": {"id": "u1", "friends": [{"n": 1}]}}, "errors": [{"message": "a"}]},
            "$.data.viewer.friends[1]",
            "lists of 2 and 1 items",
        ),
        "a key less": (
            {"data": {"viewer": {"id": "u1", "friends": [{"n": 1}, {"n": 2}]}}},
            "$.errors",
            "only the reference has this key",
        ),
        "keys reordered": (
            {"errors": [{"message": "a"}], "data": {"viewer": {"id": "u1", "friends": [{"n": 1}, {"n": 2}]}}},
            "$",
            "keys in another order",
        ),
    }
    for name, (compiled, path, kind) in cases.items():
        found = first_difference(reference, compiled)
        assert found is not None and (found.path, found.kind) == (path, kind), (name, found)
    assert first_difference(reference, json.loads(json.dumps(reference))) is None


def _set(body, path, value):
    for key in path[:-1]:
        body = body[key]
    body[path[-1]] = value


def _get(body, path):
    for key in path:
        body = body[key]
    return body


def as_path(path) -> str:
    return "$" + "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)


def self_check_feed(town) -> Request:
    """Vera's friends feed of the day: the request the checker's own tests tamper with."""
    return Request.operation(
        "friends_feed.graphql (self-check)",
        (OPERATIONS_DIR / "friends_feed.graphql").read_text(),
        {"date": DAY.isoformat()},
        viewers(town)["vera (self)"],
    )


def test_a_wrong_compiled_answer_fails_the_check_with_a_readable_report(town, differ):
    feed = self_check_feed(town)
    failing = [r for r in root_fault_requests(town) if r.label == "several root fields failing, in order"]
    ((reference, _),) = differ.check(feed)
    ((failed, _),) = differ.check(failing)
    assert len(failed.body["errors"]) >= 3
    title = ("data", "friendsEvents", "edges", 0, "node", "title")
    utc_moment = next(
        path
        for path in (
            ("data", "friendsEvents", "edges", index, "node", "startsAt")
            for index in range(len(reference.body["data"]["friendsEvents"]["edges"]))
        )
        if _get(reference.body, path).endswith("+00:00")
    )
    tampered = {
        # A plan that reads a non-null column as null and says nothing.
        "a null without an error": (feed, lambda b: _set(b, title, None) or b, as_path(title)),
        # One that serializes a DateTime its own way.
        "a DateTime written with Z": (
            feed,
            lambda b: _set(b, utc_moment, _get(b, utc_moment).replace("+00:00", "Z")) or b,
            as_path(utc_moment),
        ),
        # One that loses an error, or reports them in another order.
        "an error dropped": (
            failing[0],
            lambda b: {**b, "errors": b["errors"][:-1]},
            f"$.errors[{len(failed.body['errors']) - 1}]",
        ),
        "errors reordered": (
            failing[0],
            lambda b: {**b, "errors": [b["errors"][1], b["errors"][0], *b["errors"][2:]]},
            "$.errors[0].message",
        ),
        # One that writes keys in another order than the selection's.
        "keys reordered": (
            feed,
            lambda b: {"data": {"friendsEvents": dict(reversed(list(b["data"]["friendsEvents"].items())))}},
            "$.data.friendsEvents",
        ),
    }
    for name, (request, change, path) in tampered.items():
        with pytest.raises(DifferentAnswers) as raised:
            differ.check(request, tamper=lambda exchange, change=change: altered(exchange, change))
        message, difference = str(raised.value), raised.value.difference
        assert difference.path == path, (name, message)
        # Which request, as whom, where, and both values there.
        assert f"request:   {request.label}" in message and f"viewer:    {request.viewer.label}" in message, message
        assert f"first difference at {path}" in message, message
        for side, value in (("False): ", difference.reference), ("True):  ", difference.compiled)):
            assert f"{side}{as_json(value)[:200]}" in message, (name, message)

    with pytest.raises(DifferentAnswers) as raised:  # another status, the same body
        differ.check(feed, tamper=lambda exchange: altered(exchange, lambda b: b, status=500))
    assert raised.value.difference.path == "HTTP status"
    with pytest.raises(DifferentAnswers) as raised:  # the same JSON in other bytes (ASCII escapes)
        differ.check(
            feed,
            tamper=lambda exchange: replace(
                exchange, content=json.dumps(exchange.body, separators=(",", ":")).encode()
            ),
        )
    assert raised.value.difference.kind == "the same JSON written with other bytes", str(raised.value)


def test_a_serializer_changed_on_the_compiled_side_only_fails_the_check(town, differ):
    """The real server, with the DateTime scalar's serializer swapped on one side."""
    feed = self_check_feed(town)
    datetime_type = SCHEMA.get_type("DateTime")
    assert isinstance(datetime_type, GraphQLScalarType)

    @contextmanager
    def other_serializer(side):
        if side != "compiled":
            yield
            return
        original = datetime_type.serialize
        datetime_type.serialize = lambda value: value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        forget_plans()  # plans keep the serializers they were compiled with
        try:
            yield
        finally:
            datetime_type.serialize = original
            forget_plans()

    with pytest.raises(DifferentAnswers) as raised:
        differ.check(feed, around=other_serializer)
    assert raised.value.difference.path == "$.data.friendsEvents.edges[0].node.startsAt", str(raised.value)


def test_a_fault_on_the_compiled_side_only_fails_the_check(town, differ):
    """A non-null column read as null on the compiled side alone: the reference answers the
    event, the other path nulls it with an error."""
    vera = viewers(town)["vera (self)"]
    request = Request.operation(
        "node(id:) of an event",
        "query($id: ID!) { node(id: $id) { id ... on Event { title } } }",
        {"id": town.ids["event:ann:FRIENDS"]},
        vera,
    )
    fault = NullColumn("VisibleEventByIdLoader", "title")

    @contextmanager
    def compiled_only(side):
        if side == "compiled":
            with fault.installed(side):
                yield
        else:
            yield

    with pytest.raises(DifferentAnswers) as raised:
        differ.check(request, around=compiled_only, note=fault.note)
    assert raised.value.difference.path in ("$.data.node", "$.data.node.title", "$.errors", "$"), str(raised.value)
    # On the compiled side it fires in the plan, then again on graphql-core's path it falls back to.
    assert "it fired 0 times on the reference path and 2 on the compiled path" in str(raised.value)


def test_with_null_nulls_an_attribute_on_every_shape_of_row():
    """Model instances, named rows, dicts, dataclasses, pages of them: each copied, never
    changed in place."""
    from collections import namedtuple

    from calendarapp.models import Event
    from loaders.changes import ChangeSet
    from loaders.pagination import Page, PageRequest

    event = Event(title="T", description="")
    Row = namedtuple("Row", "id title")
    page = Page([event, Row(1, "T")], PageRequest(first=5), 2)
    change_set = ChangeSet("c", False, [event], [])
    for value, read in (
        (event, lambda v: v.title),
        (Row(1, "T"), lambda v: v.title),
        ({"title": "T"}, lambda v: v["title"]),
        (page, lambda v: [edge.node.title for edge in v.edges]),
        (change_set, lambda v: [e.title for e in v.events]),
        ([event, None], lambda v: [v[0].title, v[1]]),
    ):
        count = [0]
        nulled = with_null(value, "title", count)
        assert set(read(nulled) if isinstance(read(nulled), list) else [read(nulled)]) == {None}, value
        assert count[0] >= 1
    assert event.title == "T" and page.edges[0].node.title == "T"
    assert with_null(3, None) is None and with_null((1, 2), "title") == (1, 2)


def test_debug_timings_are_left_out_of_the_comparison(town, differ):
    """With DEBUG on, every answer carries `extensions.debug` (its SQL count and time), which
    the two paths may rightly differ in: the comparison leaves it out, and only it."""
    vera = viewers(town)["vera (self)"]
    request = Request.operation("viewer", "{ viewer { id displayName } }", None, vera)
    with override_settings(DEBUG=True):
        ((reference, compiled),) = differ.check(request)
    assert reference.had_debug and compiled.had_debug
    assert reference.body == {"data": {"viewer": {"id": town.ids["user:vera"], "displayName": "Vera"}}}
