"""The API's IDs (calendarapp/ids.py): sealed with AES-128, so none can be guessed from another.

The attack these tests keep out: user ids were sequential base64 "User:<pk>", so one batch
of aliased `node(id:)` lookups listed every account. Now an ID reveals nothing of its
neighbours, a string the server did not make is refused, and the old format is refused
cleanly (null from `node`, BAD_USER_INPUT naming the argument elsewhere, never a 500).
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import string
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import override_settings

from calendarapp.ids import MAX_PK, TYPE_CODES, global_id, parse_global_id
from calendarapp.models import Event, ExportJob, FriendRequest, Friendship, User
from schema.errors import BadUserInput
from schema.ids import pk_from_global_id
from schema.schema import schema
from schema.types.node import Node
from tests.conftest import World, legacy_id, opened_id, sealed_id, utc

TYPES = tuple(TYPE_CODES)
EDGE_PKS = (0, 1, 2, 255, 256, 65_535, 2**31 - 1, 2**32, 2**53 + 1, 10**18, MAX_PK - 1, MAX_PK)
ID_ALPHABET = string.ascii_letters + string.digits + "-_"
NODE = "query($id: ID!) { node(id: $id) { id } }"


def block(type_code: int, pk: int, version: int = 1, tail: bytes = bytes(6)) -> bytes:
    """The 16 bytes an ID seals, as calendarapp/ids.py describes them."""
    return bytes([version, type_code]) + pk.to_bytes(8, "big") + tail


# --- the codec ---------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("pk", EDGE_PKS)
def test_every_type_and_edge_primary_key_round_trips(type_name, pk):
    value = global_id(type_name, pk)
    assert len(value) == 22 and set(value) <= set(ID_ALPHABET)
    assert parse_global_id(value) == (type_name, pk)
    assert pk_from_global_id(value, type_name, field="id") == pk


@pytest.mark.parametrize("type_name", TYPES)
def test_an_id_seals_the_documented_block(type_name):
    """Checked with a cipher of the tests' own (tests/conftest.py), not calendarapp.ids's."""
    assert opened_id(global_id(type_name, 123_456)) == block(TYPE_CODES[type_name], 123_456)
    assert parse_global_id(sealed_id(block(TYPE_CODES[type_name], 654_321))) == (type_name, 654_321)


@pytest.mark.parametrize("pk", [-1, MAX_PK + 1, 2**64])
def test_a_key_no_table_can_hold_is_not_encoded(pk):
    with pytest.raises(ValueError, match="is not a primary key"):
        global_id("User", pk)


def test_consecutive_primary_keys_give_ids_with_no_visible_relation():
    ids = [global_id("User", pk) for pk in range(1, 2001)]
    assert len(set(ids)) == len(ids)
    # A random pair of 22-character IDs agrees at about 0.4 positions; seven agreements happen
    # by chance once in ~10**7 pairs.
    agreements = [sum(a == b for a, b in zip(x, y, strict=True)) for x, y in zip(ids, ids[1:], strict=False)]
    assert max(agreements) <= 6 and sum(agreements) / len(agreements) < 1
    # Their order says nothing of the keys' order (about half the neighbours ascend).
    ascending = sum(x < y for x, y in zip(ids, ids[1:], strict=False)) / (len(ids) - 1)
    assert 0.4 < ascending < 0.6
    # Nor does one type's ID say anything of another type's with the same key.
    assert all(global_id("Event", pk)[:4] != ids[pk - 1][:4] for pk in range(1, 50))


@pytest.mark.parametrize("type_name", TYPES)
def test_an_id_of_one_type_is_refused_where_another_is_expected(type_name):
    value = global_id(type_name, 42)
    for other in TYPES:
        if other != type_name:
            with pytest.raises(BadUserInput) as refused:
                pk_from_global_id(value, other, field="eventId")
            assert refused.value.field == "eventId"
            assert refused.value.message == f"'{value}' is not the ID of a {other}."


NOT_IDS = [
    pytest.param("", id="empty"),
    pytest.param("A" * 22, id="all_A"),
    pytest.param("_" * 21 + "w", id="all_ones"),
    pytest.param(" " + global_id("User", 1)[1:], id="space"),
    pytest.param(global_id("User", 1) + "\n", id="newline"),
    pytest.param(global_id("User", 1) + "==", id="padded"),
    pytest.param(global_id("User", 1).replace("-", "+").replace("_", "/") + "A", id="standard_alphabet"),
    pytest.param(legacy_id("User", 1), id="old_format_user"),
    pytest.param(legacy_id("Event", 12345678901234), id="old_format_long_pk"),
    pytest.param("💥" * 22, id="not_ascii"),
]


@pytest.mark.parametrize("value", NOT_IDS)
def test_strings_that_are_not_ids_are_refused(value):
    assert parse_global_id(value) is None
    with pytest.raises(BadUserInput):
        pk_from_global_id(value, "User", field="userId")


@pytest.mark.parametrize("value", [None, 1, b"A" * 22, ["A" * 22]])
def test_values_that_are_not_strings_are_refused(value):
    assert parse_global_id(value) is None


def test_random_strings_of_an_ids_shape_are_refused():
    rng = random.Random(11)
    shaped = ["".join(rng.choices(ID_ALPHABET, k=21)) + rng.choice("AQgw") for _ in range(20_000)]
    assert [value for value in shaped if parse_global_id(value) is not None] == []


def test_truncated_and_extended_ids_are_refused():
    value = global_id("Event", 7)
    for cut in range(len(value)):
        assert parse_global_id(value[:cut]) is None
    for extra in ("A", "AA", "AAAA", value):
        assert parse_global_id(value + extra) is None


def test_every_altered_character_and_bit_is_refused():
    value = global_id("User", 66)
    altered = [value[:i] + c + value[i + 1 :] for i in range(len(value)) for c in ID_ALPHABET if c != value[i]]
    assert len(altered) == 22 * 63
    assert [other for other in altered if parse_global_id(other) is not None] == []
    sealed = base64.urlsafe_b64decode(value + "==")
    for bit in range(128):
        flipped = bytearray(sealed)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert parse_global_id(base64.urlsafe_b64encode(flipped).rstrip(b"=").decode()) is None, bit


@pytest.mark.parametrize(
    "sealed",
    [
        pytest.param(block(TYPE_CODES["User"], 1, version=0), id="version_0"),
        pytest.param(block(TYPE_CODES["User"], 1, version=2), id="version_2"),
        pytest.param(block(0, 1), id="type_code_0"),
        pytest.param(block(len(TYPE_CODES) + 1, 1), id="unknown_type_code"),
        pytest.param(block(TYPE_CODES["User"], 1, tail=b"\0\0\0\0\0\1"), id="tail_not_zero"),
        pytest.param(block(TYPE_CODES["User"], MAX_PK + 1), id="key_over_bigint"),
        pytest.param(block(TYPE_CODES["User"], 2**64 - 1), id="key_all_ones"),
    ],
)
def test_a_sealed_block_breaking_the_format_is_refused(sealed):
    assert parse_global_id(sealed_id(sealed)) is None


def test_each_id_has_one_spelling():
    """22 base64 characters carry 4 spare bits: a decoder that ignored them would take 16
    spellings of one ID (and a client caching by ID would hold one object several times)."""
    value = global_id("Event", 1)
    assert value[-1] in "AQgw"
    other_spelling = value[:-1] + chr(ord(value[-1]) + 1)  # same 2 data bits, a spare bit set
    assert parse_global_id(other_spelling) is None


# --- the key -----------------------------------------------------------------------------------


def test_the_key_setting_changes_every_id_and_back():
    before = [global_id(type_name, 5) for type_name in TYPES]
    with override_settings(GLOBAL_ID_KEY="another-key-of-at-least-thirty-two-characters"):
        during = [global_id(type_name, 5) for type_name in TYPES]
        assert [parse_global_id(value) for value in during] == [(type_name, 5) for type_name in TYPES]
        assert [parse_global_id(value) for value in before] == [None] * len(TYPES)
    assert set(before).isdisjoint(during)
    assert [global_id(type_name, 5) for type_name in TYPES] == before


def test_without_its_own_key_the_ids_follow_secret_key():
    with override_settings(GLOBAL_ID_KEY=""):
        plain = global_id("User", 9)
        with override_settings(SECRET_KEY="a-rotated-secret-key"):
            assert global_id("User", 9) != plain
    with override_settings(GLOBAL_ID_KEY="a-key-of-the-ids-kept-for-the-life-of-the-data"):
        kept = global_id("User", 9)
        with override_settings(SECRET_KEY="a-rotated-secret-key"):
            assert global_id("User", 9) == kept  # SECRET_KEY rotates, IDs stay


def test_threads_each_make_the_same_ids():
    expected = {pk: global_id("Event", pk) for pk in range(1, 3001)}

    def round_trips(offset: int) -> bool:
        pks = [(pk + offset) % 3000 + 1 for pk in range(3000)]
        return all(global_id("Event", pk) == expected[pk] and parse_global_id(expected[pk])[1] == pk for pk in pks)

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert all(pool.map(round_trips, range(0, 3000, 500)))
    seen_in_thread = []
    thread = threading.Thread(target=lambda: seen_in_thread.append(global_id("Event", 1)))
    thread.start()
    thread.join()
    assert seen_in_thread == [expected[1]]


# --- every Node type makes our IDs ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("model", [User, Event, FriendRequest, ExportJob], ids=TYPES)
def test_graphenes_id_resolver_makes_our_ids(model):
    type_name = model.__name__
    graphql_type = schema.graphql_schema.get_type(type_name)

    class Info:  # graphene's resolver needs only this of info
        parent_type = graphql_type

    assert graphql_type.fields["id"].resolve(model(pk=987_654), Info()) == global_id(type_name, 987_654)


def test_every_node_type_of_the_schema_has_a_type_code_and_our_ids():
    node = schema.graphql_schema.get_type("Node")
    implementations = schema.graphql_schema.get_implementations(node).objects
    assert sorted(type_.name for type_ in implementations) == sorted(TYPE_CODES)
    for type_ in implementations:
        assert type_.fields["id"].resolve.args[1] is Node, type_.name  # schema.types.node.Node


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def scene(world: World) -> dict:
    viewer, friend, stranger = (world.user(name) for name in ("vera", "fred", "stan"))
    world.befriend(viewer, friend)
    event = world.event(friend, utc(2026, 11, 23, 9), visibility="PUBLIC")
    request = FriendRequest.objects.create(from_user=stranger, to_user=viewer)
    return {"viewer": viewer, "friend": friend, "event": event, "request": request, "token": world.token(viewer)}


SHOWN_IDS = """query {
  viewer {
    id
    friends { edges { node { id events(date: "2026-11-23") { edges { node { id owner { id } } } } } } }
  }
  incomingFriendRequests { edges { node { id from { id } } } }
}"""


def test_the_ids_the_api_shows_are_sealed_and_name_their_objects(gql, scene):
    data = gql(SHOWN_IDS, token=scene["token"]).ok()
    friend = data["viewer"]["friends"]["edges"][0]["node"]
    event = friend["events"]["edges"][0]["node"]
    request = data["incomingFriendRequests"]["edges"][0]["node"]
    shown = {
        data["viewer"]["id"]: ("User", scene["viewer"].pk),
        friend["id"]: ("User", scene["friend"].pk),
        event["id"]: ("Event", scene["event"].pk),
        event["owner"]["id"]: ("User", scene["friend"].pk),
        request["id"]: ("FriendRequest", scene["request"].pk),
    }
    assert {value: parse_global_id(value) for value in shown} == shown


# An operation taking an ID argument, the type it expects and the argument's name.
LEGACY_ARGUMENTS = {
    "updateEvent": ('mutation($id: ID!) { updateEvent(input: {id: $id, title: "x"}) { event { id } } }', "Event", "id"),
    "deleteEvent": ("mutation($id: ID!) { deleteEvent(input: {id: $id}) { deletedId } }", "Event", "id"),
    "rsvp": ("mutation($id: ID!) { rsvp(input: {eventId: $id, status: GOING}) { event { id } } }", "Event", "eventId"),
    "respondToFriendRequest": (
        "mutation($id: ID!) { respondToFriendRequest(input: {requestId: $id, accept: true}) { request { id } } }",
        "FriendRequest",
        "requestId",
    ),
    "removeFriend": ("mutation($id: ID!) { removeFriend(input: {userId: $id}) { removedUserId } }", "User", "userId"),
    "exportJob": ("query($id: ID!) { exportJob(id: $id) { id } }", "ExportJob", "id"),
}


def scene_pk(scene: dict, type_name: str) -> int:
    """The primary key of the scene's object of that type (1 for an export job: there is none)."""
    objects = {"Event": scene["event"], "FriendRequest": scene["request"], "User": scene["friend"]}
    return objects[type_name].pk if type_name in objects else 1


@pytest.mark.parametrize("name", LEGACY_ARGUMENTS)
def test_an_old_format_id_argument_is_bad_user_input_naming_it_and_changes_nothing(gql, scene, name):
    operation, type_name, field = LEGACY_ARGUMENTS[name]
    answer = gql(operation, {"id": legacy_id(type_name, scene_pk(scene, type_name))}, token=scene["token"])
    assert answer.status == 200
    assert [(error["extensions"]["code"], error["extensions"].get("field")) for error in answer.errors] == [
        ("BAD_USER_INPUT", field)
    ]
    assert list(answer.data.values()) == [None]
    assert Event.objects.filter(pk=scene["event"].pk, title="Event").exists()
    assert FriendRequest.objects.filter(pk=scene["request"].pk, status="PENDING").exists()
    assert Friendship.objects.filter(user=scene["viewer"], friend=scene["friend"]).exists()


@pytest.mark.parametrize("type_name", TYPES)
def test_node_with_an_old_format_id_is_null(gql, scene, type_name):
    pk = {"User": scene["friend"].pk, "Event": scene["event"].pk, "FriendRequest": scene["request"].pk}.get(
        type_name, 1
    )
    answer = gql(NODE, {"id": legacy_id(type_name, pk)}, token=scene["token"])
    assert (answer.status, answer.body) == (200, {"data": {"node": None}})


def test_an_export_download_url_with_an_old_format_id_is_404(gql, scene):
    job = ExportJob.objects.create(owner=scene["viewer"], date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 2))
    response = gql.http.get(f"/exports/{legacy_id('ExportJob', job.pk)}/download", HTTP_AUTHORIZATION="Bearer x")
    assert response.status_code == 404


def test_the_attack_listing_every_user_by_sequential_ids_finds_no_one(gql, world, scene):
    """The report: aliased `node(id:)` lookups of sequential IDs, 20 to an operation and
    several operations to a batch, listed all 66 accounts with username and timezone."""
    for number in range(63):
        world.user(f"user{number:02}", timezone="Europe/Paris")
    User.objects.create_superuser("root", "root@example.com", "secret-pass-123")
    pks = sorted(User.objects.values_list("pk", flat=True))
    assert len(pks) == 67  # vera, fred, stan, 63 users and the superuser

    def batch(ids: list[str]) -> list[dict]:
        operations = []
        for start in range(0, len(ids), 20):
            chunk = ids[start : start + 20]
            fields = " ".join(
                f"u{i}: node(id: $u{i}) {{ ... on User {{ username timezone }} }}" for i in range(len(chunk))
            )
            declared = ", ".join(f"$u{i}: ID!" for i in range(len(chunk)))
            variables = {f"u{i}": value for i, value in enumerate(chunk)}
            operations.append({"query": f"query({declared}) {{ {fields} }}", "variables": variables})
        answers = gql.post(operations, token=scene["token"])
        assert answers.status == 200
        return [user for body in answers.body for user in body["data"].values() if user]

    guesses = range(max(0, pks[0] - 10), pks[-1] + 10)  # each key from before the first to after the last
    assert batch([legacy_id("User", pk) for pk in guesses]) == []  # the attack as it was made
    # IDs of the new shape guessed from the viewer's own, a character or a bit away.
    own = global_id("User", scene["viewer"].pk)
    neighbours = [own[:-2] + c + own[-1] for c in ID_ALPHABET if c != own[-2]]
    assert batch(neighbours) == []
    # The control: the same batch with the real IDs finds them all.
    found = batch([global_id("User", pk) for pk in pks])
    assert len(found) == 67 and {"username": "root", "timezone": "UTC"} in found
