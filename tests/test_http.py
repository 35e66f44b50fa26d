"""The transport of /graphql and hostile input: whatever arrives, the answer is
JSON with the right status and error codes, never a 500."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from calendarapp.models import Event, User
from tests.conftest import Answer, utc

CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "QUERY_TOO_COMPLEX",
    "PERSISTED_QUERY_NOT_FOUND",
    "BAD_REQUEST",
    "RATE_LIMITED",
    "INTERNAL_SERVER_ERROR",
}

VIEWER = "{ viewer { username } }"
CREATE_EVENT = """mutation($title: String!) { createEvent(input: {title: $title,
    startsAt: "2026-11-23T12:00:00Z", endsAt: "2026-11-23T13:00:00Z"}) { event { title } } }"""


def assert_request_error(answer: Answer, status: int = 400, code: str = "BAD_REQUEST") -> None:
    """The exact shape of a request refused before any operation runs."""
    assert answer.status == status, answer.body
    assert isinstance(answer.body, dict) and set(answer.body) == {"errors"}, answer.body
    [error] = answer.body["errors"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["extensions"] == {"code": code}, answer.body


def assert_codes_are_the_apis(body) -> None:
    """Every error of a body (or of each body of a batch) carries one of the API's codes, and no internals."""
    for result in body if isinstance(body, list) else [body]:
        for error in result.get("errors") or []:
            assert error["extensions"]["code"] in CODES, error
            assert "Traceback" not in error["message"] and 'File "' not in error["message"], error


def get(client: Client, params: dict | None = None, token: str | None = None, **headers) -> Answer:
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = client.get("/graphql", params or {}, **headers)
    return Answer(response.status_code, json.loads(response.content))


@pytest.fixture
def alice(world):
    return world.user("alice")


@pytest.fixture
def token(world, alice):
    return world.token(alice)


# --- bodies that are not GraphQL requests --------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "{",
        '{"query": ',
        "{'query': '{ viewer { id } }'}",
        " ",
        "nul\x00l",
        '{"query": "{ viewer { id } }",}',
        "\ufeff{}",
    ],
    ids=["open-brace", "truncated", "single-quotes", "blank", "nul-byte", "trailing-comma", "bom"],
)
def test_malformed_json_is_400_bad_request(gql, body):
    answer = gql.post(body, raw=True)
    assert_request_error(answer)


def test_an_empty_body_is_refused_with_bad_request(gql):
    # An empty body comes without a Content-Type from Django's test client: 400 or 415 both fit.
    response = gql.http.post("/graphql", b"", content_type="application/json")
    assert response.status_code in (400, 415)
    body = json.loads(response.content)
    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_REQUEST"]


def test_a_body_that_is_not_utf8_is_400_bad_request(gql):
    answer = gql.post(b'{"query": "\xff\xfe"}', raw=True)
    assert_request_error(answer)


@pytest.mark.parametrize(
    "body",
    [
        "5",
        '"{ viewer { id } }"',
        "null",
        "true",
        "{}",
        '{"query": 5}',
        '{"query": null}',
        '{"query": ""}',
        '{"query": "   "}',
        '{"query": ["{ viewer { id } }"]}',
        '{"variables": {}}',
        '{"query": "{ viewer { id } }", "operationName": 5}',
        '{"query": "{ viewer { id } }", "operationName": ["a"]}',
    ],
    ids=[
        "number",
        "string",
        "null",
        "boolean",
        "empty-object",
        "query-number",
        "query-null",
        "query-empty",
        "query-blank",
        "query-list",
        "no-query",
        "operation-name-number",
        "operation-name-list",
    ],
)
def test_json_that_is_not_a_graphql_request_is_400_bad_request(gql, body):
    assert_request_error(gql.post(body, raw=True))


@pytest.mark.parametrize(
    "variables",
    ["[1, 2]", '"{}"', "5", "true", '"x"'],
    ids=["array", "json-in-a-string", "number", "boolean", "string"],
)
def test_variables_that_are_not_an_object_are_400_bad_request(gql, token, variables):
    query = json.dumps("query($d: Date!) { friendsEvents(date: $d) { totalCount } }")
    body = f'{{"query": {query}, "variables": {variables}}}'
    assert_request_error(gql.post(body, raw=True, token=token))


def test_null_variables_and_extensions_are_accepted(gql, token):
    answer = gql.post({"query": VIEWER, "variables": None, "operationName": None, "extensions": None}, token=token)
    assert answer.ok() == {"viewer": {"username": "alice"}}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/graphql", "text/html", "application/xml"],
)
def test_a_wrong_content_type_is_refused_with_bad_request(gql, token, content_type):
    answer = gql.post(
        json.dumps({"query": CREATE_EVENT, "variables": {"title": "x"}}),
        raw=True,
        content_type=content_type,
        token=token,
    )
    assert 400 <= answer.status < 500, answer.body
    assert answer.codes == ["BAD_REQUEST"]
    assert not Event.objects.exists()


def test_json_with_a_charset_parameter_is_accepted(gql, token):
    answer = gql.post(
        json.dumps({"query": VIEWER}), raw=True, content_type="application/json; charset=utf-8", token=token
    )
    assert answer.ok() == {"viewer": {"username": "alice"}}


# --- documents that do not parse, validate or select an operation --------------------------------


@pytest.mark.parametrize(
    "query",
    ["{ viewer { username }", "query {", "}{", "mutation { createEvent(input: {title: }) { event { id } } }", "\x00"],
    ids=["unclosed", "open-query", "reversed", "missing-value", "nul"],
)
def test_a_syntax_error_is_400_bad_request(gql, token, query):
    answer = gql(query, token=token)
    assert answer.status == 400, answer.body
    assert answer.codes == ["BAD_REQUEST"]
    assert "data" not in answer.body
    assert answer.errors[0]["message"].startswith("Syntax Error")


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { username password } }",
        "{ nope }",
        "{ viewer }",
        "query($d: Date!) { viewer { username } }",
        "{ user { username } }",
        "mutation { deleteEvent(input: {}) { deletedId } }",
        "{ viewer { ...F } }",
        "subscription { viewer { id } }",
    ],
    ids=[
        "unknown-field",
        "unknown-root-field",
        "missing-selection",
        "unused-variable",
        "missing-argument",
        "missing-input-field",
        "unknown-fragment",
        "no-subscriptions",
    ],
)
def test_a_document_that_does_not_validate_is_bad_request(gql, token, query):
    answer = gql(query, token=token)
    assert answer.status == 400, answer.body
    assert answer.errors and set(answer.codes) == {"BAD_REQUEST"}, answer.body
    assert answer.data is None


def test_the_validation_error_of_an_unknown_field_names_it_with_its_location(gql, token):
    answer = gql("{ viewer { username\n password } }", token=token)
    [error] = answer.errors
    assert "password" in error["message"]
    assert error["locations"] == [{"line": 2, "column": 2}]


TWO_OPERATIONS = "query Me { viewer { username } } query Them { viewer { displayName } }"


def test_the_operation_named_by_operation_name_is_the_one_run(gql, token):
    assert gql(TWO_OPERATIONS, token=token, operation_name="Them").ok() == {"viewer": {"displayName": "Alice"}}
    assert gql(TWO_OPERATIONS, token=token, operation_name="Me").ok() == {"viewer": {"username": "alice"}}


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [(TWO_OPERATIONS, "Nobody"), (TWO_OPERATIONS, None), ("query Me { viewer { username } }", "Other")],
    ids=["unknown-name", "several-without-a-name", "unknown-name-single"],
)
def test_an_operation_name_that_selects_nothing_is_bad_request(gql, token, query, operation_name):
    answer = gql(query, token=token, operation_name=operation_name)
    assert answer.status == 400, answer.body
    assert answer.codes == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($d: Date!) { friendsEvents(date: $d) { totalCount } }", {"d": 5}),
        ("query($d: Date!) { friendsEvents(date: $d) { totalCount } }", {"d": "23/11/2026"}),
        ("query($d: Date!) { friendsEvents(date: $d) { totalCount } }", {}),
        ("query($d: Date!) { friendsEvents(date: $d) { totalCount } }", {"d": None}),
        ('query($n: Int) { friendsEvents(date: "2026-11-23", first: $n) { totalCount } }', {"n": "ten"}),
        ('query($n: Int) { friendsEvents(date: "2026-11-23", first: $n) { totalCount } }', {"n": 2**40}),
        ('query($n: Int) { friendsEvents(date: "2026-11-23", first: $n) { totalCount } }', {"n": 1.5}),
        (CREATE_EVENT, {"title": ["a"]}),
        (CREATE_EVENT, {"title": {"a": 1}}),
    ],
    ids=[
        "date-number",
        "date-format",
        "missing",
        "null-non-null",
        "int-string",
        "int-overflow",
        "int-float",
        "list",
        "obj",
    ],
)
def test_a_variable_of_the_wrong_type_is_bad_user_input(gql, token, query, variables):
    answer = gql(query, variables, token=token)
    assert answer.codes == ["BAD_USER_INPUT"], answer.body
    assert answer.data is None
    assert answer.status in (200, 400)
    assert not Event.objects.exists()


def test_an_input_object_with_an_unknown_field_is_bad_user_input(gql, token):
    answer = gql(
        "mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }",
        {
            "input": {
                "title": "x",
                "startsAt": "2026-11-23T12:00:00Z",
                "endsAt": "2026-11-23T13:00:00Z",
                "colour": "red",
            }
        },
        token=token,
    )
    assert answer.codes == ["BAD_USER_INPUT"], answer.body
    assert not Event.objects.exists()


# --- GET, other methods, GraphiQL ----------------------------------------------------------------


def test_a_query_by_get_works_with_a_bearer_token(gql, token):
    answer = get(gql.http, {"query": "{viewer{username}}"}, token=token)
    assert answer.status == 200
    assert answer.ok() == {"viewer": {"username": "alice"}}


def test_a_query_by_get_takes_variables_and_an_operation_name(gql, world, alice, token):
    world.event(alice, utc(2026, 11, 23, 9), title="Standup")
    params = {
        "query": "query A { viewer { username } } query B($d: Date!) { viewer { events(date: $d) { totalCount } } }",
        "operationName": "B",
        "variables": json.dumps({"d": "2026-11-23"}),
    }
    assert get(gql.http, params, token=token).ok() == {"viewer": {"events": {"totalCount": 1}}}


def test_a_query_by_get_without_a_token_is_anonymous(gql):
    assert get(gql.http, {"query": "{viewer{username}}"}).ok() == {"viewer": None}


@pytest.mark.parametrize(
    "params",
    [
        {"query": CREATE_EVENT, "variables": '{"title": "By GET"}'},
        {
            "query": "query Q { viewer { id } } " + CREATE_EVENT.replace("mutation(", "mutation M("),
            "operationName": "M",
            "variables": '{"title": "By GET"}',
        },
    ],
    ids=["mutation", "mutation-named-among-queries"],
)
def test_a_mutation_by_get_is_refused_with_405_and_writes_nothing(gql, token, params):
    answer = get(gql.http, params, token=token)
    assert answer.status == 405, answer.body
    assert answer.codes == ["BAD_REQUEST"]
    assert not answer.data
    assert not Event.objects.exists()


def test_a_signup_by_get_writes_nothing(gql):
    query = (
        'mutation { signup(input: {username: "eve", password: "a-Long-pass-42", displayName: "Eve", timezone: "UTC"})'
        " { token } }"
    )
    answer = get(gql.http, {"query": query})
    assert answer.status == 405
    assert not User.objects.filter(username="eve").exists()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"query": ""},
        {"query": "{viewer{id}}", "variables": "{not json"},
        {"query": "{viewer{id}}", "variables": "[1]"},
    ],
    ids=["no-query", "empty-query", "variables-not-json", "variables-not-an-object"],
)
def test_a_bad_get_request_is_400_bad_request(gql, token, params):
    assert_request_error(get(gql.http, params, token=token))


def test_get_from_a_browser_opens_graphiql_from_local_static_files(gql):
    response = gql.http.get("/graphql", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "graphiql" in html.lower()
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    scripts = [url for url in assets if url.endswith(".js")]
    assert scripts, html
    for url in assets:
        if url.startswith("data:"):
            continue
        # Never from a CDN: it must work offline.
        assert not re.match(r"^(https?:)?//", url), url
        asset = gql.http.get(url)
        assert asset.status_code == 200, url
        asset.close()


def graphiql_opening(client: Client) -> dict:
    """The props GraphiQL's page opens its editors with (schema/graphiql.py)."""
    html = client.get("/graphql", HTTP_ACCEPT="text/html").content.decode()
    found = re.search(r'<script id="graphiql-opening" type="application/json">(.*?)</script>', html, re.S)
    assert found, html
    return json.loads(found.group(1))


def test_without_debug_graphiql_opens_without_a_token_or_an_operation_whatever_is_set(gql, settings):
    """Production: DEBUG is off, so a token in GRAPHIQL_TOKEN (which only the dev settings
    read) would still never reach the page."""
    settings.GRAPHIQL_TOKEN = "a-token-that-must-not-show"
    html = gql.http.get("/graphql", HTTP_ACCEPT="text/html").content.decode()
    assert "a-token-that-must-not-show" not in html
    assert set(graphiql_opening(gql.http)) == {"defaultQuery"}


def test_in_debug_graphiql_opens_on_the_home_screen_with_the_token_make_serve_gave(gql, settings):
    settings.DEBUG = True
    settings.GRAPHIQL_TOKEN = "the-demo-users-token"
    opening = graphiql_opening(gql.http)
    home_screen = (settings.GRAPHQL_OPERATIONS_DIR / "home_screen.graphql").read_text()
    assert opening["query"].endswith(home_screen)
    assert json.loads(opening["variables"]) == {"date": "2026-11-23"}
    assert json.loads(opening["headers"]) == {"Authorization": "Bearer the-demo-users-token"}

    settings.GRAPHIQL_TOKEN = ""  # `manage.py runserver` alone: the home screen, and how to log in
    opening = graphiql_opening(gql.http)
    assert "headers" not in opening
    assert opening["query"].endswith(home_screen)
    assert 'login(input: {username: "power",' in opening["query"]


def test_get_with_a_query_and_a_browser_accept_header_answers_json(gql, token):
    response = gql.http.get(
        "/graphql", {"query": "{viewer{username}}"}, HTTP_ACCEPT="text/html", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content) == {"data": {"viewer": {"username": "alice"}}}


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_405_with_a_json_body(gql, token, method):
    response = getattr(gql.http, method)(
        "/graphql",
        json.dumps({"query": CREATE_EVENT, "variables": {"title": "x"}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_REQUEST"]
    assert not Event.objects.exists()


# --- batches -------------------------------------------------------------------------------------


def test_a_batch_answers_each_operation_in_order_exactly_as_alone(gql, world, alice, token):
    bob = world.user("bob")
    world.befriend(alice, bob)
    world.event(bob, utc(2026, 11, 23, 9), title="Standup")
    operations = [
        {"query": VIEWER},
        {
            "query": "query($d: Date!) { friendsEvents(date: $d) { totalCount edges { node { title } } } }",
            "variables": {"d": "2026-11-23"},
        },
        {"query": '{ user(username: "bob") { displayName isFriend } }'},
        {"query": '{ user(username: "nobody") { displayName } }'},
        {"query": "query($u: String!) { user(username: $u) { friends { totalCount } } }", "variables": {"u": "bob"}},
    ]
    alone = [gql.post(operation, token=token).body for operation in operations]

    batch = gql.post(operations, token=token)

    assert batch.status == 200
    assert isinstance(batch.body, list)
    assert batch.body == alone
    assert batch.body[0] == {"data": {"viewer": {"username": "alice"}}}
    assert batch.body[1]["data"]["friendsEvents"]["edges"] == [{"node": {"title": "Standup"}}]
    assert batch.body[3] == {"data": {"user": None}}


def test_a_batch_of_one_is_still_a_list(gql, token):
    batch = gql.post([{"query": VIEWER}], token=token)
    assert batch.status == 200
    assert batch.body == [{"data": {"viewer": {"username": "alice"}}}]


def test_a_batch_of_twenty_mutations_runs_them_all_in_order(gql, token):
    operations = [{"query": CREATE_EVENT, "variables": {"title": f"E{i:02}"}} for i in range(20)]
    batch = gql.post(operations, token=token)
    assert batch.status == 200
    assert [result["data"]["createEvent"]["event"]["title"] for result in batch.body] == [f"E{i:02}" for i in range(20)]
    assert list(Event.objects.order_by("pk").values_list("title", flat=True)) == [f"E{i:02}" for i in range(20)]


def test_a_batch_of_twenty_one_is_refused_whole_and_runs_nothing(gql, token):
    operations = [{"query": CREATE_EVENT, "variables": {"title": f"E{i:02}"}} for i in range(21)]
    answer = gql.post(operations, token=token)
    assert_request_error(answer)
    assert not Event.objects.exists()


def test_a_batch_of_twenty_one_signups_creates_no_user(gql):
    query = """mutation($u: String!) { signup(input: {username: $u, password: "a-Long-pass-42",
        displayName: "X", timezone: "UTC"}) { token } }"""
    answer = gql.post([{"query": query, "variables": {"u": f"user{i}"}} for i in range(21)])
    assert_request_error(answer)
    assert not User.objects.exists()


def test_an_empty_batch_is_400_bad_request(gql, token):
    assert_request_error(gql.post([], token=token))


def test_a_batch_mixing_good_and_bad_operations_answers_each(gql, token):
    operations = [
        {"query": VIEWER},
        {"query": "{ viewer { username "},
        {"query": "{ viewer { password } }"},
        {"query": CREATE_EVENT, "variables": {"title": ""}},
        5,
        {"query": "query($d: Date!) { friendsEvents(date: $d) { totalCount } }", "variables": {"d": "nope"}},
        {"query": CREATE_EVENT, "variables": {"title": "Kept"}},
        {},
        {"query": VIEWER, "variables": [1]},
        {"query": TWO_OPERATIONS, "operationName": "Them"},
    ]
    batch = gql.post(operations, token=token)

    assert batch.status == 200
    assert len(batch.body) == len(operations)
    codes = [[error["extensions"]["code"] for error in result.get("errors", [])] for result in batch.body]
    assert codes == [
        [],
        ["BAD_REQUEST"],
        ["BAD_REQUEST"],
        ["BAD_USER_INPUT"],
        ["BAD_REQUEST"],
        ["BAD_USER_INPUT"],
        [],
        ["BAD_REQUEST"],
        ["BAD_REQUEST"],
        [],
    ]
    assert batch.body[0]["data"] == {"viewer": {"username": "alice"}}
    assert batch.body[3]["data"] == {"createEvent": None}
    assert batch.body[3]["errors"][0]["extensions"]["field"] == "title"
    assert batch.body[6]["data"] == {"createEvent": {"event": {"title": "Kept"}}}
    assert batch.body[9]["data"] == {"viewer": {"displayName": "Alice"}}
    assert list(Event.objects.values_list("title", flat=True)) == ["Kept"]
    for result in batch.body:
        assert set(result) <= {"data", "errors", "extensions"}


def test_a_batch_with_a_mutation_between_queries_shows_each_the_data_of_its_time(gql, world, alice, token):
    """The operations of a batch share loaders: a mutation must not leave stale caches behind."""
    event = world.event(alice, utc(2026, 11, 23, 9), title="Before")
    query = {
        "query": "query($id: ID!) { node(id: $id) { ... on Event { title } } }",
        "variables": {"id": world.id(event)},
    }
    count = {"query": "{ viewer { eventCount } }"}
    update = {
        "query": 'mutation($id: ID!) { updateEvent(input: {id: $id, title: "After"}) { event { title } } }',
        "variables": {"id": world.id(event)},
    }
    create = {"query": CREATE_EVENT, "variables": {"title": "New"}}
    batch = gql.post([query, count, update, query, create, count], token=token)
    assert [result["data"] for result in batch.body] == [
        {"node": {"title": "Before"}},
        {"viewer": {"eventCount": 1}},
        {"updateEvent": {"event": {"title": "After"}}},
        {"node": {"title": "After"}},
        {"createEvent": {"event": {"title": "New"}}},
        {"viewer": {"eventCount": 2}},
    ]


HOME = """query Home($date: Date!) {
  viewer {
    username
    friends(first: 20) { totalCount edges { node { id displayName isFriend mutualFriendCount
      events(date: $date) { totalCount edges { node { id title attendeeCount viewerRsvp } } } } } }
  }
  friendsEvents(date: $date, first: 50) { totalCount edges { cursor node { id title startsAt endsAt visibility
    owner { id displayName avatarUrl } attendeeCount viewerRsvp
    attendees(first: 5) { totalCount edges { node { id } } } } } }
}"""


def test_the_operations_of_a_batch_share_loaders(gql, world, alice, token):
    friends = [world.user(f"friend{i}") for i in range(3)]
    for friend in friends:
        world.befriend(alice, friend)
        for hour in (9, 14):
            event = world.event(friend, utc(2026, 11, 23, hour), visibility="PUBLIC")
            world.rsvp(alice, event)
            if friend is not friends[0]:
                world.rsvp(friends[0], event)
    operation = {"query": HOME, "variables": {"date": "2026-11-23"}}
    gql.post(operation, token=token).ok()  # warm the parse cache
    single = gql.post(operation, token=token)
    data = single.ok()
    assert data["friendsEvents"]["totalCount"] == 6

    batch = gql.post([operation, operation], token=token)

    assert batch.body == [single.body, single.body]
    assert len(batch.queries) <= len(single.queries), [q["sql"] for q in batch.queries]


# --- authentication --------------------------------------------------------------------------------


PROTECTED = '{ friendsEvents(date: "2026-11-23") { totalCount } }'


@pytest.mark.parametrize(
    "header",
    [
        "Bearer garbage",
        "Bearer ",
        "Bearer",
        "Basic x",
        "Basic YWxpY2U6c2VjcmV0LXBhc3MtMTIz",
        "Token abc",
        "Bearer " + "x" * 10_000,
        "Bearer a b c",
        "",
        "Bearer \u00e9\u00e8",
    ],
    ids=[
        "garbage",
        "empty-token",
        "scheme-only",
        "basic",
        "basic-real-password",
        "token-scheme",
        "huge",
        "spaces",
        "empty",
        "non-ascii",
    ],
)
def test_an_invalid_authorization_header_is_anonymous(gql, alice, header):
    assert_anonymous(gql, HTTP_AUTHORIZATION=header)


def assert_anonymous(gql, **headers) -> None:
    """viewer is null, and everything else answers UNAUTHENTICATED."""
    assert gql.post({"query": VIEWER}, **headers).ok() == {"viewer": None}
    answer = gql.post({"query": PROTECTED}, **headers)
    assert answer.status == 200
    assert answer.codes == ["UNAUTHENTICATED"]
    assert answer.errors[0]["path"] == ["friendsEvents"]
    answer = gql.post({"query": CREATE_EVENT, "variables": {"title": "x"}}, **headers)
    assert answer.codes == ["UNAUTHENTICATED"]
    assert not Event.objects.exists()


def test_the_bearer_scheme_is_case_insensitive(gql, token):
    answer = gql.post({"query": VIEWER}, HTTP_AUTHORIZATION=f"bearer {token}")
    assert answer.ok() == {"viewer": {"username": "alice"}}


def test_another_users_token_is_not_confused_with_this_one(gql, world, token):
    bob_token = world.token(world.user("bob"))
    assert gql(VIEWER, token=bob_token).ok() == {"viewer": {"username": "bob"}}
    assert gql(VIEWER, token=token).ok() == {"viewer": {"username": "alice"}}


def test_a_deleted_users_token_stops_working(gql, alice, token):
    assert gql(VIEWER, token=token).ok() == {"viewer": {"username": "alice"}}
    alice.delete()
    assert_anonymous(gql, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_deactivated_users_token_stops_working(gql, alice, token):
    alice.is_active = False
    alice.save()
    assert_anonymous(gql, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def session_client(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def test_a_session_post_without_csrf_token_is_403_forbidden_and_writes_nothing(session_client):
    response = session_client.post(
        "/graphql", json.dumps({"query": CREATE_EVENT, "variables": {"title": "x"}}), content_type="application/json"
    )
    assert response.status_code == 403
    body = json.loads(response.content)
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert "data" not in body
    assert not Event.objects.exists()


def test_a_session_post_with_a_wrong_csrf_token_is_403_forbidden(session_client):
    session_client.get("/graphql", HTTP_ACCEPT="text/html")
    response = session_client.post(
        "/graphql", json.dumps({"query": VIEWER}), content_type="application/json", HTTP_X_CSRFTOKEN="x" * 32
    )
    assert response.status_code == 403
    assert json.loads(response.content)["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_session_post_with_the_csrf_token_of_the_graphiql_page_is_the_user(session_client):
    page = session_client.get("/graphql", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    csrf = session_client.cookies["csrftoken"].value
    response = session_client.post(
        "/graphql",
        json.dumps({"query": CREATE_EVENT, "variables": {"title": "From GraphiQL"}}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 200
    assert json.loads(response.content) == {"data": {"createEvent": {"event": {"title": "From GraphiQL"}}}}
    viewer = session_client.post(
        "/graphql", json.dumps({"query": VIEWER}), content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    assert json.loads(viewer.content) == {"data": {"viewer": {"username": "alice"}}}
    assert Event.objects.get().owner.username == "alice"


def test_a_session_get_query_needs_no_csrf_token(session_client):
    response = session_client.get("/graphql", {"query": "{viewer{username}}"})
    assert response.status_code == 200
    assert json.loads(response.content) == {"data": {"viewer": {"username": "alice"}}}


def test_a_bearer_token_wins_over_the_session_and_needs_no_csrf(session_client, world):
    bob_token = world.token(world.user("bob"))
    response = session_client.post(
        "/graphql",
        json.dumps({"query": VIEWER}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {bob_token}",
    )
    assert response.status_code == 200
    assert json.loads(response.content) == {"data": {"viewer": {"username": "bob"}}}


# --- hostile input: never a 500, never an internal error -------------------------------------------


HOSTILE = {
    "nul-in-title": (CREATE_EVENT, {"title": "a\x00b"}),
    "nul-in-login": ('mutation { login(input: {username: "al\\u0000ice", password: "x"}) { token } }', {}),
    "nul-in-friend-request": (
        "mutation($u: String!) { sendFriendRequest(input: {username: $u}) { request { id } } }",
        {"u": "b\x00b"},
    ),
    "nul-in-user-lookup": ("query($u: String!) { user(username: $u) { id } }", {"u": "\x00"}),
    "nul-in-signup-display-name": (
        'mutation($n: String!) { signup(input: {username: "zed", password: "a-Long-pass-42", displayName: $n,'
        ' timezone: "UTC"}) { token } }',
        {"n": "Z\x00d"},
    ),
    "nul-in-signup-timezone": (
        'mutation($tz: String!) { signup(input: {username: "zed", password: "a-Long-pass-42", displayName: "Zed",'
        " timezone: $tz}) { token } }",
        {"tz": "Europe/\x00Paris"},
    ),
    "datetime-before-year-1": (
        'mutation { createEvent(input: {title: "x", startsAt: "0001-01-01T00:00:00+01:00",'
        ' endsAt: "2026-01-01T00:00:00Z"}) { event { id } } }',
        {},
    ),
    "datetime-after-year-9999-variable": (
        'mutation($e: DateTime!) { createEvent(input: {title: "x", startsAt: "2026-01-01T00:00:00Z",'
        " endsAt: $e}) { event { id } } }",
        {"e": "9999-12-31T23:00:00-05:00"},
    ),
    "day-after-9999-12-31": ('{ friendsEvents(date: "9999-12-31") { totalCount } }', {}),
    "first-day-east-of-utc": (
        '{ viewer { events(date: "0001-01-01") { totalCount } eventCount(date: "0001-01-01") } }',
        {},
    ),
    "first-instant-east-of-utc": (
        '{ viewer { events(from: "0001-01-01T00:00:00+09:00", to: "2026-01-01T00:00:00Z") { totalCount } } }',
        {},
    ),
    "huge-title": (CREATE_EVENT, {"title": "x" * 1_000_000}),
    "huge-first": ('{ friendsEvents(date: "2026-11-23", first: 2147483647) { totalCount } }', {}),
    "negative-first": ('{ friendsEvents(date: "2026-11-23", first: -1) { totalCount } }', {}),
    "garbage-cursor": ('{ friendsEvents(date: "2026-11-23", after: "\u2603") { totalCount } }', {}),
    "huge-id": ('{ node(id: "RXZlbnQ6OTk5OTk5OTk5OTk5OTk5OTk5") { id } }', {}),
    "huge-id-mutation": (
        'mutation { deleteEvent(input: {id: "RXZlbnQ6OTk5OTk5OTk5OTk5OTk5OTk5"}) { deletedId } }',
        {},
    ),
    "unicode": (CREATE_EVENT, {"title": "🎉 Fête \u202e ﷽"}),
    "lone-surrogate": (CREATE_EVENT, {"title": "\ud800"}),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_is_answered_with_a_client_error_code(gql, world, alice, token, case):
    alice.timezone = "Asia/Tokyo"
    alice.save()
    query, variables = HOSTILE[case]
    answer = gql(query, variables, token=token)
    assert answer.status in (200, 400), answer.body
    assert_codes_are_the_apis(answer.body)
    assert "INTERNAL_SERVER_ERROR" not in answer.codes, answer.body


def test_every_error_of_every_refusal_has_one_of_the_eight_codes(gql, token):
    bodies = [
        gql.post("{", raw=True).body,
        gql.post("5", raw=True).body,
        gql.post([], raw=False).body,
        gql.post("x", raw=True, content_type="text/plain").body,
        gql.post([{"query": VIEWER}] * 21).body,
        gql.post([{"query": "{"}, {"query": "{ x }"}, 7, {"query": VIEWER, "variables": 3}], token=token).body,
        gql("{ viewer { events(first: 1000) { totalCount } } }", token=token).body,
        gql('{ friendsEvents(date: "2026-11-23") { totalCount } }').body,
        gql('mutation { removeFriend(input: {userId: "VXNlcjo5OTk="}) { removedUserId } }', token=token).body,
        get(gql.http, {"query": CREATE_EVENT}).body,
    ]
    for body in bodies:
        assert_codes_are_the_apis(body)
        results = body if isinstance(body, list) else [body]
        assert all(result.get("errors") for result in results), body


# --- DEBUG: the SQL of each operation --------------------------------------------------------------


def is_token_lookup(query: dict) -> bool:
    sql = query["sql"]
    return sql.lstrip().upper().startswith("SELECT") and "calendarapp_authtoken" in sql


def test_without_debug_there_is_no_debug_extension(gql, token):
    answer = gql(VIEWER, token=token)
    assert "extensions" not in answer.body
    batch = gql.post([{"query": VIEWER}, {"query": "{"}], token=token)
    assert all("extensions" not in result for result in batch.body)


def test_in_debug_an_anonymous_operation_reports_its_exact_sql_count(gql, settings):
    settings.DEBUG = True
    answer = gql(
        'mutation { signup(input: {username: "dbg", password: "a-Long-pass-42", displayName: "D", timezone: "UTC"}) '
        "{ token viewer { username friendCount } } }"
    )
    answer.ok()
    debug = answer.body["extensions"]["debug"]
    assert isinstance(debug["sqlCount"], int) and not isinstance(debug["sqlCount"], bool)
    assert debug["sqlCount"] == len(answer.queries) > 0
    assert isinstance(debug["sqlTimeMs"], int | float) and debug["sqlTimeMs"] >= 0


def test_in_debug_an_authenticated_operation_counts_every_statement_its_request_ran(gql, world, alice, token, settings):
    """The token's lookup included, as the snapshots and the README count (schema/instrumentation.py)."""
    settings.DEBUG = True
    world.befriend(alice, world.user("bob"))
    answer = gql(HOME, {"date": "2026-11-23"}, token=token)
    answer.ok()
    debug = answer.body["extensions"]["debug"]
    assert any(is_token_lookup(query) for query in answer.queries)
    assert debug["sqlCount"] == len(answer.queries) > 1
    assert debug["sqlTimeMs"] >= 0


def test_in_debug_errors_and_each_operation_of_a_batch_carry_the_debug_extension(gql, token, settings):
    settings.DEBUG = True
    for answer in (
        gql("{ viewer { nope } }", token=token),
        gql('{ friendsEvents(date: "2026-11-23") { totalCount } }'),
        gql("query($d: Date!) { friendsEvents(date: $d) { totalCount } }", {"d": 1}, token=token),
        gql(CREATE_EVENT, {"title": ""}, token=token),
        gql(TWO_OPERATIONS, token=token, operation_name="Nobody"),
    ):
        assert answer.errors, answer.body
        debug = answer.body["extensions"]["debug"]
        assert isinstance(debug["sqlCount"], int) and "sqlTimeMs" in debug

    batch = gql.post(
        [{"query": VIEWER}, {"query": CREATE_EVENT, "variables": {"title": "x"}}, {"query": "{"}], token=token
    )
    counts = [result["extensions"]["debug"]["sqlCount"] for result in batch.body]
    assert counts[2] == 0
    assert sum(counts) == len(batch.queries)  # the first answer carries the token's lookup
    assert counts[0] == len(gql(VIEWER, token=token).queries)  # as when VIEWER is sent alone
    assert counts[1] > 0


def test_in_debug_a_refused_request_carries_the_debug_extension_too(gql, settings):
    settings.DEBUG = True
    answer = gql.post("{not json", raw=True)
    assert answer.status == 400
    assert answer.body["extensions"]["debug"]["sqlCount"] == 0
    assert answer.codes == ["BAD_REQUEST"]
