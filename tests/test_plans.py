"""Compiled plans (schema/plans): which operations run by their plan, how a plan is kept and
reused, and what makes one fall back to graphql-core's path. That both paths answer the same
is tests/test_differential.py's business; here, that the fast path is really taken."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import orjson
import pytest
from django.test import override_settings
from graphql import parse

from loaders.events import EventsByOwnerIdLoader
from schema import plans
from schema.plans.compiler import plan_for
from schema.scalars import DateTime
from tests.test_query_counts import OPERATIONS_DIR, VARIABLES, seed

QUERIES = sorted(name for name in VARIABLES if not (OPERATIONS_DIR / f"{name}.graphql").read_text().count("mutation "))
DAY = "2026-11-23"
FRIEND_EVENTS = """
query ($date: Date!, $withOwner: Boolean!) {
  viewer { friends(first: 5) { edges { node { events(date: $date) { edges { node {
    title owner @include(if: $withOwner) { displayName }
  } } } } } } }
}
"""


@pytest.fixture
def outcomes():
    plans.outcomes.clear()
    return plans.outcomes


def run(gql, query: str, variables: dict, token: str):
    return gql.post({"query": query, "variables": variables}, token=token)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", QUERIES)
def test_every_query_of_the_app_runs_by_its_plan(operation, gql, outcomes):
    power, token = seed(4)
    answer = run(gql, (OPERATIONS_DIR / f"{operation}.graphql").read_text(), VARIABLES[operation](power), token)
    answer.ok()
    assert outcomes == {"planned": 1}


@pytest.mark.django_db
def test_mutations_and_introspection_take_graphql_cores_path(gql, outcomes):
    power, token = seed(2)
    run(gql, "{ __schema { queryType { name } } viewer { id } }", {}, token).ok()
    run(gql, (OPERATIONS_DIR / "rsvp.graphql").read_text(), VARIABLES["rsvp"](power), token)
    assert outcomes == {"unplannable": 2}


@pytest.mark.django_db
def test_an_error_in_a_loader_falls_back_and_is_reported_as_graphql_core_reports_it(gql, outcomes, monkeypatch):
    power, token = seed(2)

    def failing(self, keys):
        raise RuntimeError("the events are gone")

    monkeypatch.setattr(EventsByOwnerIdLoader, "batch_load", failing)
    answers = {}
    for compiled in (True, False):
        with override_settings(GRAPHQL_COMPILED_PLANS=compiled):
            answers[compiled] = run(gql, FRIEND_EVENTS, {"date": DAY, "withOwner": True}, token)
    assert answers[True].body == answers[False].body
    assert {error["extensions"]["code"] for error in answers[True].errors} == {"INTERNAL_SERVER_ERROR"}
    assert outcomes == {"fell back": 1}


@pytest.mark.django_db
def test_a_plan_is_compiled_once_per_document_and_directive_values(gql, outcomes):
    from schema.schema import GRAPHQL_SCHEMA

    document = parse(FRIEND_EVENTS)
    operation = document.definitions[0]
    with_owner = plan_for(GRAPHQL_SCHEMA, document, operation, {"date": dt.date(2026, 11, 23), "withOwner": True})
    again = plan_for(GRAPHQL_SCHEMA, document, operation, {"date": dt.date(2026, 11, 24), "withOwner": True})
    without = plan_for(GRAPHQL_SCHEMA, document, operation, {"date": dt.date(2026, 11, 23), "withOwner": False})
    assert with_owner is again  # other dates: the same shape
    assert without is not with_owner

    power, token = seed(2)
    shown = run(gql, FRIEND_EVENTS, {"date": DAY, "withOwner": True}, token).ok()
    hidden = run(gql, FRIEND_EVENTS, {"date": DAY, "withOwner": False}, token).ok()
    first_event = ["viewer", "friends", "edges", 0, "node", "events", "edges", 0, "node"]
    assert "owner" in dig(shown, first_event) and "owner" not in dig(hidden, first_event)
    assert outcomes == {"planned": 2}


def dig(value, path):
    for step in path:
        value = value[step]
    return value


@pytest.mark.parametrize(
    "instant",
    [
        dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 23, 9, 0, 0, 120, tzinfo=dt.UTC),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ],
)
def test_orjson_writes_a_utc_datetime_as_the_datetime_scalar_does(instant):
    # The plans leave UTC datetimes to orjson (schema/plans/fillers.py): this is why they may.
    assert orjson.dumps(instant) == orjson.dumps(DateTime.serialize(instant))


def test_other_offsets_are_why_only_utc_is_left_to_orjson():
    odd = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=30)))
    paris = dt.datetime(2026, 3, 29, 1, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert orjson.dumps(odd) != orjson.dumps(DateTime.serialize(odd))
    assert paris.tzinfo is not dt.UTC


@pytest.mark.django_db
def test_a_possible_type_the_selection_asks_nothing_of_still_has_a_plan(gql, outcomes):
    power, token = seed(2)
    user_id = run(gql, "{ viewer { id } }", {}, token).ok()["viewer"]["id"]
    query = "query ($id: ID!) { node(id: $id) { ... on Event { title } } }"
    assert run(gql, query, {"id": user_id}, token).ok() == {"node": {}}
    assert outcomes == {"planned": 2}
