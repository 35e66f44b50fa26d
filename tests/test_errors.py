"""How errors raised in resolvers reach the client: each with its code (schema/errors.py)."""

from __future__ import annotations

import pytest
from graphql import GraphQLError

from loaders.events import AttendeeCountByEventIdLoader, ViewerRsvpByEventIdLoader
from schema.errors import RateLimited, format_error, rate_limited_body
from tests.conftest import utc
from tests.test_query_counts import OPERATIONS_DIR


def located(error: Exception) -> GraphQLError:
    return GraphQLError(str(error), path=["login"], original_error=error)


def test_rate_limited_carries_whole_seconds_to_wait():
    formatted = format_error(located(RateLimited("Too many failed logins for this username.", retry_after=12.2)))
    assert formatted["message"] == "Too many failed logins for this username."
    assert formatted["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 13}
    assert formatted["path"] == ["login"]


def test_rate_limited_never_says_zero_seconds():
    assert RateLimited("Try again.", retry_after=0).retry_after == 1


def test_a_refusal_before_execution_has_the_same_shape():
    body = rate_limited_body(RateLimited("Your budget is spent.", retry_after=3))
    [error] = body["errors"]
    assert error == {"message": "Your budget is spent.", "extensions": {"code": "RATE_LIMITED", "retryAfter": 3}}


@pytest.mark.django_db
def test_a_field_whose_parent_was_nulled_first_reports_no_error(gql, world, monkeypatch):
    """attendeeCount (non-null) fails first and nulls its event; viewerRsvp, whose batch fails
    after, reports nothing: graphql-core never runs a field after a failed non-null sibling,
    and the answer has no value its error could be about."""

    def failing_batch(self, keys):
        raise RuntimeError("batch failed")

    monkeypatch.setattr(AttendeeCountByEventIdLoader, "batch_load", failing_batch)
    monkeypatch.setattr(ViewerRsvpByEventIdLoader, "batch_load", failing_batch)
    viewer = world.user("viewer")
    for name in ("ada", "bob"):
        friend = world.user(name)
        world.befriend(viewer, friend)
        world.event(friend, utc(2026, 11, 23, 9))
    home_screen = (OPERATIONS_DIR / "home_screen.graphql").read_text()

    answer = gql(home_screen, {"date": "2026-11-23"}, token=world.token(viewer))

    friends = answer.body["data"]["viewer"]["friends"]["edges"]
    assert [friend["node"]["events"]["edges"] for friend in friends] == [[{"node": None}]] * 2
    assert [error["path"][-1] for error in answer.errors] == ["attendeeCount"] * 2
    assert {error["extensions"]["code"] for error in answer.errors} == {"INTERNAL_SERVER_ERROR"}
