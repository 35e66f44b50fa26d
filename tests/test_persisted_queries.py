"""Automatic persisted queries (Apollo's protocol) and the per-process document cache:
a query is known by its SHA-256, and a repeated operation is neither parsed nor
validated again. Runs against the default local-memory cache, a real Redis (database
11) and a Redis that cannot be reached."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from calendarapp.models import Event
from schema import documents as document_stage, validation
from schema.documents import documents
from schema.persisted_queries import cache_key
from tests.conftest import Answer, GraphQLClient, World, utc

OPERATIONS_DIR = Path(__file__).parent / "operations"
HOME_SCREEN = (OPERATIONS_DIR / "home_screen.graphql").read_text()
CREATE_EVENT = (OPERATIONS_DIR / "create_event.graphql").read_text()
VIEWER = "query Viewer { viewer { username } }"
DAY = "2026-11-23"
REDIS_URL = "redis://127.0.0.1:6379/11"


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query_hash: str, version: Any = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": query_hash}}


def by_hash(query: str, variables: dict | None = None, with_query: bool = False) -> dict:
    """A request object as Apollo's persisted-query link sends it."""
    operation: dict[str, Any] = {"variables": variables or {}, "extensions": persisted(sha256(query))}
    if with_query:
        operation["query"] = query
    return operation


def get(client: GraphQLClient, token: str | None = None, **parameters: Any) -> Answer:
    """GET /graphql with JSON-encoded parameters, as Apollo's useGETForHashedQueries sends them."""
    encoded = {name: value if isinstance(value, str) else json.dumps(value) for name, value in parameters.items()}
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    with CaptureQueriesContext(connection) as captured:
        response = client.http.get("/graphql", encoded, HTTP_ACCEPT="application/json", **headers)
    return Answer(response.status_code, json.loads(response.content), captured.captured_queries)


def assert_not_found(answer: Answer) -> None:
    assert answer.status == 200, answer.body
    assert answer.body == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }


def assert_refused(answer: Answer, message: str, status: int = 400, code: str = "BAD_REQUEST") -> None:
    assert answer.status == status, answer.body
    assert answer.body == {"errors": [{"message": message, "extensions": {"code": code}}]}


class PreparationSpy:
    """Counts graphql-core's parse and validate calls made by schema.documents."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parsed = self.validated = 0
        parse, validate = document_stage.parse, validation.validate

        def counting_parse(*args, **kwargs):
            self.parsed += 1
            return parse(*args, **kwargs)

        def counting_validate(*args, **kwargs):
            self.validated += 1
            return validate(*args, **kwargs)

        monkeypatch.setattr(document_stage, "parse", counting_parse)
        monkeypatch.setattr(validation, "validate", counting_validate)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test starts with no persisted query and no prepared document."""
    documents.clear()
    cache.clear()
    yield
    documents.clear()


@pytest.fixture
def viewer(world: World) -> tuple[str, World]:
    """A viewer with one friend who has one event on DAY; returns the viewer's token."""
    alice, bob = world.user("alice"), world.user("bob")
    world.befriend(alice, bob)
    world.event(bob, utc(2026, 11, 23, 9), title="Standup")
    return world.token(alice)


def apollo_sequence(gql: GraphQLClient, token: str) -> list[Answer]:
    """What Apollo's persisted-query link does: hash alone, then hash and query, then hash alone."""
    variables = {"date": DAY}
    first = gql.post(by_hash(HOME_SCREEN, variables), token=token)
    registered = gql.post(by_hash(HOME_SCREEN, variables, with_query=True), token=token)
    again = gql.post(by_hash(HOME_SCREEN, variables), token=token)
    return [first, registered, again]


def assert_apollo_sequence_works(answers: list[Answer]) -> None:
    first, registered, again = answers
    assert_not_found(first)
    data = registered.ok()
    assert data["viewer"]["friends"]["edges"][0]["node"]["events"]["edges"][0]["node"]["title"] == "Standup"
    assert again.ok() == data


class TestApolloProtocol:
    def test_unknown_hash_then_hash_with_query_then_hash_alone(self, gql, viewer):
        assert_apollo_sequence_works(apollo_sequence(gql, viewer))

    def test_hash_alone_runs_no_sql_when_not_found(self, gql):
        answer = gql.post(by_hash(VIEWER))
        assert_not_found(answer)
        assert answer.queries == []

    def test_hash_that_is_not_the_querys_is_refused_and_nothing_is_stored(self, gql):
        wrong_hash = sha256("query Other { viewer { id } }")
        answer = gql.post({"query": VIEWER, "extensions": persisted(wrong_hash)})
        assert_refused(answer, "The persisted query's sha256Hash is not the SHA-256 of its query.")
        assert_not_found(gql.post({"extensions": persisted(wrong_hash)}))
        assert_not_found(gql.post(by_hash(VIEWER)))

    @pytest.mark.parametrize("version", [2, 0, "1", True, None])
    def test_unsupported_version_is_bad_request(self, gql, version):
        answer = gql.post({"query": VIEWER, "extensions": persisted(sha256(VIEWER), version=version)})
        message = f"Unsupported persisted query version {version!r}: this server supports version 1."
        assert_refused(answer, message)

    @pytest.mark.parametrize(
        "extensions, message",
        [
            ({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}, "must be a SHA-256 in hexadecimal"),
            ({"persistedQuery": {"version": 1}}, "must be a SHA-256 in hexadecimal"),
            ({"persistedQuery": "yes"}, "extensions.persistedQuery must be an object."),
            ([1], "extensions must be an object."),
        ],
    )
    def test_malformed_persisted_query_is_bad_request(self, gql, extensions, message):
        answer = gql.post({"extensions": extensions})
        assert answer.status == 400 and answer.codes == ["BAD_REQUEST"], answer.body
        assert message in answer.errors[0]["message"]

    def test_hash_in_upper_case_is_the_same_query(self, gql, viewer):
        gql.post(by_hash(VIEWER, with_query=True), token=viewer).ok()
        answer = gql.post({"extensions": persisted(sha256(VIEWER).upper())}, token=viewer)
        assert answer.ok() == {"viewer": {"username": "alice"}}

    def test_query_without_extensions_is_not_persisted(self, gql, viewer):
        gql(VIEWER, token=viewer).ok()
        documents.clear()
        assert_not_found(gql.post(by_hash(VIEWER), token=viewer))

    def test_invalid_query_with_its_hash_is_refused_and_not_stored(self, gql):
        invalid = "query Nope { viewer { noSuchField } }"
        answer = gql.post(by_hash(invalid, with_query=True))
        assert answer.status == 400 and answer.codes == ["BAD_REQUEST"], answer.body
        assert cache.get(cache_key(sha256(invalid))) is None

    def test_get_by_hash_as_apollo_sends_it(self, gql, viewer):
        extensions = persisted(sha256(VIEWER))
        assert_not_found(get(gql, viewer, extensions=extensions, operationName="Viewer"))
        registered = get(gql, viewer, query=VIEWER, extensions=extensions, operationName="Viewer")
        assert registered.ok() == {"viewer": {"username": "alice"}}
        again = get(gql, viewer, extensions=extensions, variables={}, operationName="Viewer")
        assert again.ok() == {"viewer": {"username": "alice"}}

    def test_get_with_extensions_that_are_not_json_is_bad_request(self, gql):
        assert_refused(get(gql, extensions="{not json"), "extensions is not valid JSON.")

    def test_mutation_by_hash_runs_over_post(self, gql, viewer):
        variables = {"input": {"title": "Lunch", "startsAt": "2026-11-23T12:00:00Z", "endsAt": "2026-11-23T13:00:00Z"}}
        assert_not_found(gql.post(by_hash(CREATE_EVENT, variables), token=viewer))
        gql.post(by_hash(CREATE_EVENT, variables, with_query=True), token=viewer).ok()
        answer = gql.post(by_hash(CREATE_EVENT, variables), token=viewer)
        assert answer.ok()["createEvent"]["event"]["title"] == "Lunch"
        assert Event.objects.filter(title="Lunch").count() == 2

    def test_mutation_by_hash_over_get_is_refused(self, gql, viewer):
        variables = {"input": {"title": "Lunch", "startsAt": "2026-11-23T12:00:00Z", "endsAt": "2026-11-23T13:00:00Z"}}
        gql.post(by_hash(CREATE_EVENT, variables, with_query=True), token=viewer).ok()
        answer = get(gql, viewer, extensions=persisted(sha256(CREATE_EVENT)), variables=variables)
        assert_refused(answer, "A mutation must be sent with POST.", status=405)
        assert Event.objects.filter(title="Lunch").count() == 1

    def test_batch_mixes_known_unknown_registering_and_plain_operations(self, gql, viewer):
        gql.post(by_hash(VIEWER, with_query=True), token=viewer).ok()
        unknown = "query Unknown { viewer { displayName } }"
        registering = "query Registering { viewer { timezone } }"
        batch = [by_hash(VIEWER), by_hash(unknown), by_hash(registering, with_query=True), {"query": VIEWER}]
        answer = gql.post(batch, token=viewer)
        assert answer.status == 200
        known, not_found, registered, plain = answer.body
        assert known == {"data": {"viewer": {"username": "alice"}}}
        assert not_found["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert registered == {"data": {"viewer": {"timezone": "UTC"}}}
        assert plain == known
        assert gql.post(by_hash(registering), token=viewer).ok() == {"viewer": {"timezone": "UTC"}}

    def test_request_without_query_or_hash_is_bad_request(self, gql):
        assert_refused(gql.post({"variables": {}}), "The request has no query.")
        assert_refused(gql.post({"query": "", "extensions": persisted(sha256(""))}), "The request has no query.")


class TestDocumentCache:
    def test_home_screen_sent_again_by_hash_alone_is_neither_parsed_nor_validated(self, gql, viewer, monkeypatch):
        first, registered, _ = apollo_sequence(gql, viewer)
        spy = PreparationSpy(monkeypatch)
        before = documents.stats()
        answers = [gql.post(by_hash(HOME_SCREEN, {"date": DAY}), token=viewer) for _ in range(5)]
        assert [answer.ok() for answer in answers] == [registered.data] * 5
        assert (spy.parsed, spy.validated) == (0, 0)
        after = documents.stats()
        assert (after.hits - before.hits, after.misses - before.misses) == (5, 0)

    def test_hash_alone_known_to_this_process_does_not_need_the_shared_cache(self, gql, viewer):
        gql.post(by_hash(VIEWER, with_query=True), token=viewer).ok()
        cache.clear()  # as if the shared cache had dropped it
        assert gql.post(by_hash(VIEWER), token=viewer).ok() == {"viewer": {"username": "alice"}}

    def test_repeated_query_text_is_parsed_and_validated_once(self, gql, viewer, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        for _ in range(3):
            gql(HOME_SCREEN, {"date": DAY}, token=viewer).ok()
        assert (spy.parsed, spy.validated) == (1, 1)

    def test_a_document_that_does_not_validate_is_cached_with_its_errors(self, gql, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        answers = [gql("{ viewer { noSuchField } }") for _ in range(2)]
        assert answers[0].body == answers[1].body and answers[0].codes == ["BAD_REQUEST"]
        assert (spy.parsed, spy.validated) == (1, 1)

    @override_settings(GRAPHQL_DOCUMENT_CACHE_SIZE=2)
    def test_cache_keeps_the_most_recently_used_documents_up_to_its_size(self, gql, monkeypatch):
        queries = ["{ viewer { id } }", "{ viewer { username } }", "{ viewer { timezone } }"]
        for query in queries:
            gql(query).ok()
        assert documents.stats().size == 2
        spy = PreparationSpy(monkeypatch)
        gql(queries[2]).ok()
        assert spy.parsed == 0
        gql(queries[0]).ok()  # the least recently used, dropped
        assert spy.parsed == 1


@pytest.fixture
def redis_database() -> Iterator[redis.Redis]:
    """The cache is Django's Redis backend on database 11, empty before and after the test."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    with override_settings(CACHES={"default": backend}):
        yield client
    client.flushdb()
    client.close()


@pytest.mark.usefixtures("redis_database")
class TestAgainstRedis:
    def test_apollo_sequence(self, gql, viewer):
        assert_apollo_sequence_works(apollo_sequence(gql, viewer))

    @override_settings(GRAPHQL_PERSISTED_QUERY_TIMEOUT=600)
    def test_query_is_stored_under_a_namespaced_key_with_the_timeout(self, gql, viewer, redis_database):
        gql.post(by_hash(VIEWER, with_query=True), token=viewer).ok()
        [key] = redis_database.keys(f"*{cache_key(sha256(VIEWER))}")
        assert 590 < redis_database.ttl(key) <= 600

    def test_another_process_finds_the_query_by_hash(self, gql, viewer):
        gql.post(by_hash(VIEWER, with_query=True), token=viewer).ok()
        documents.clear()  # another process: nothing prepared, only the shared cache
        assert gql.post(by_hash(VIEWER), token=viewer).ok() == {"viewer": {"username": "alice"}}


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The two ways the cache may be configured against Redis: Django's backend, whose errors
# reach the caller, and the production settings' django-redis, which reads them as misses.
UNREACHABLE_REDIS = {
    "django": {"BACKEND": "django.core.cache.backends.redis.RedisCache"},
    "django-redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    },
}


@pytest.fixture(params=sorted(UNREACHABLE_REDIS))
def unreachable_redis(request) -> Iterator[None]:
    backend = {**UNREACHABLE_REDIS[request.param], "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}
    with override_settings(CACHES={"default": backend}):
        yield


@pytest.fixture
def cache_warnings(project_logs) -> pytest.LogCaptureFixture:
    """Warnings of the project's loggers."""
    project_logs.handler.setLevel(logging.WARNING)
    return project_logs


@pytest.mark.usefixtures("unreachable_redis")
class TestWithRedisUnreachable:
    def test_query_with_its_hash_still_runs_and_the_failure_is_logged(self, gql, viewer, cache_warnings):
        answer = gql.post(by_hash(VIEWER, with_query=True), token=viewer)
        assert answer.ok() == {"viewer": {"username": "alice"}}
        logged = [(record.name, record.getMessage()) for record in cache_warnings.records]
        assert logged and all(name in ("calendar.persisted_queries", "calendar.cache") for name, _ in logged), logged

    def test_hash_alone_is_not_found_so_the_client_sends_the_query(self, gql, viewer):
        gql.post(by_hash(VIEWER, with_query=True), token=viewer).ok()
        documents.clear()  # another process
        assert_not_found(gql.post(by_hash(VIEWER), token=viewer))

    def test_apollo_sequence_degrades_to_sending_the_query(self, gql, viewer):
        first, registered, _ = apollo_sequence(gql, viewer)
        assert_not_found(first)
        assert registered.ok()


def registered(query: str) -> bool:
    return cache.get(cache_key(sha256(query))) == query


def viewer_query(number: int) -> str:
    """A different valid query text for each number."""
    return f"query Q{number} {{ viewer {{ username }} }}"


class TestWhatRegisteringMayStore:
    """Anyone may register: what they may store is bounded, and an unbounded attempt still runs."""

    def test_a_query_refused_by_the_limits_is_not_stored(self, gql, viewer):
        too_costly = "{ viewer { friends(first: 100) { edges { node { friends(first: 100) { edges { node {"
        too_costly += " friends(first: 100) { totalCount } } } } } } } } }"
        answer = gql.post(by_hash(too_costly, with_query=True), token=viewer)
        assert answer.codes == ["QUERY_TOO_COMPLEX"]
        assert not registered(too_costly)

    def test_a_mutation_refused_over_get_is_not_stored(self, gql, viewer):
        mutation = "mutation { logoutEverywhere: __typename }"
        get(gql, token=viewer, query=mutation, extensions=persisted(sha256(mutation)))
        assert not registered(mutation)

    @override_settings(GRAPHQL_PERSISTED_QUERY_MAX_BYTES=40)
    def test_a_query_over_the_size_bound_runs_but_is_not_stored(self, gql, viewer, project_logs):
        long_query = "query LongEnoughToPassTheBound { viewer { username } }"
        assert gql.post(by_hash(long_query, with_query=True), token=viewer).ok() == {"viewer": {"username": "alice"}}
        assert not registered(long_query)
        assert "over GRAPHQL_PERSISTED_QUERY_MAX_BYTES" in project_logs.text
        documents.clear()  # another process knows only the shared cache
        assert_not_found(gql.post(by_hash(long_query), token=viewer))

    @override_settings(GRAPHQL_PERSISTED_QUERY_REGISTRATIONS=3)
    def test_each_client_registers_a_bounded_number_an_hour(self, gql, world, viewer):
        for number in range(4):
            gql.post(by_hash(viewer_query(number), with_query=True), token=viewer).ok()
        assert [registered(viewer_query(number)) for number in range(4)] == [True, True, True, False]
        other = world.token(world.user("carol"))
        gql.post(by_hash(viewer_query(4), with_query=True), token=other).ok()
        assert registered(viewer_query(4))

    @override_settings(GRAPHQL_PERSISTED_QUERY_BYTES_PER_DAY=70)
    def test_everyone_together_registers_a_bounded_number_of_bytes_a_day(self, gql, world, viewer):
        tokens = [viewer] + [world.token(world.user(f"user{number}")) for number in range(3)]
        for number, token in enumerate(tokens):
            gql.post(by_hash(viewer_query(number), with_query=True), token=token).ok()
        # Each query is 32 bytes: two fit in 70 bytes.
        assert [registered(viewer_query(number)) for number in range(4)] == [True, True, False, False]
