"""How errors raised in resolvers reach the client: each with its code (schema/errors.py)."""

from __future__ import annotations

from graphql import GraphQLError

from schema.errors import RateLimited, format_error, rate_limited_body


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
