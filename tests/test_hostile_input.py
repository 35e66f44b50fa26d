"""Hostile input against /graphql, beyond what tests/test_http.py (malformed JSON, content types,
a batch of 21, variables of the wrong type, CSRF) and tests/test_limits.py (depth, size, tokens,
aliases, cost) already cover: bodies over each size limit (Django's and the web process's),
documents as deep and wide as the limits allow, huge batches, bytes that are not UTF-8, absurd
variables, more shapes of broken JSON, duplicate keys, and cross-site requests.

Every answer has the right status and `extensions.code`, is never a 500, and costs no more than
its refusal needs: no SQL, or only the token lookup, and no parsing where a cheaper check refuses
first (structural checks, not timings). The last test runs the Procfile's web process and shows a
normal client served while hostile requests are refused beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from calendarapp.models import Event, User
from config.asgi_bridge import BufferedWSGIBridge
from schema.limits import MAX_NESTING
from tests.conftest import Answer, World, utc
from tests.test_asgi_bridge import http_scope
from tests.test_http import CODES, CREATE_EVENT, VIEWER, assert_request_error, is_token_lookup
from tests.test_limits import NESTED_PAGES, friends_chain
from tests.test_persisted_queries import PreparationSpy

FRIENDS_EVENTS = "query($d: Date!) { friendsEvents(date: $d) { totalCount } }"


pytestmark = pytest.mark.usefixtures("no_prepared_documents")


@pytest.fixture
def alice(world: World, alice: User) -> User:
    """The shared alice, with a friend who has a public event on 2026-11-23."""
    bob = world.user("bob")
    world.befriend(alice, bob)
    world.event(bob, utc(2026, 11, 23, 9), visibility="PUBLIC")
    return alice


def assert_no_sql_but_the_token_lookup(answer: Answer) -> None:
    """All a refusal may cost: looking up who is asking, once."""
    ran = [query["sql"] for query in answer.queries if not is_token_lookup(query)]
    assert ran == [], ran
    assert len(answer.queries) <= 1, answer.queries


def alice_has_events() -> bool:
    return Event.objects.filter(owner__username="alice").exists()


def assert_apis_codes(body) -> None:
    for result in body if isinstance(body, list) else [body]:
        for error in result.get("errors") or []:
            assert error["extensions"]["code"] in CODES, error
            assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error


def body_of_size(size: int, query: str = VIEWER) -> bytes:
    """A valid request body of exactly `size` bytes: the query, padded by an unused variable."""
    empty = json.dumps({"query": query, "variables": {"pad": ""}}).encode()
    body = json.dumps({"query": query, "variables": {"pad": "x" * (size - len(empty))}}).encode()
    assert len(body) == size
    return body


# --- bodies over a size limit --------------------------------------------------------------------


class TestBodiesOverDjangosLimit:
    """DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): Django refuses to read a larger body, on its length."""

    def test_a_body_at_the_limit_is_served_and_one_byte_more_is_413_before_any_sql(self, gql, token, monkeypatch):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        assert gql.post(body_of_size(limit), raw=True, token=token).ok() == {"viewer": {"username": "alice"}}

        spy = PreparationSpy(monkeypatch)
        answer = gql.post(body_of_size(limit + 1), raw=True, token=token)
        assert answer.status == 413, answer.body
        assert answer.body == {
            "errors": [
                {
                    "message": f"Request body size {limit + 1:,} bytes exceeds the limit of {limit:,} bytes.",
                    "extensions": {"code": "QUERY_TOO_COMPLEX"},
                }
            ]
        }
        assert answer.queries == []  # refused before the token is even looked up
        assert spy.parsed == 0

    def test_a_batch_over_the_limit_is_413_and_runs_nothing(self, gql, token):
        operation = {"query": CREATE_EVENT, "variables": {"title": "x" * 200_000}}
        answer = gql.post([operation] * 14, token=token)  # 14 mutations, 2.8 MB in all
        assert answer.status == 413 and answer.codes == ["QUERY_TOO_COMPLEX"], answer.body
        assert answer.queries == []
        assert not alice_has_events()


class CountingApp:
    """Django's WSGI application, counting the requests that reach it."""

    def __init__(self) -> None:
        self.django = get_wsgi_application()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.django(environ, start_response)


def through_the_web_process(body: bytes, headers: list | None = None, chunk: int = 1 << 16):
    """(status, JSON body, requests that reached Django) of `body` sent to the web process's
    ASGI application (config.asgi: Django behind BufferedWSGIBridge) in chunks, as gunicorn's
    asyncio worker hands them over. No database here: a request that ran SQL would fail."""
    app = CountingApp()
    bridge = BufferedWSGIBridge(app, settings.MAX_REQUEST_BODY_BYTES, settings.REQUEST_BODY_TIMEOUT_SECONDS)
    sent: list[dict] = []

    async def run() -> None:
        pieces = [body[start : start + chunk] for start in range(0, len(body), chunk)] or [b""]

        async def receive() -> dict:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

        async def send(message: dict) -> None:
            sent.append(message)

        await bridge(http_scope(headers=headers), receive, send)

    asyncio.run(run())
    status = sent[0]["status"]
    return status, json.loads(b"".join(message.get("body", b"") for message in sent[1:])), app.calls


class TestBodiesOverTheWebProcesssLimit:
    """MAX_REQUEST_BODY_BYTES (10 MB): the web process stops reading a larger body and never
    hands it to Django; between Django's limit and this one, Django refuses it."""

    def test_a_body_over_max_request_body_bytes_never_reaches_django(self):
        status, body, reached = through_the_web_process(body_of_size(settings.MAX_REQUEST_BODY_BYTES + 1))
        assert (status, reached) == (413, 0)
        limit = settings.MAX_REQUEST_BODY_BYTES
        assert body == {
            "errors": [
                {
                    "message": f"The request body is larger than the limit of {limit:,} bytes.",
                    "extensions": {"code": "QUERY_TOO_COMPLEX"},
                }
            ]
        }

    def test_a_body_between_the_two_limits_reaches_django_which_refuses_it_unread(self):
        size = (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + settings.MAX_REQUEST_BODY_BYTES) // 2
        status, body, reached = through_the_web_process(body_of_size(size))
        assert (status, reached) == (413, 1)
        assert [error["extensions"]["code"] for error in body["errors"]] == ["QUERY_TOO_COMPLEX"]

    def test_a_lying_content_length_is_ignored(self):
        """The body's real length counts: a small body claiming 10 GB is answered normally."""
        headers = [(b"content-type", b"application/json"), (b"content-length", b"10000000000")]
        status, body, reached = through_the_web_process(b'{"query": "{ __typename }"}', headers)
        assert (status, body, reached) == (200, {"data": {"__typename": "Query"}}, 1)


# --- documents as deep and as wide as the limits allow -------------------------------------------


class TestDeepAndWideDocuments:
    def test_inline_fragments_nested_to_the_bracket_limit_are_answered_one_more_is_refused_unparsed(
        self, gql, token, monkeypatch
    ):
        def nested(levels: int) -> str:  # `{ viewer` and each fragment open one bracket
            return "{ viewer { " + "... on User { " * levels + "username" + " }" * (levels + 2)

        assert gql(nested(MAX_NESTING - 2), token=token).ok() == {"viewer": {"username": "alice"}}
        spy = PreparationSpy(monkeypatch)
        answer = gql(nested(MAX_NESTING - 1), token=token)
        assert answer.status == 400 and answer.codes == ["QUERY_TOO_COMPLEX"], answer.body
        assert spy.parsed == 0
        assert_no_sql_but_the_token_lookup(answer)

    def test_an_input_object_literal_nested_60_deep_is_bad_user_input(self, gql, token):
        value = "{a: " * 60 + "1" + "}" * 60
        query = (
            f'mutation {{ createEvent(input: {{title: {value}, startsAt: "x", endsAt: "y"}}) {{ event {{ id }} }} }}'
        )
        answer = gql(query, token=token)
        assert answer.status == 400, answer.body
        assert [(error["extensions"]["code"], error["extensions"].get("field")) for error in answer.errors] == [
            ("BAD_USER_INPUT", "title"),
            ("BAD_USER_INPUT", "startsAt"),
            ("BAD_USER_INPUT", "endsAt"),
        ]
        assert_no_sql_but_the_token_lookup(answer)
        assert not alice_has_events()

    def test_the_widest_spread_the_token_limit_allows_costs_the_sql_of_one(self, gql, token):
        """450 spreads of one fragment are answered as one."""
        query = "{ viewer { " + "...F " * 450 + "} } fragment F on User { username friendCount }"
        single = gql("{ viewer { ...F } } fragment F on User { username friendCount }", token=token)
        answer = gql(query, token=token)
        assert answer.ok() == single.ok() == {"viewer": {"username": "alice", "friendCount": 1}}
        assert len(answer.queries) == len(single.queries)

    def test_the_most_fragments_the_token_limit_allows_are_answered(self, gql, token):
        count = (settings.GRAPHQL_MAX_TOKENS - 10) // 9  # `...Fn` and `fragment Fn on User { id }`
        spreads = " ".join(f"...F{index}" for index in range(count))
        fragments = " ".join(f"fragment F{index} on User {{ id }}" for index in range(count))
        answer = gql(f"{{ viewer {{ {spreads} }} }} {fragments}", token=token)
        assert answer.ok() == {"viewer": {"id": World.id(User.objects.get(username="alice"))}}

    def test_ten_thousand_aliases_are_refused_before_parsing(self, gql, token, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        query = "{ viewer { " + " ".join(f"a{index}: id" for index in range(10_000)) + " } }"
        answer = gql(query, token=token)
        assert answer.status == 400 and answer.codes == ["QUERY_TOO_COMPLEX"], answer.body
        assert spy.parsed == 0
        assert_no_sql_but_the_token_lookup(answer)

    def test_a_batch_of_twenty_alias_floods_is_parsed_once_and_runs_no_sql(self, gql, token, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        flood = "{ viewer { " + " ".join(f"a{index}: displayName" for index in range(21)) + " } }"
        answer = gql.post([{"query": flood}] * 20, token=token)
        assert answer.status == 200
        assert [[error["extensions"]["code"] for error in result["errors"]] for result in answer.body] == [
            ["QUERY_TOO_COMPLEX"]
        ] * 20
        assert (spy.parsed, spy.validated) == (1, 0)  # the refused document is kept by its hash
        assert_no_sql_but_the_token_lookup(answer)

    def test_a_repeated_directive_is_a_bad_request(self, gql, token):
        answer = gql("{ viewer { id " + "@skip(if: false) " * 50 + "} }", token=token)
        assert answer.status == 400 and set(answer.codes) == {"BAD_REQUEST"}, answer.body
        assert_no_sql_but_the_token_lookup(answer)

    def test_a_hundred_unused_variables_are_a_bad_request(self, gql, token):
        definitions = ", ".join(f"$v{index}: Int" for index in range(100))
        answer = gql(f"query({definitions}) {{ viewer {{ id }} }}", token=token)
        assert answer.status == 400 and set(answer.codes) == {"BAD_REQUEST"}, answer.body
        assert len(answer.errors) == 100
        assert_no_sql_but_the_token_lookup(answer)


# --- huge batches --------------------------------------------------------------------------------


class TestHugeBatches:
    def test_ten_thousand_mutations_are_refused_whole_unparsed_and_without_sql(self, gql, token, monkeypatch):
        spy = PreparationSpy(monkeypatch)
        operations = [{"query": CREATE_EVENT, "variables": {"title": f"E{index}"}} for index in range(10_000)]
        answer = gql.post(operations, token=token)
        assert_request_error(answer)
        assert answer.body["errors"][0]["message"] == "A batch may hold at most 20 operations; this one has 10000."
        assert answer.queries == []  # refused before the token is looked up
        assert spy.parsed == 0
        assert not alice_has_events()

    def test_a_batch_of_twenty_operations_each_over_a_limit_runs_none(self, gql, token):
        hostile = [
            {"query": friends_chain(30)},
            {"query": NESTED_PAGES},
            {"query": "{" * 100 + "}" * 100},
            {"query": "{ viewer { id } }" + " " * 70_000},
        ] * 5
        answer = gql.post(hostile, token=token)
        assert answer.status == 200 and len(answer.body) == 20
        for result in answer.body:
            assert set(result) == {"errors"}, result
            assert [error["extensions"]["code"] for error in result["errors"]] == ["QUERY_TOO_COMPLEX"], result
        assert_no_sql_but_the_token_lookup(answer)

    def test_batches_inside_a_batch_are_each_a_bad_request(self, gql, token):
        answer = gql.post([[{"query": VIEWER}], [[{"query": VIEWER}]], {"query": VIEWER}], token=token)
        assert answer.status == 200
        assert [result.get("errors", [{}])[0].get("extensions", {}).get("code") for result in answer.body] == [
            "BAD_REQUEST",
            "BAD_REQUEST",
            None,
        ]
        assert answer.body[2]["data"] == {"viewer": {"username": "alice"}}


# --- bytes that are not UTF-8 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{\xff"query": "{ viewer { id } }"}', "application/json"),
        (b'{"query": "{ viewer { id } } # \xc0\xaf"}', "application/json"),
        (b'{"query": "{ viewer { id } } # \xed\xa0\x80"}', "application/json"),
        (b'{"query": "{ viewer { id } } # \\ud800"}', "application/json"),
        ('{"query": "{ viewer { id } }"}'.encode("utf-16"), "application/json; charset=utf-16"),
        ('{"query": "{ viewer { id } } # \u00e9"}'.encode("latin-1"), "application/json; charset=latin-1"),
        (b'{"query": "{ viewer { id } }", "variables": {"d": "\xfe"}}', "application/json"),
    ],
    ids=[
        "outside-a-string",
        "overlong-encoding",
        "encoded-surrogate",
        "escaped-lone-surrogate",
        "utf-16",
        "latin-1",
        "in-a-variable",
    ],
)
def test_a_body_that_is_not_utf8_json_is_400_and_runs_no_sql(gql, token, body, content_type):
    """JSON is UTF-8 (RFC 8259); a charset parameter does not change that."""
    with CaptureQueriesContext(connection) as queries:
        response = gql.http.generic(
            "POST", "/graphql", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}"
        )
    assert_request_error(Answer(response.status_code, json.loads(response.content)))
    assert queries.captured_queries == []


@pytest.mark.parametrize(
    ("query_string", "code"),
    [
        ("query=%FF%FE", "BAD_REQUEST"),
        ("query=%7Bviewer%7Busername%7D%7D&operationName=%FF", "BAD_REQUEST"),
        (
            "query=query(%24d%3ADate!)%7BfriendsEvents(date%3A%24d)%7BtotalCount%7D%7D"
            "&variables=%7B%22d%22%3A%22%FF%22%7D",
            "BAD_USER_INPUT",
        ),
        ("query=%C0%AF%7Bviewer%7Bid%7D%7D", "BAD_REQUEST"),
    ],
    ids=["query", "operation-name", "variables", "overlong"],
)
def test_bytes_that_are_not_utf8_in_a_get_query_string_are_client_errors(gql, token, query_string, code):
    response = gql.http.get(f"/graphql?{query_string}", HTTP_AUTHORIZATION=f"Bearer {token}")
    body = json.loads(response.content)
    assert response.status_code == 400, body
    assert [error["extensions"]["code"] for error in body["errors"]] == [code]


def test_raw_bytes_that_are_not_utf8_in_a_get_query_string_are_400(gql):
    response = gql.http.get("/graphql", QUERY_STRING="query=\xff\xfe{viewer{id}}")
    assert response.status_code == 400
    assert json.loads(response.content)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# --- content types -------------------------------------------------------------------------------


def test_a_multipart_form_is_415_and_runs_nothing(gql, token):
    """The GraphQL multipart request spec's shape (file uploads), which this API does not take."""
    operations = json.dumps({"query": CREATE_EVENT, "variables": {"title": "By form"}})
    response = gql.http.post(
        "/graphql", {"operations": operations, "map": "{}", "query": CREATE_EVENT}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 415
    assert json.loads(response.content)["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert not alice_has_events()


def test_a_json_body_without_a_content_type_is_415_and_runs_nothing(gql, token):
    body = json.dumps({"query": CREATE_EVENT, "variables": {"title": "No type"}})
    response = gql.http.generic("POST", "/graphql", body, CONTENT_TYPE="", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 415
    body = json.loads(response.content)
    assert body["errors"][0]["message"] == "Send the request as application/json, not 'nothing'."
    assert not alice_has_events()


def test_the_media_type_is_case_insensitive(gql, token):
    answer = gql.post(json.dumps({"query": VIEWER}), raw=True, token=token, content_type="Application/JSON")
    assert answer.ok() == {"viewer": {"username": "alice"}}


# --- cross-site requests with a session cookie ---------------------------------------------------


@pytest.fixture
def session(alice) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def test_a_cross_site_batch_with_a_session_and_no_csrf_token_is_403_and_writes_nothing(session):
    batch = [{"query": CREATE_EVENT, "variables": {"title": f"E{index}"}} for index in range(3)]
    response = session.post("/graphql", json.dumps(batch), content_type="application/json")
    assert response.status_code == 403
    assert json.loads(response.content)["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert not alice_has_events()


def test_a_csrf_token_sent_from_another_origin_is_403(session):
    """Even with the right token, a POST whose Origin is another site's is refused."""
    session.get("/graphql", HTTP_ACCEPT="text/html")  # the GraphiQL page sets the CSRF cookie
    response = session.post(
        "/graphql",
        json.dumps({"query": CREATE_EVENT, "variables": {"title": "x"}}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=session.cookies["csrftoken"].value,
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert json.loads(response.content)["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert not alice_has_events()


def test_a_cross_site_form_post_as_text_plain_is_refused_before_anything_runs(session):
    """A plain HTML form can POST text/plain to another site without a preflight."""
    body = (
        'ignored={"query": "' + CREATE_EVENT.replace('"', '\\"').replace("\n", " ") + '", "variables": {"title": "x"}}'
    )
    response = session.post("/graphql", body, content_type="text/plain", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 415
    assert json.loads(response.content)["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert not alice_has_events()


def test_a_mutation_by_get_with_a_session_is_405(session):
    response = session.get("/graphql", {"query": CREATE_EVENT, "variables": '{"title": "x"}'})
    assert response.status_code == 405
    assert not alice_has_events()


# --- absurd variables ----------------------------------------------------------------------------


def nested_list(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


class TestAbsurdVariables:
    @pytest.mark.parametrize("depth", [64, 200, 1000, 1022])
    def test_variables_nested_deeper_than_any_input_type_are_bad_user_input_not_a_500(self, gql, token, depth):
        """Regression: variables nested about 1,000 deep (orjson reads up to 1,024 levels) overflowed
        Python's stack (RecursionError, a 500) in our NUL check and in graphql-core's coercion."""
        body = f'{{"query": {json.dumps(FRIENDS_EVENTS)}, "variables": {{"d": {nested_list(depth)}}}}}'
        answer = gql.post(body, raw=True, token=token)
        assert answer.status == 400 and answer.codes == ["BAD_USER_INPUT"], answer.body
        message = answer.errors[0]["message"]
        if depth + 1 > MAX_NESTING:  # the variables object is one more level
            assert message == f"Variables nest {depth + 1} levels deep, over the limit of {MAX_NESTING}."
        else:
            assert message.startswith("Variable '$d' got invalid value"), message
        assert_no_sql_but_the_token_lookup(answer)

    def test_an_unused_variable_nested_1000_deep_is_refused_too(self, gql, token):
        body = f'{{"query": {json.dumps(VIEWER)}, "variables": {{"unused": {nested_list(1000)}}}}}'
        answer = gql.post(body, raw=True, token=token)
        assert answer.status == 400 and answer.codes == ["BAD_USER_INPUT"], answer.body

    def test_a_nul_character_deep_in_nested_variables_is_found(self, gql, token):
        leaf = json.dumps("a" + chr(0))
        body = f'{{"query": {json.dumps(VIEWER)}, "variables": {{"x": {nested_list(60, leaf)}}}}}'
        answer = gql.post(body, raw=True, token=token)
        assert answer.status == 400 and answer.codes == ["BAD_USER_INPUT"], answer.body
        assert answer.errors[0]["message"] == f"Strings must not contain NUL characters (variables.x{'.0' * 60})."

    def test_variables_nested_deeper_than_json_allows_are_a_bad_request(self, gql, token):
        body = f'{{"query": {json.dumps(FRIENDS_EVENTS)}, "variables": {{"d": {nested_list(5000)}}}}}'
        assert_request_error(gql.post(body, raw=True, token=token))

    @pytest.mark.parametrize(
        ("number", "status", "code"),
        [
            ("18446744073709551616", 400, "BAD_USER_INPUT"),  # 2**64: read as a float
            ("-9223372036854775809", 400, "BAD_USER_INPUT"),
            ("2147483648", 400, "BAD_USER_INPUT"),
            ("1e308", 400, "BAD_USER_INPUT"),
            ("1e999", 400, "BAD_REQUEST"),  # not a double: not JSON this server reads
            ("1" * 400, 400, "BAD_REQUEST"),
        ],
    )
    def test_huge_numbers_for_first_are_refused(self, gql, token, number, status, code):
        query = 'query($n: Int) { friendsEvents(date: "2026-11-23", first: $n) { totalCount } }'
        answer = gql.post(f'{{"query": {json.dumps(query)}, "variables": {{"n": {number}}}}}', raw=True, token=token)
        assert answer.status == status and answer.codes == [code], answer.body
        assert_no_sql_but_the_token_lookup(answer)

    @pytest.mark.parametrize(
        ("query", "variable"),
        [
            ("query($v: String!) { user(username: $v) { id } }", "v"),
            ("query($v: ID!) { node(id: $v) { id } }", "v"),
            ('query($v: String) { friendsEvents(date: "2026-11-23", after: $v) { totalCount } }', "v"),
            ("query($v: String) { changes(since: $v) { cursor } }", "v"),
            ("query($v: String) { viewer { friends(search: $v) { totalCount } } }", "v"),
            ("query($v: Date!) { friendsEvents(date: $v) { totalCount } }", "v"),
            ("mutation($v: String!) { login(input: {username: $v, password: $v}) { token } }", "v"),
            (
                'mutation($v: String!) { signup(input: {username: "zed", password: "a-Long-pass-42", displayName: $v,'
                " timezone: $v}) { token } }",
                "v",
            ),
            ("mutation($v: String!) { sendFriendRequest(input: {username: $v}) { request { id } } }", "v"),
        ],
        ids=["username", "node-id", "after", "since", "search", "date", "login", "signup", "friend-request"],
    )
    def test_a_1_mb_string_anywhere_is_answered_without_a_500(self, gql, token, query, variable):
        answer = gql(query, {variable: "x" * (1 << 20)}, token=token)
        assert answer.status in (200, 400), answer.body  # an error with its code, or null: no such row
        assert_apis_codes(answer.body)
        # At most the token lookup, one statement and a mutation's savepoint around it.
        statements = [query["sql"] for query in answer.queries if "SAVEPOINT" not in query["sql"]]
        assert len(statements) <= 2, statements
        assert User.objects.count() == 2

    @pytest.mark.parametrize(
        ("query", "variables"),
        [
            ("query($v: String) { viewer { friends(search: $v) { totalCount } } }", {"v": "a\x00"}),
            ('query($v: String) { friendsEvents(date: "2026-11-23", after: $v) { totalCount } }', {"v": "\x00"}),
            ("query($v: ID!) { node(id: $v) { id } }", {"v": "RXZlbnQ6MQ==\x00"}),
            (FRIENDS_EVENTS, {"d": "2026-11-23\x00"}),
        ],
        ids=["search", "cursor", "id", "date"],
    )
    def test_nul_characters_in_more_variables_are_bad_user_input(self, gql, token, query, variables):
        answer = gql(query, variables, token=token)
        assert answer.status == 400 and answer.codes == ["BAD_USER_INPUT"], answer.body
        assert_no_sql_but_the_token_lookup(answer)

    def test_a_nul_character_in_a_variables_name_is_harmless(self, gql, token):
        body = f'{{"query": {json.dumps(VIEWER)}, "variables": {{"a\\u0000": 1}}}}'
        assert gql.post(body, raw=True, token=token).ok() == {"viewer": {"username": "alice"}}


# --- literals that do not fit their type ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('{ friendsEvents(date: "2026-11-23", first: "ten") { totalCount } }', "first"),
        ('{ friendsEvents(date: "2026-11-23", first: 99999999999) { totalCount } }', "first"),
        ('{ friendsEvents(date: "2026-11-23", after: 5) { totalCount } }', "after"),
        ("{ friendsEvents(date: 5) { totalCount } }", "date"),
        ("{ node(id: true) { id } }", "id"),
        ('mutation { rsvp(input: {eventId: "x", status: SOMETIMES}) { clientMutationId } }', "status"),
        ('mutation { rsvp(input: {eventId: "x", status: "GOING"}) { clientMutationId } }', "status"),
        ('mutation { respondToFriendRequest(input: {requestId: "x", accept: 1}) { clientMutationId } }', "accept"),
    ],
    ids=[
        "int-string",
        "int-overflow",
        "string-int",
        "date-int",
        "id-boolean",
        "enum-unknown",
        "enum-string",
        "bool-int",
    ],
)
def test_a_literal_that_does_not_fit_its_type_is_bad_user_input_naming_its_field(gql, token, query, field):
    """As the same value given in a variable is (tests/test_http.py). Regression: graphql-core's
    own scalars and enums word their refusal their own way, which came out as BAD_REQUEST."""
    answer = gql(query, token=token)
    assert answer.status == 400, answer.body
    [error] = answer.errors
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, error
    assert_no_sql_but_the_token_lookup(answer)


# --- more shapes of broken JSON ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' * 1025 + "1" + "}" * 1025,
        '{"query": "{ viewer { id } }"} trailing',
        '{"query": "{ viewer { id } }"}{"query": "{ viewer { id } }"}',
        '// a comment\n{"query": "{ viewer { id } }"}',
        '{"query": "{ viewer { id } }", "variables": {"n": NaN}}',
        '{"query": "{ viewer { id } }", "variables": {"n": Infinity}}',
        '{"query": "{ viewer { \\x41 } }"}',
        '{"query": "{ viewer {\x01 id } }"}',
        '{"query": "{ viewer { id } }',
        "{1: 2}",
        '{"query" "{ viewer { id } }"}',
        '{"query": "{ viewer { id } }",,}',
        "\x00",
    ],
    ids=[
        "unclosed-100k-deep",
        "100k-deep",
        "1025-deep-object",
        "trailing-garbage",
        "two-objects",
        "comment",
        "nan",
        "infinity",
        "bad-escape",
        "control-character",
        "unterminated-string",
        "number-key",
        "missing-colon",
        "double-comma",
        "nul-only",
    ],
)
def test_more_shapes_of_broken_json_are_400_bad_request_without_sql(gql, token, body):
    answer = gql.post(body, raw=True, token=token)
    assert_request_error(answer)
    assert answer.queries == []


# --- operation names and duplicate keys ----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [(VIEWER, "Viewer"), ("query A { viewer { id } }", "a"), ("query A { viewer { id } }", "A" * 100_000)],
    ids=["name-for-an-anonymous-operation", "wrong-case", "100k-characters"],
)
def test_an_operation_name_that_names_no_operation_is_a_bad_request(gql, token, query, operation_name):
    answer = gql(query, token=token, operation_name=operation_name)
    assert answer.status == 400 and answer.codes == ["BAD_REQUEST"], answer.body
    assert_no_sql_but_the_token_lookup(answer)


def test_with_duplicate_keys_the_last_one_counts_as_in_every_json_parser(gql, token):
    """JSON leaves duplicate names undefined; here, as in JavaScript's and Python's parsers, the
    last wins, consistently for the query, the variables and the keys inside them."""
    mutation = json.dumps(CREATE_EVENT)
    body = (
        f'{{"query": {json.dumps(VIEWER)}, "variables": {{"title": "first"}}, "query": {mutation},'
        ' "variables": {"title": "ignored", "title": "last"}}'
    )
    answer = gql.post(body, raw=True, token=token)
    assert answer.ok() == {"createEvent": {"event": {"title": "last"}}}
    assert list(Event.objects.filter(owner__username="alice").values_list("title", flat=True)) == ["last"]


def test_a_duplicate_query_parameter_in_a_get_cannot_smuggle_a_mutation(gql, token):
    from urllib.parse import urlencode

    for order in ([VIEWER, CREATE_EVENT], [CREATE_EVENT, VIEWER]):
        query_string = urlencode([("query", query) for query in order] + [("variables", '{"title": "x"}')])
        response = gql.http.get(f"/graphql?{query_string}", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code in (200, 405), response.content
    assert not alice_has_events()


# --- the web process keeps serving others meanwhile ----------------------------------------------


def hostile_database_url() -> str:
    """A bench database of this test's own, named after the one the run tests on
    (`<name>_bench_hostile`): runs of different branches on one PostgreSQL server never share
    its schema (a branch's migration would break another's seeding)."""
    tested = urlsplit(os.environ.get("DATABASE_URL") or "postgres://root@127.0.0.1:5432/calendar")
    return urlunsplit(tested._replace(path=f"{tested.path.rstrip('/')}_bench_hostile"))


HOSTILE_DATABASE_URL = hostile_database_url()
HOSTILE_SECONDS = 5
REQUEST_TIMEOUT = 10


def _hostile_requests() -> list[tuple[str, bytes, int, str]]:
    """(name, body, expected status, expected code) of each hostile request the clients send."""
    over_bridge = settings.MAX_REQUEST_BODY_BYTES + (1 << 15)
    between = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + (1 << 20)

    def request(query: str, **fields) -> bytes:
        return json.dumps({"query": query, **fields}).encode()

    return [
        ("body over MAX_REQUEST_BODY_BYTES", body_of_size(over_bridge), 413, "QUERY_TOO_COMPLEX"),
        ("body over DATA_UPLOAD_MAX_MEMORY_SIZE", body_of_size(between), 413, "QUERY_TOO_COMPLEX"),
        ("depth 30", request(friends_chain(30)), 400, "QUERY_TOO_COMPLEX"),
        ("nesting 300", request("{" + "viewer {" * 300 + "id" + "}" * 301), 400, "QUERY_TOO_COMPLEX"),
        (
            "10,000 aliases",
            request("{ viewer { " + " ".join(f"a{i}: id" for i in range(10_000)) + " } }"),
            400,
            "QUERY_TOO_COMPLEX",
        ),
        ("cost 3,030,302", request(NESTED_PAGES), 400, "QUERY_TOO_COMPLEX"),
        ("10,000 operations", json.dumps([{"query": VIEWER}] * 10_000).encode(), 400, "BAD_REQUEST"),
        (
            "variables 1,000 deep",
            f'{{"query": {json.dumps(FRIENDS_EVENTS)}, "variables": {{"d": {nested_list(1000)}}}}}'.encode(),
            400,
            "BAD_USER_INPUT",
        ),
        ("broken JSON", b'{"query": ' * 1000, 400, "BAD_REQUEST"),
    ]


def _post(port: int, body: bytes, token: str) -> tuple[int, dict]:
    """One POST over a fresh connection; reads the answer even when the server stopped reading
    the body early (a refused oversized body). A failure is status 0, with what went wrong."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    try:
        # The server may answer (413) before taking the whole body: then read that answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request("POST", "/graphql", body, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    except (OSError, http.client.HTTPException, ValueError) as error:
        return 0, {"errors": [{"message": repr(error), "extensions": {"code": "(no answer)"}}]}
    finally:
        connection.close()


@pytest.mark.postgres_only
def test_the_web_process_serves_a_normal_client_while_refusing_hostile_requests(tmp_path: Path, collected_static):
    """The Procfile's web process (production settings, gunicorn's workers) on 127.0.0.1: a client
    asking for the home screen is answered, every time, while three others send oversized bodies,
    deep and costly queries, floods and broken JSON, each refused with its status and code."""
    from bench.harness import django_env, home_screen_body, login, prepare_database, web_server

    prepare_database(HOSTILE_DATABASE_URL, friends=10)
    hostile = _hostile_requests()
    with web_server(django_env(HOSTILE_DATABASE_URL), tmp_path / "web.log") as (url, _pid):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        token = login(url)
        home = home_screen_body()
        stop = threading.Event()
        normal: list[tuple[float, int, dict]] = []
        refused: list[tuple[float, str, int, dict]] = []

        def normal_client() -> None:
            while not stop.is_set():
                status, body = _post(port, home, token)
                normal.append((time.monotonic(), status, body))

        def hostile_client(offset: int) -> None:
            index = offset
            while not stop.is_set():
                name, body, _, _ = hostile[index % len(hostile)]
                status, answer = _post(port, body, token)
                refused.append((time.monotonic(), name, status, answer))
                index += 1

        threads = [threading.Thread(target=normal_client)]
        threads += [threading.Thread(target=hostile_client, args=(offset,)) for offset in (0, 3, 6)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(HOSTILE_SECONDS)
        stop.set()
        for thread in threads:
            thread.join(timeout=2 * REQUEST_TIMEOUT)
        log = (tmp_path / "web.log").read_text()

    expected = {name: (status, code) for name, _, status, code in hostile}
    outcomes = Counter((name, status, answer["errors"][0]["extensions"]["code"]) for _, name, status, answer in refused)
    assert {name for name, _, _ in outcomes} == set(expected), outcomes  # every kind was sent
    for (name, status, code), count in outcomes.items():
        assert (status, code) == expected[name], f"{name}: {count} x {status} {code}"
    during = [at for at, _, _ in normal if at < started + HOSTILE_SECONDS]
    assert len(during) >= 5, f"the normal client got {len(during)} answers in {HOSTILE_SECONDS} s"
    assert all(status == 200 and "errors" not in body for _, status, body in normal), normal[:3]
    assert {body["data"]["viewer"]["friends"]["totalCount"] for _, _, body in normal} == {10}
    assert "Traceback" not in log and '"status": 500' not in log and '"status":500' not in log


def test_a_huge_unknown_operation_name_is_not_echoed_back_whole(gql, token):
    answer = gql(VIEWER, token=token, operation_name="N" * 100_000)
    assert answer.status == 400 and answer.codes == ["BAD_REQUEST"]
    [error] = answer.errors
    assert error["message"] == f"Unknown operation named '{'N' * 100}...'."
