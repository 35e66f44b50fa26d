"""Who may see the schema (issue 11): with GRAPHQL_INTROSPECTION "staff" (production's default)
a client that is not staff, anonymous or logged in by token or session, is refused
introspection and gets error messages without graphql-core's "Did you mean ...?"; staff keep
both, by token and in GraphiQL by session. Documents prepared for one never serve the other."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.test import Client

from calendarapp.models import User
from schema.documents import documents
from schema.introspection import without_suggestions
from tests.conftest import Answer
from tests.test_persisted_queries import PreparationSpy
from tests.test_production import STRONG_KEY, django_process, settings_in

INTROSPECTION_QUERIES = {
    "schema": "{ __schema { queryType { name } } }",
    "type": '{ __type(name: "User") { name } }',
    "aliased": "{ s: __schema { types { name } } }",
    "in-a-fragment": "query { ...F } fragment F on Query { __schema { queryType { name } } }",
    "nested": '{ viewer { id } __type(name: "Event") { fields { type { ofType { name } } } } }',
}
HIDDEN = ["anonymous", "user-token", "user-session"]
SHOWN = ["staff-token", "staff-session"]

Ask = Callable[..., Answer]


@pytest.fixture(autouse=True)
def fresh_documents():
    documents.clear()
    cache.clear()
    yield
    documents.clear()


@pytest.fixture
def ask(world) -> Callable[[str], Ask]:
    """ask(audience)(query, variables): the query from that kind of client, over HTTP."""
    staff = world.user("root")
    staff.is_staff = True
    staff.save()
    users = {"user": world.user("alice"), "staff": staff}

    def client_of(audience: str) -> Ask:
        who, _, how = audience.partition("-")
        http, headers = Client(enforce_csrf_checks=True), {}
        if how == "token":
            headers["HTTP_AUTHORIZATION"] = f"Bearer {world.token(users[who])}"
        elif how == "session":  # as GraphiQL sends it: the session, and the CSRF token of its page
            http.force_login(users[who])
            http.get("/graphql", HTTP_ACCEPT="text/html")
            headers["HTTP_X_CSRFTOKEN"] = http.cookies["csrftoken"].value
        return lambda query, variables=None: post(http, {"query": query, "variables": variables or {}}, **headers)

    return client_of


def post(client: Client, payload: dict, token: str | None = None, **headers: str) -> Answer:
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = client.post("/graphql", json.dumps(payload), content_type="application/json", **headers)
    return Answer(response.status_code, json.loads(response.content))


def assert_introspection_refused(answer: Answer, field: str) -> None:
    assert answer.status == 400, answer.body
    assert "data" not in answer.body
    assert answer.codes == ["BAD_REQUEST"]
    assert answer.errors[0]["message"] == (
        f"Introspection is not available to this client: '{field}' is for staff only."
    )


# --- introspection ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", INTROSPECTION_QUERIES)
@pytest.mark.parametrize("audience", HIDDEN)
def test_introspection_is_refused_to_whoever_is_not_staff(ask, settings, audience, name):
    settings.GRAPHQL_INTROSPECTION = "staff"
    query = INTROSPECTION_QUERIES[name]
    assert_introspection_refused(ask(audience)(query), "__type" if "__type(" in query else "__schema")


@pytest.mark.parametrize("audience", SHOWN)
def test_staff_may_introspect(ask, settings, audience):
    settings.GRAPHQL_INTROSPECTION = "staff"
    assert ask(audience)(INTROSPECTION_QUERIES["schema"]).ok() == {"__schema": {"queryType": {"name": "Query"}}}
    assert ask(audience)(INTROSPECTION_QUERIES["type"]).ok() == {"__type": {"name": "User"}}


@pytest.mark.parametrize("audience", HIDDEN + SHOWN)
def test_everyone_may_introspect_when_the_setting_says_so(ask, settings, audience):
    settings.GRAPHQL_INTROSPECTION = "everyone"
    assert ask(audience)(INTROSPECTION_QUERIES["schema"]).ok() == {"__schema": {"queryType": {"name": "Query"}}}


@pytest.mark.parametrize("audience", HIDDEN)
def test_typename_stays_allowed(ask, settings, audience):
    settings.GRAPHQL_INTROSPECTION = "staff"
    assert ask(audience)("{ __typename }").ok() == {"__typename": "Query"}


def test_the_full_graphiql_introspection_query_works_for_staff_only(ask, settings):
    from graphql import get_introspection_query

    settings.GRAPHQL_INTROSPECTION = "staff"
    query = get_introspection_query(descriptions=True)
    assert "Query" in {t["name"] for t in ask("staff-session")(query).ok()["__schema"]["types"]}
    assert ask("anonymous")(query).codes == ["BAD_REQUEST"]


# --- "Did you mean" -----------------------------------------------------------------------------


TYPOS = [
    ("{ viewr { id } }", None, "Cannot query field 'viewr' on type 'Query'.", " Did you mean 'viewer' or 'user'?"),
    (
        '{ user(username: "bob", usrname: "bob") { id } }',
        None,
        "Unknown argument 'usrname' on field 'Query.user'.",
        " Did you mean 'username'?",
    ),
    (
        'mutation($v: RsvpStatus) { rsvp(input: {eventId: "RXZlbnQ6MQ==", status: $v}) { clientMutationId } }',
        {"v": "GOIN"},
        "Variable '$v' got invalid value 'GOIN'; Value 'GOIN' does not exist in 'RsvpStatus' enum.",
        " Did you mean the enum value 'GOING'?",
    ),
]


@pytest.mark.parametrize(("query", "variables", "message", "suggestion"), TYPOS, ids=["field", "argument", "enum"])
@pytest.mark.parametrize("audience", HIDDEN)
def test_suggestions_are_not_given_to_whoever_is_not_staff(
    ask, settings, audience, query, variables, message, suggestion
):
    settings.GRAPHQL_INTROSPECTION = "staff"
    answer = ask(audience)(query, variables)
    assert [error["message"] for error in answer.errors] == [message]
    assert answer.codes in (["BAD_REQUEST"], ["BAD_USER_INPUT"])


@pytest.mark.parametrize(("query", "variables", "message", "suggestion"), TYPOS, ids=["field", "argument", "enum"])
@pytest.mark.parametrize("audience", SHOWN)
def test_staff_keep_the_suggestions(ask, settings, audience, query, variables, message, suggestion):
    settings.GRAPHQL_INTROSPECTION = "staff"
    assert [error["message"] for error in ask(audience)(query, variables).errors] == [message + suggestion]


def test_with_everyone_anonymous_clients_keep_the_suggestions(ask, settings):
    settings.GRAPHQL_INTROSPECTION = "everyone"
    query, variables, message, suggestion = TYPOS[0]
    assert [error["message"] for error in ask("anonymous")(query, variables).errors] == [message + suggestion]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Unknown type 'Usr'. Did you mean 'User'?", "Unknown type 'Usr'."),
        ("Unknown type 'X'. Did you mean 'A' or 'B'?", "Unknown type 'X'."),
        ("Unknown type 'X'. Did you mean 'A', 'B', 'C', 'D', or 'E'?", "Unknown type 'X'."),
        (
            "Cannot query field 'x' on type 'Node'. Did you mean to use an inline fragment on 'User' or 'Event'?",
            "Cannot query field 'x' on type 'Node'.",
        ),
        ("Field 'x' of required type 'Int!' was not provided.", "Field 'x' of required type 'Int!' was not provided."),
        ("Unknown argument 'Did' on field 'Query.user'.", "Unknown argument 'Did' on field 'Query.user'."),
    ],
)
def test_without_suggestions_cuts_only_graphql_cores_suggestion(message, expected):
    assert without_suggestions(message) == expected


# --- the document cache -------------------------------------------------------------------------


def test_a_document_prepared_for_staff_never_serves_anyone_else_and_back(ask, settings, monkeypatch):
    settings.GRAPHQL_INTROSPECTION = "staff"
    staff, anonymous = ask("staff-token"), ask("anonymous")
    query = INTROSPECTION_QUERIES["schema"]
    spy = PreparationSpy(monkeypatch)
    for _ in range(3):
        assert staff(query).ok()
        assert_introspection_refused(anonymous(query), "__schema")
        assert "Did you mean" in staff("{ viewr { id } }").errors[0]["message"]
        assert "Did you mean" not in anonymous("{ viewr { id } }").errors[0]["message"]
    assert (spy.parsed, spy.validated) == (4, 4)  # each query once for each audience, then kept


def test_a_persisted_introspection_query_by_hash_alone_is_refused_to_whoever_is_not_staff(ask, settings, world):
    settings.GRAPHQL_INTROSPECTION = "staff"
    ask("staff-token")  # makes the staff user
    staff_token = world.token(User.objects.get(username="root"))
    query = INTROSPECTION_QUERIES["schema"]
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
    assert post(Client(), {"query": query, "extensions": persisted}, staff_token).ok()  # registered by staff
    assert_introspection_refused(post(Client(), {"extensions": persisted}), "__schema")
    assert post(Client(), {"extensions": persisted}, staff_token).ok() == {"__schema": {"queryType": {"name": "Query"}}}


# --- the setting ----------------------------------------------------------------------------------


PRODUCTION_ENV = {"SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "calendar.example.com"}


def test_production_shows_the_schema_to_staff_only_by_default():
    assert settings_in(["GRAPHQL_INTROSPECTION"], **PRODUCTION_ENV) == {"GRAPHQL_INTROSPECTION": "staff"}


def test_production_may_show_it_to_everyone():
    values = settings_in(["GRAPHQL_INTROSPECTION"], GRAPHQL_INTROSPECTION="everyone", **PRODUCTION_ENV)
    assert values == {"GRAPHQL_INTROSPECTION": "everyone"}


def test_development_shows_it_to_everyone():
    values = settings_in(["GRAPHQL_INTROSPECTION"], settings_module="config.settings.dev")
    assert values == {"GRAPHQL_INTROSPECTION": "everyone"}


def test_an_unknown_value_is_a_clear_start_up_error():
    result = django_process("", GRAPHQL_INTROSPECTION="nobody", **PRODUCTION_ENV)
    assert result.returncode != 0
    assert "ImproperlyConfigured: GRAPHQL_INTROSPECTION must be one of everyone, staff, not 'nobody'." in result.stderr
