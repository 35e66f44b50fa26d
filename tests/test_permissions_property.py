"""Who sees what (docs/api.md, "Who sees what"), as properties over random worlds.

A world has three to six users (display names that collide, four time zones), mutual
friendships, friend requests in every state, events of every visibility over a few days
around a DST change, and RSVPs. For a random viewer, every path that reaches an event
must answer exactly what tests/permission_model.py allows: the rules of docs/api.md in plain
Python, which imports none of the server's code. The paths: `user { events eventCount }`
of every user and `viewer { events }`, `friendsEvents`, `node` for every ID in the world
(and IDs of one type dressed as another, and malformed ones), `attendees`, `friends`
(FORBIDDEN to strangers), `isFriend` and the friend counts, a full delta sync, and the
CSV export with its job and download. A batch answers as the same operations sent one by
one; a token acts as its own user only, and a deleted user's as no one. A mutation given
an ID of the wrong type, or an object the viewer may not see or change, is refused with
the code docs/api.md names, and changes nothing. After `logout` a token acts as no one on any
path, alone or in a batch, nor do the operations after the logout in its own batch.

Everything goes through the real HTTP endpoint. Each example builds its world (bulk
inserts, but events through the service the mutations use) in a savepoint rolled back at
its end, so it starts from an empty database.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings, strategies as st

from calendarapp import services
from calendarapp.changes import next_change_seq
from calendarapp.ids import TYPE_CODES, global_id, parse_global_id
from calendarapp.models import (
    AuthToken,
    Event,
    ExportJob,
    FriendRequest,
    Friendship,
    Rsvp,
    User,
    export_storage,
    hash_token,
)
from config.celery import app as celery_app
from tests.conftest import GraphQLClient, legacy_id, sealed_id
from tests.permission_model import (
    ACCEPTED,
    BAD_USER_INPUT,
    DECLINED,
    FRIENDS,
    PENDING,
    PRIVATE,
    PUBLIC,
    Happening,
    Model,
    Person,
    Request,
)

# Examples per property. On the project's 2-core machine, shared with other test runs, the
# file took 25 s on SQLite and 21 s on PostgreSQL at a load of 3, 33 s and 40 s at 4 to 5;
# about 15 s of it is this process's CPU, on either database.
WORLD_EXAMPLES = 100
MUTATION_EXAMPLES = 30


def property_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,  # the same examples on every run: CI is deterministic
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


# --- random worlds -----------------------------------------------------------------------------

# Europe/Paris moves to summer time on 2026-03-29 (a 23-hour day); the events cover the
# days around it, and a little before and after.
FIRST_DAY = dt.date(2026, 3, 28)
DAYS = 3
MIDNIGHT = dt.datetime(2026, 3, 28, tzinfo=dt.UTC)
HALF_HOUR = dt.timedelta(minutes=30)
# Few display names, so that orders fall back on ids; lowercase ASCII sorts alike in
# every database collation and in Python.
DISPLAY_NAMES = ("ann", "bob", "cy")
TIMEZONES = ("UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Kolkata")
VISIBILITIES = (PUBLIC, FRIENDS, PRIVATE)
RSVP_STATUSES = ("GOING", "MAYBE", "DECLINED")
PAGE_SIZES = (1, 2, 20)


@dataclass(frozen=True)
class Plan:
    """A world by position: person i, event j, request k; Happening.owner and the
    Request users are positions in `people`, rsvps are keyed (event position, person position)."""

    people: tuple[Person, ...]
    friendships: frozenset[frozenset[int]]
    requests: tuple[Request, ...]
    events: tuple[Happening, ...]
    rsvps: dict[tuple[int, int], str]


@st.composite
def happenings(draw, size: int) -> Happening:
    starts_at = MIDNIGHT + HALF_HOUR * draw(st.integers(-24, DAYS * 48 + 24))
    return Happening(
        owner=draw(st.integers(0, size - 1)),
        visibility=draw(st.sampled_from(VISIBILITIES)),
        starts_at=starts_at,
        ends_at=starts_at + HALF_HOUR * draw(st.integers(0, 72)),
    )


@st.composite
def plans(draw) -> Plan:
    size = draw(st.integers(3, 6))
    people = tuple(
        Person(f"user{i}", draw(st.sampled_from(DISPLAY_NAMES)), draw(st.sampled_from(TIMEZONES))) for i in range(size)
    )
    pairs = [frozenset((a, b)) for a in range(size) for b in range(a + 1, size)]
    friendships = frozenset(pair for pair in pairs if draw(st.booleans()))
    drawn_requests = draw(
        st.lists(
            st.tuples(
                st.integers(0, size - 1),
                st.integers(0, size - 1),
                st.sampled_from((PENDING, PENDING, ACCEPTED, DECLINED)),
            ),
            max_size=6,
            unique_by=lambda request: request[:2],
        )
    )
    # As the mutations leave them: at most one request PENDING between two users, and
    # none between friends; an ACCEPTED one may outlive its friendship.
    requests, pending = [], set()
    for sender, recipient, status in drawn_requests:
        pair = frozenset((sender, recipient))
        if sender == recipient:
            continue
        if status == PENDING and (pair in friendships or pair in pending):
            status = DECLINED
        pending.update([pair] if status == PENDING else [])
        requests.append(Request(sender, recipient, status))
    events = tuple(draw(st.lists(happenings(size), min_size=1, max_size=10)))
    # By anyone, whether or not they see the event now: they may have seen it when they answered.
    rsvps = draw(
        st.dictionaries(
            st.tuples(st.integers(0, len(events) - 1), st.integers(0, size - 1)),
            st.sampled_from(RSVP_STATUSES),
            max_size=12,
        )
    )
    return Plan(people, friendships, tuple(requests), events, rsvps)


@dataclass
class Built:
    """A plan in the database: the model in primary keys, and each user's token."""

    model: Model
    user_pks: list[int]
    event_pks: list[int]
    request_pks: list[int]
    tokens: dict[int, str]


def build(plan: Plan) -> Built:
    """The plan's rows, a bulk insert per table but for events; friendships both ways,
    numbered on the change sequence, as tests/conftest.py's World does."""
    users = User.objects.bulk_create(
        [User(username=p.username, display_name=p.display_name, timezone=p.timezone, password="!") for p in plan.people]
    )
    user_pks = [user.pk for user in users]
    tokens = {pk: f"permission-property-token-{pk}" for pk in user_pks}
    AuthToken.objects.bulk_create([AuthToken(user_id=pk, key_hash=hash_token(token)) for pk, token in tokens.items()])
    seq = next_change_seq()
    Friendship.objects.bulk_create(
        [
            Friendship(user_id=user_pks[a], friend_id=user_pks[b], change_seq=seq)
            for pair in plan.friendships
            for a, b in (sorted(pair), sorted(pair, reverse=True))
        ]
    )
    requests = FriendRequest.objects.bulk_create(
        [
            FriendRequest(from_user_id=user_pks[r.sender], to_user_id=user_pks[r.recipient], status=r.status)
            for r in plan.requests
        ]
    )
    # Events through the service the mutations use: whatever delta sync records of an
    # event (its sequence numbers, whether friends ever saw it) is recorded as in life.
    events = [
        services.create_event(
            users[h.owner], title=f"Event {i}", starts_at=h.starts_at, ends_at=h.ends_at, visibility=h.visibility
        )
        for i, h in enumerate(plan.events)
    ]
    event_pks = [event.pk for event in events]
    Rsvp.objects.bulk_create(
        [
            Rsvp(event_id=event_pks[event], user_id=user_pks[user], status=status)
            for (event, user), status in plan.rsvps.items()
        ]
    )
    model = Model(
        people=dict(zip(user_pks, plan.people, strict=True)),
        friendships={frozenset(user_pks[i] for i in pair) for pair in plan.friendships},
        events={
            pk: Happening(user_pks[h.owner], h.visibility, h.starts_at, h.ends_at, f"Event {i}")
            for i, (pk, h) in enumerate(zip(event_pks, plan.events, strict=True))
        },
        rsvps={(event_pks[event], user_pks[user]): status for (event, user), status in plan.rsvps.items()},
        requests={
            request.pk: Request(user_pks[r.sender], user_pks[r.recipient], r.status)
            for request, r in zip(requests, plan.requests, strict=True)
        },
        tokens={token: pk for pk, token in tokens.items()},
    )
    return Built(model, user_pks, event_pks, [request.pk for request in requests], tokens)


@contextmanager
def rolled_back() -> Iterator[None]:
    """A savepoint undone at its end: the next example starts from an empty database."""
    with transaction.atomic():
        try:
            yield
        finally:
            transaction.set_rollback(True)


@contextmanager
def removed_at_exit() -> Iterator[list[str]]:
    """The names of export files to remove at the end of the example: they live in the
    exports storage, which the rollback does not reach (and other tests look into)."""
    names: list[str] = []
    try:
        yield names
    finally:
        for name in filter(None, names):
            export_storage().delete(name)


# --- talking to the endpoint --------------------------------------------------------------------


def post(gql: GraphQLClient, payload: Any, token: str) -> Any:
    """The body of a POST of one operation or a batch; never a server error."""
    answer = gql.post(payload, token=token)
    assert answer.status == 200, answer.body
    for body in answer.body if isinstance(payload, list) else [answer.body]:
        assert "INTERNAL_SERVER_ERROR" not in codes(body), body
    return answer.body


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


def outcome(body: dict) -> dict:
    """An answer's data, and each error's code and path, sorted (messages are not the contract)."""
    return {
        "data": body.get("data"),
        "errors": sorted((error["extensions"]["code"], error.get("path")) for error in body.get("errors") or []),
    }


def pk_of(node_id: str) -> int:
    return parse_global_id(node_id)[1]


def id_of(type_name: str, pk: int) -> str:
    """The ID of a Node type's object; for a type the API does not have ("Calendar"), a
    string the server could have sealed, with a type code no Node type has."""
    if type_name in TYPE_CODES:
        return global_id(type_name, pk)
    return sealed_id(bytes([1, UNKNOWN_TYPE_CODE]) + pk.to_bytes(8, "big") + bytes(6))


def op(query: str, **variables: Any) -> dict:
    return {"query": query, "variables": variables}


# An event's fields past its id are checked through `node`, where every event of the world is asked for.
EVENTS_FRAGMENT = "fragment Events on EventConnection { totalCount pageInfo { hasNextPage } edges { node { id } } }"
USERS_FRAGMENT = "fragment Users on UserConnection { totalCount pageInfo { hasNextPage } edges { node { username } } }"
FACTS_FRAGMENT = """fragment Facts on User {
  username isFriend friendCount mutualFriendCount
  day: events(date: $date, first: $first) { ...Events }
  dayCount: eventCount(date: $date)
  eventCount
}"""
NODE_FRAGMENT = """fragment Node on Node {
  id __typename
  ... on User { username }
  ... on Event { visibility owner { username } viewerRsvp attendeeCount attendees(first: $first) { ...Users } }
  ... on FriendRequest { from { username } to { username } }
  ... on ExportJob { status }
}"""


def people_operation(model: Model, target: int, date: dt.date, first: int) -> dict:
    """The viewer, their feed, one user by username (`target`) and every user by ID (`u<i>`)."""
    users = list(model.people)
    declared = "".join(f", $u{i}: ID!" for i in range(len(users)))
    fields = " ".join(f"u{i}: node(id: $u{i}) {{ ... on User {{ ...Facts }} }}" for i in range(len(users)))
    query = f"""query People($date: Date!, $first: Int!, $target: String!{declared}) {{
      viewer {{ ...Facts friends(first: $first) {{ ...Users }} }}
      friendsEvents(date: $date, first: $first) {{ ...Events }}
      target: user(username: $target) {{ ...Facts }}
      {fields}
    }} {FACTS_FRAGMENT} {EVENTS_FRAGMENT} {USERS_FRAGMENT}"""
    ids = {f"u{i}": global_id("User", pk) for i, pk in enumerate(users)}
    return op(query, date=str(date), first=first, target=model.people[target].username, **ids)


def friends_operation(model: Model, first: int) -> dict:
    """Every user's friends (`f<i>`): listed to the user and their friends, FORBIDDEN to anyone else."""
    users = list(model.people)
    declared = ", ".join(f"$f{i}: ID!" for i in range(len(users)))
    fields = " ".join(
        f"f{i}: node(id: $f{i}) {{ ... on User {{ friends(first: $first) {{ ...Users }} }} }}"
        for i in range(len(users))
    )
    query = f"query Friends($first: Int!, {declared}) {{ {fields} }} {USERS_FRAGMENT}"
    return op(query, first=first, **{f"f{i}": global_id("User", pk) for i, pk in enumerate(users)})


SYNC = """query Sync($since: String, $first: Int) {
  changes(since: $since, first: $first) { cursor hasMore removedEventIds events { id visibility owner { username } } }
}"""

REQUEST_EXPORT = (
    "mutation($from: Date!, $to: Date!) { requestEventsExport(input: {from: $from, to: $to}) { job { id } } }"
)
EXPORT_JOB = "query Job($id: ID!) { exportJob(id: $id) { id status rowCount downloadUrl } }"
SOMEONE_ELSES_JOB = "query($id: ID!) { viewer { username } exportJob(id: $id) { id } node(id: $id) { id } }"
WHO = "query { viewer { username } }"
FEED = "query($date: Date!) { friendsEvents(date: $date) { totalCount } }"

# At most GRAPHQL_MAX_FIELD_REPEATS `node` fields in one selection.
NODES_PER_OPERATION = 10


def nodes_operation(ids: list[str], first: int) -> dict:
    declared = "".join(f", $n{i}: ID!" for i in range(len(ids)))
    fields = " ".join(f"n{i}: node(id: $n{i}) {{ ...Node }}" for i in range(len(ids)))
    query = f"query Nodes($first: Int!{declared}) {{ {fields} }} {NODE_FRAGMENT} {USERS_FRAGMENT}"
    return op(query, first=first, **{f"n{i}": node_id for i, node_id in enumerate(ids)})


# --- what the model expects, in the API's shapes ------------------------------------------------


def users_page(model: Model, users: list[int], first: int) -> dict:
    return {
        "totalCount": len(users),
        "pageInfo": {"hasNextPage": len(users) > first},
        "edges": [{"node": {"username": model.people[pk].username}} for pk in users[:first]],
    }


def events_page(events: list[int], first: int) -> dict:
    return {
        "totalCount": len(events),
        "pageInfo": {"hasNextPage": len(events) > first},
        "edges": [{"node": {"id": global_id("Event", pk)}} for pk in events[:first]],
    }


def facts(model: Model, viewer: int, user: int, date: dt.date, first: int) -> dict:
    day = model.events_of(viewer, user, model.day(viewer, date))
    return {
        "username": model.people[user].username,
        "isFriend": model.are_friends(viewer, user),
        "friendCount": len(model.friends_of(user)),
        "mutualFriendCount": model.mutual_friend_count(viewer, user),
        "day": events_page(day, first),
        "dayCount": len(day),
        "eventCount": len(model.events_of(viewer, user)),
    }


def expected_people(model: Model, viewer: int, target: int, date: dt.date, first: int) -> dict:
    mine = facts(model, viewer, viewer, date, first)
    mine["friends"] = users_page(model, model.listed_friends(viewer), first)
    feed = model.friends_events(viewer, model.day(viewer, date))
    data = {
        "viewer": mine,
        "friendsEvents": events_page(feed, first),
        "target": facts(model, viewer, target, date, first),
    }
    data.update({f"u{i}": facts(model, viewer, user, date, first) for i, user in enumerate(model.people)})
    return {"data": data, "errors": []}


def expected_friends(model: Model, viewer: int, first: int) -> dict:
    data, errors = {}, []
    for i, user in enumerate(model.people):
        if model.may_list_friends(viewer, user):
            data[f"f{i}"] = {"friends": users_page(model, model.listed_friends(user), first)}
        else:  # friends is non-null: its error nulls the nearest nullable parent, the node
            data[f"f{i}"] = None
            errors.append(("FORBIDDEN", [f"f{i}", "friends"]))
    return {"data": data, "errors": sorted(errors)}


def expected_node(model: Model, viewer: int, type_name: str | None, pk: int | None, first: int) -> dict | None:
    """`node(id:)` of a well-formed ID of `type_name` (None: malformed): null unless the viewer may see it."""
    node_id = id_of(type_name, pk) if type_name else None
    if type_name == "Event" and model.may_see(viewer, pk):
        event = model.events[pk]
        return {
            "id": node_id,
            "__typename": "Event",
            "visibility": event.visibility,
            "owner": {"username": model.people[event.owner].username},
            "viewerRsvp": model.viewer_rsvp(viewer, pk),
            "attendeeCount": len(model.attendees(pk)),
            "attendees": users_page(model, model.attendees(pk), first),
        }
    if type_name == "User" and pk in model.people:
        return {"id": node_id, "__typename": "User", "username": model.people[pk].username}
    if type_name == "FriendRequest" and model.may_see_request(viewer, pk):
        request = model.requests[pk]
        return {
            "id": node_id,
            "__typename": "FriendRequest",
            "from": {"username": model.people[request.sender].username},
            "to": {"username": model.people[request.recipient].username},
        }
    if type_name == "ExportJob" and model.may_see_export(viewer, pk):
        return {"id": node_id, "__typename": "ExportJob", "status": "DONE"}
    return None


# IDs that are not ours: garbage, a string of an ID's shape the server did not seal, and
# IDs in the format of graphql-relay the server once used (base64 of "Type:pk"): real
# objects', of no type, of a type that does not exist, of a negative, fractional, or
# 20-digit key, and one with a second colon.
MALFORMED_IDS = (
    "",
    "garbage",
    "💥",
    "A" * 22,
    legacy_id("Event", 1),
    legacy_id("User", 1),
    base64.b64encode(b"Event:").decode(),
    base64.b64encode(b":1").decode(),
    base64.b64encode(b"Calendar:1").decode(),
    base64.b64encode(b"Event:-1").decode(),
    base64.b64encode(b"Event:1.5").decode(),
    base64.b64encode(b"Event:99999999999999999999").decode(),
    base64.b64encode(b"Event:1:2").decode(),
)
TYPE_NAMES = ("Event", "User", "FriendRequest", "ExportJob", "Calendar")
UNKNOWN_TYPE_CODE = 99
OBJECT_KINDS = ("event", "user", "request", "missing")
MISSING_PK = 10**9  # no row of any table has it


def download_url(job_id: str) -> str:
    return f"/exports/{job_id}/download"


def pks_of(built: Built, kind: str) -> list[int]:
    return {"event": built.event_pks, "user": built.user_pks, "request": built.request_pks}.get(kind) or [MISSING_PK]


# --- the world property ---------------------------------------------------------------------------


@pytest.fixture
def tasks_run_in_process():
    """Exports run in-process once the mutation commits, whatever REDIS_URL the shell exports."""
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    yield
    celery_app.conf.task_always_eager = previous


def full_sync(gql, model: Model, viewer: int, token: str, first_page: dict, page_size: int) -> None:
    """Pages of `changes` from nothing until hasMore is false: exactly the viewer's own
    events and the friends' events the viewer sees, and nothing else named on the way."""
    scope = model.sync_scope(viewer)
    held, answer, pages = set(), first_page, 1
    while True:
        assert not answer.get("errors"), answer
        changes = answer["data"]["changes"]
        assert changes["removedEventIds"] == []  # nothing was in scope before the first sync
        for event in changes["events"]:
            pk = pk_of(event["id"])
            assert pk in scope, f"changes names event {pk}, outside the viewer's scope"
            happening = model.events[pk]
            assert (event["visibility"], event["owner"]["username"]) == (
                happening.visibility,
                model.people[happening.owner].username,
            )
            held.add(pk)
        if not changes["hasMore"]:
            break
        assert pages <= len(scope), "the sync does not end"
        answer = post(gql, op(SYNC, since=changes["cursor"], first=page_size), token)
        pages += 1
    assert held == scope


def test_every_path_to_an_event_answers_what_the_rules_allow(
    gql, django_capture_on_commit_callbacks, tasks_run_in_process
):
    @property_settings(WORLD_EXAMPLES)
    @given(plan=plans(), data=st.data())
    def check(plan: Plan, data: st.DataObject) -> None:
        with rolled_back(), removed_at_exit() as export_files:
            built = build(plan)
            model, users, tokens = built.model, built.user_pks, built.tokens
            viewer = data.draw(st.sampled_from(users), label="viewer")
            token = tokens[viewer]
            date = FIRST_DAY + dt.timedelta(days=data.draw(st.integers(-1, DAYS), label="day"))
            first = data.draw(st.sampled_from(PAGE_SIZES), label="first")

            # The viewer's export, first: its job is one more node to look for.
            export_from = FIRST_DAY + dt.timedelta(days=data.draw(st.integers(-1, DAYS - 1), label="export from"))
            export_to = export_from + dt.timedelta(days=data.draw(st.integers(0, 2), label="export days"))
            with django_capture_on_commit_callbacks(execute=True):
                answer = post(gql, op(REQUEST_EXPORT, **{"from": str(export_from), "to": str(export_to)}), token)
            job_id = answer["data"]["requestEventsExport"]["job"]["id"]
            export_files.append(ExportJob.objects.get(pk=pk_of(job_id)).file.name)
            model.exports[pk_of(job_id)] = viewer
            exported = model.export_rows(viewer, export_from, export_to)

            # Every ID of the world, some dressed as another type, some malformed: as nodes.
            typed_ids = [("Event", pk) for pk in built.event_pks + [MISSING_PK]]
            typed_ids += [("User", pk) for pk in users] + [("FriendRequest", pk) for pk in built.request_pks]
            typed_ids += [("ExportJob", pk_of(job_id))]
            dressed = st.tuples(st.sampled_from(TYPE_NAMES), st.sampled_from(OBJECT_KINDS), st.integers(0, 9))
            for type_name, kind, index in data.draw(st.lists(dressed), label="dressed IDs"):
                pks = pks_of(built, kind)
                typed_ids.append((type_name, pks[index % len(pks)]))
            node_ids = [id_of(type_name, pk) for type_name, pk in typed_ids]
            expected_nodes = [expected_node(model, viewer, type_name, pk, first) for type_name, pk in typed_ids]
            malformed = data.draw(st.lists(st.sampled_from(MALFORMED_IDS), max_size=3), label="malformed IDs")
            node_ids += malformed
            expected_nodes += [None] * len(malformed)

            # One batch: the viewer and every user, their friends, the nodes, the export's job,
            # a first page of changes.
            target = data.draw(st.sampled_from(users), label="target")
            operations = [people_operation(model, target, date, first), friends_operation(model, first)]
            expected = [expected_people(model, viewer, target, date, first), expected_friends(model, viewer, first)]
            for start in range(0, len(node_ids), NODES_PER_OPERATION):
                chunk = slice(start, start + NODES_PER_OPERATION)
                operations.append(nodes_operation(node_ids[chunk], first))
                expected.append({"data": {f"n{i}": node for i, node in enumerate(expected_nodes[chunk])}, "errors": []})
            operations.append(op(EXPORT_JOB, id=job_id))
            job = {"id": job_id, "status": "DONE", "rowCount": len(exported), "downloadUrl": download_url(job_id)}
            expected.append({"data": {"exportJob": job}, "errors": []})
            sync_page = data.draw(st.integers(1, 5), label="sync page size")
            operations.append(op(SYNC, since=None, first=sync_page))

            batch = post(gql, operations, token)
            assert len(batch) == len(operations)
            for body, wanted in zip(batch[:-1], expected, strict=True):
                assert outcome(body) == wanted
            # One of them again, alone (all of them would double the time): the same answer.
            alone = data.draw(st.integers(0, len(operations) - 1), label="sent alone")
            assert post(gql, operations[alone], token) == batch[alone]

            full_sync(gql, model, viewer, token, batch[-1], sync_page)

            # The export's file holds the viewer's own events of those days; no one else gets it.
            response = gql.http.get(download_url(job_id), HTTP_AUTHORIZATION=f"Bearer {token}")
            assert response.status_code == 200
            content = b"".join(response.streaming_content).decode()  # the test client closes it at the end
            rows = list(csv.DictReader(io.StringIO(content, newline="")))
            assert [row["id"] for row in rows] == [global_id("Event", pk) for pk in exported]
            other = data.draw(st.sampled_from([user for user in users if user != viewer]), label="another user")
            answer = post(gql, op(SOMEONE_ELSES_JOB, id=job_id), tokens[other])
            assert answer == {
                "data": {"viewer": {"username": model.people[other].username}, "exportJob": None, "node": None}
            }
            refused = gql.http.get(download_url(job_id), HTTP_AUTHORIZATION=f"Bearer {tokens[other]}")
            assert refused.status_code == 404
            assert refused.json() == {"errors": [{"message": "Not found.", "extensions": {"code": "NOT_FOUND"}}]}

            # Each token acts as its own user (the viewer's and the other's were seen above);
            # a deleted user's as no one.
            for user in [user for user in users if user not in (viewer, other)]:
                assert post(gql, op(WHO), tokens[user]) == {
                    "data": {"viewer": {"username": model.people[user].username}}
                }
            deleted = data.draw(st.sampled_from(users), label="deleted user")
            User.objects.filter(pk=deleted).delete()
            who, feed = post(gql, [op(WHO), op(FEED, date=str(date))], tokens[deleted])
            assert who == {"data": {"viewer": None}}
            assert codes(feed) == ["UNAUTHENTICATED"]

    check()


# --- the mutation property ----------------------------------------------------------------------

# Each mutation (and exportJob), the type of ID it expects, the input field that names
# it, and its operation, whose variables are $id and $option.
EXPECTS = {
    "updateEvent": ("Event", "id"),
    "deleteEvent": ("Event", "id"),
    "rsvp": ("Event", "eventId"),
    "removeFriend": ("User", "userId"),
    "respondToFriendRequest": ("FriendRequest", "requestId"),
    "exportJob": ("ExportJob", "id"),
}
OPERATIONS = {
    "updateEvent": """mutation($id: ID!, $option: String!) {
      updateEvent(input: {id: $id, title: $option}) { event { id title owner { username } } } }""",
    "deleteEvent": "mutation($id: ID!) { deleteEvent(input: {id: $id}) { deletedId } }",
    "rsvp": """mutation($id: ID!, $option: RsvpStatus) {
      rsvp(input: {eventId: $id, status: $option}) { event { id viewerRsvp } } }""",
    "removeFriend": "mutation($id: ID!) { removeFriend(input: {userId: $id}) { removedUserId } }",
    "respondToFriendRequest": """mutation($id: ID!, $option: Boolean!) {
      respondToFriendRequest(input: {requestId: $id, accept: $option}) { request { id } friend { username } } }""",
    "exportJob": "query($id: ID!) { exportJob(id: $id) { id } }",
}
KIND_OF_TYPE = {"Event": "event", "User": "user", "FriendRequest": "request", "ExportJob": "missing"}


@dataclass(frozen=True)
class Attempt:
    """One mutation by one user (a position in the plan) on an ID: of an object of the
    kind it expects or of another kind, dressed as its own type or as another, or malformed."""

    mutation: str
    actor: int
    close: bool  # the actor is instead the one the object is closest to, if any
    kind: str | None  # None: the kind the mutation expects
    index: int
    type_name: str | None  # None: the object's own type
    malformed: str | None
    option: Any  # a title, an RSVP status or whether to accept

    def resolve(self, built: Built) -> tuple[str, str | None, int | None]:
        """The ID sent, and the type and key it names (None for a malformed one)."""
        if self.malformed is not None:
            return self.malformed, None, None
        expected_type = EXPECTS[self.mutation][0]
        kind = self.kind or KIND_OF_TYPE[expected_type]
        pks = pks_of(built, kind)
        own_type = {"event": "Event", "user": "User", "request": "FriendRequest"}.get(kind, expected_type)
        type_name = self.type_name or own_type
        pk = pks[self.index % len(pks)]
        return id_of(type_name, pk), type_name, pk

    def actor_pk(self, built: Built, pk: int | None) -> int:
        """Whose token acts: the drawn user; or, when `close`, the owner of the event, the
        recipient of the request, or a friend of the user whose key the ID carries."""
        model, drawn = built.model, built.user_pks[self.actor]
        if not self.close or pk is None:
            return drawn
        kind = self.kind or KIND_OF_TYPE[EXPECTS[self.mutation][0]]
        if kind == "event" and pk in model.events:
            return model.events[pk].owner
        if kind == "request" and pk in model.requests:
            return model.requests[pk].recipient
        if kind == "user" and model.friends_of(pk):
            return min(model.friends_of(pk))
        return drawn


OPTIONS = {
    "updateEvent": st.sampled_from(("Renamed", "Taken over")),
    "rsvp": st.sampled_from((*RSVP_STATUSES, None)),
    "respondToFriendRequest": st.booleans(),
}


@st.composite
def one_attempt(draw, size: int, mutation: str | None = None, dressed: bool = False) -> Attempt:
    """An attempt on an object of the kind the mutation expects, under its own type; or,
    `dressed`, on an object of any kind under any type name, or with a malformed ID."""
    mutation = mutation or draw(st.sampled_from(sorted(EXPECTS)))
    return Attempt(
        mutation=mutation,
        actor=draw(st.integers(0, size - 1)),
        close=draw(st.booleans()),
        kind=draw(st.sampled_from(OBJECT_KINDS)) if dressed else None,
        index=draw(st.integers(0, 9)),
        type_name=draw(st.sampled_from(TYPE_NAMES)) if dressed else None,
        malformed=draw(st.one_of(st.none(), st.none(), st.sampled_from(MALFORMED_IDS))) if dressed else None,
        option=draw(OPTIONS.get(mutation, st.none())),
    )


@st.composite
def attempts(draw, size: int) -> list[Attempt]:
    """Every mutation once, in any order, on an object of the kind it expects; then one to
    three attempts with IDs of the wrong type or malformed."""
    order = draw(st.permutations(sorted(EXPECTS)))
    return [draw(one_attempt(size, mutation)) for mutation in order] + draw(
        st.lists(one_attempt(size, dressed=True), min_size=1, max_size=3)
    )


def expected_attempt(model: Model, actor: int, attempt: Attempt, node_id: str, type_name: str | None, pk) -> dict:
    """The answer the attempt gets, as `outcome` shows it, and the model changed as the
    mutation changes the database when it succeeds."""
    mutation = attempt.mutation
    expected_type, field = EXPECTS[mutation]
    refused = {"data": {mutation: None}, "errors": []}
    if type_name != expected_type:
        refused["errors"] = [(BAD_USER_INPUT, [mutation], field)]
        return refused
    code = {
        "updateEvent": model.change_event,
        "deleteEvent": model.change_event,
        "rsvp": model.rsvp,
        "removeFriend": model.remove_friend,
        "respondToFriendRequest": model.respond,
        "exportJob": lambda viewer, pk: None,  # no export in this world: nothing to find
    }[mutation](actor, pk)
    if code is not None:
        # A request answered already is bad input, named as the mutation's input names it.
        refused["errors"] = [(code, [mutation], field if code == BAD_USER_INPUT else None)]
        return refused
    username = model.people[actor].username
    if mutation == "updateEvent":
        model.retitle(pk, attempt.option)
        payload = {"event": {"id": node_id, "title": attempt.option, "owner": {"username": username}}}
    elif mutation == "deleteEvent":
        model.delete_event(pk)
        payload = {"deletedId": node_id}
    elif mutation == "rsvp":
        model.set_rsvp(actor, pk, attempt.option)
        payload = {"event": {"id": node_id, "viewerRsvp": attempt.option}}
    elif mutation == "removeFriend":
        model.end_friendship(actor, pk)
        payload = {"removedUserId": node_id}
    elif mutation == "respondToFriendRequest":
        model.answer_request(pk, attempt.option)
        friend = {"username": model.people[model.requests[pk].sender].username} if attempt.option else None
        payload = {"request": {"id": node_id}, "friend": friend}
    else:
        payload = None
    return {"data": {mutation: payload}, "errors": []}


def stored_state() -> tuple:
    """What the mutations may change, as the database holds it."""
    return (
        {
            pk: (owner, visibility, title)
            for pk, owner, visibility, title in Event.objects.values_list("pk", "owner_id", "visibility", "title")
        },
        set(Rsvp.objects.values_list("event_id", "user_id", "status")),
        set(Friendship.objects.values_list("user_id", "friend_id")),
        {
            pk: (sender, recipient, status)
            for pk, sender, recipient, status in FriendRequest.objects.values_list(
                "pk", "from_user_id", "to_user_id", "status"
            )
        },
    )


def modelled_state(model: Model) -> tuple:
    """The same, as the model has it."""
    return (
        {pk: (event.owner, event.visibility, event.title) for pk, event in model.events.items()},
        {(event, user, status) for (event, user), status in model.rsvps.items()},
        {(a, b) for pair in model.friendships for a in pair for b in pair if a != b},
        {pk: (request.sender, request.recipient, request.status) for pk, request in model.requests.items()},
    )


def test_mutations_refuse_ids_of_the_wrong_type_and_objects_not_the_viewers(gql):
    @property_settings(MUTATION_EXAMPLES)
    @given(plan=plans(), data=st.data())
    def check(plan: Plan, data: st.DataObject) -> None:
        with rolled_back():
            built = build(plan)
            model = built.model
            for attempt in data.draw(attempts(len(plan.people)), label="attempts"):
                node_id, type_name, pk = attempt.resolve(built)
                actor = attempt.actor_pk(built, pk)
                wanted = expected_attempt(model, actor, attempt, node_id, type_name, pk)
                body = post(
                    gql, op(OPERATIONS[attempt.mutation], id=node_id, option=attempt.option), built.tokens[actor]
                )
                errors = [
                    (error["extensions"]["code"], error.get("path"), error["extensions"].get("field"))
                    for error in body.get("errors") or []
                ]
                assert {"data": body.get("data"), "errors": errors} == wanted
                # Refused, nothing changed; done, exactly what the model did, as the actor.
                assert stored_state() == modelled_state(model)

    check()


# --- the logout property ------------------------------------------------------------------------

LOGOUT = "mutation($all: Boolean) { logout(input: {allDevices: $all}) { revokedTokens } }"
PLACEMENTS = ("alone", "first in a batch", "within a batch")


def assert_anonymous(operation: dict, body: dict) -> None:
    """The answer of a request that acts as no one: nothing but nulls, and every field but
    `viewer` refused UNAUTHENTICATED."""
    data = body.get("data")
    assert data is None or all(value is None for value in data.values()), body
    assert set(codes(body)) == (set() if operation["query"] == WHO else {"UNAUTHENTICATED"}), body


def expected_nodes(model: Model, viewer: int, node_ids: list[str], first: int) -> dict:
    nodes = {}
    for i, node_id in enumerate(node_ids):
        type_name, pk = parse_global_id(node_id)
        nodes[f"n{i}"] = expected_node(model, viewer, type_name, int(pk), first)
    return {"data": nodes, "errors": []}


def paths_of(built: Built, viewer: int, target: int, date: dt.date, first: int) -> list[tuple[dict, dict | None]]:
    """Operations on every kind of path, each with what the viewer sees (None: not compared)."""
    model = built.model
    node_ids = [global_id("Event", pk) for pk in built.event_pks]
    node_ids = (node_ids + [global_id("User", pk) for pk in built.user_pks])[:NODES_PER_OPERATION]
    return [
        (people_operation(model, target, date, first), expected_people(model, viewer, target, date, first)),
        (friends_operation(model, first), expected_friends(model, viewer, first)),
        (nodes_operation(node_ids, first), expected_nodes(model, viewer, node_ids, first)),
        (op(WHO), {"data": {"viewer": {"username": model.people[viewer].username}}, "errors": []}),
        (op(FEED, date=str(date)), None),
        (op(SYNC, since=None, first=first), None),
        (op(EXPORT_JOB, id=global_id("ExportJob", MISSING_PK)), {"data": {"exportJob": None}, "errors": []}),
    ]


def test_a_token_logged_out_never_authenticates_again_on_any_path(gql, django_capture_on_commit_callbacks):
    """After `logout` (alone, first in a batch or within one; this device or all of them), the
    token acts as no one on every path, alone and in a batch, mutations and the download
    included. The operations after the logout in its own batch act as no one too: a batch's
    operations run in order, each with the request's token as it then is. The viewer's other
    device keeps working unless all devices were logged out, and everyone else's token does."""

    @property_settings(MUTATION_EXAMPLES)
    @given(plan=plans(), data=st.data())
    def check(plan: Plan, data: st.DataObject) -> None:
        with rolled_back():
            built = build(plan)
            model = built.model
            viewer = data.draw(st.sampled_from(built.user_pks), label="viewer")
            token, other_device = built.tokens[viewer], f"permission-property-other-device-{viewer}"
            AuthToken.objects.create(user_id=viewer, key_hash=hash_token(other_device))
            model.tokens[other_device] = viewer
            all_devices = data.draw(st.booleans(), label="all devices")
            placement = data.draw(st.sampled_from(PLACEMENTS), label="placement")
            date = FIRST_DAY + dt.timedelta(days=data.draw(st.integers(-1, DAYS), label="day"))
            target = data.draw(st.sampled_from(built.user_pks), label="target")
            paths = paths_of(built, viewer, target, date, data.draw(st.sampled_from(PAGE_SIZES), label="first"))
            logout = op(LOGOUT, all=all_devices)

            # The logout, the operations before it in its batch (as the viewer) and after it (as no one).
            split = data.draw(st.integers(1, len(paths) - 1), label="split") if placement == "within a batch" else 0
            before, after = paths[:split], paths[split:] if placement != "alone" else []
            sent = [operation for operation, _ in before] + [logout] + [operation for operation, _ in after]
            answers = post(gql, sent, token) if placement != "alone" else [post(gql, logout, token)]
            for (_, wanted), body in zip(before, answers, strict=False):
                assert wanted is None or outcome(body) == wanted
            assert answers[len(before)] == {"data": {"logout": {"revokedTokens": model.logout(token, all_devices)}}}
            for (operation, _), body in zip(after, answers[len(before) + 1 :], strict=True):
                assert_anonymous(operation, body)

            # From then on the token acts as no one, alone and in a batch, on every path.
            assert model.acts_as(token) is None
            export = op(REQUEST_EXPORT, **{"from": str(FIRST_DAY), "to": str(FIRST_DAY)})
            everything = [operation for operation, _ in paths] + [export, logout]
            with django_capture_on_commit_callbacks(execute=True):
                batch = post(gql, everything, token)
                alone = [post(gql, operation, token) for operation in everything]
            for operation, in_batch, by_itself in zip(everything, batch, alone, strict=True):
                assert_anonymous(operation, in_batch)
                assert_anonymous(operation, by_itself)
            assert not ExportJob.objects.exists()
            download = gql.http.get(download_url(global_id("ExportJob", 1)), HTTP_AUTHORIZATION=f"Bearer {token}")
            assert download.status_code == 404
            assert download.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')

            # The viewer's other device (unless all devices were logged out), and everyone else.
            assert (model.acts_as(other_device) is None) == all_devices
            for other in model.tokens.keys() - {token}:
                acting = model.acts_as(other)
                expected = {"viewer": acting and {"username": model.people[acting].username}}
                assert post(gql, op(WHO), other) == {"data": expected}

    check()
