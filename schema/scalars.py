"""`Date` (YYYY-MM-DD) and `DateTime` (ISO 8601 with a required UTC offset)."""

from __future__ import annotations

import datetime as dt

import graphene
from graphql import GraphQLError
from graphql.language import StringValueNode


def _string_literal(node, type_name: str) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError(f"{type_name} must be a string.")
    return node.value


class Date(graphene.Scalar):
    """A calendar day, `YYYY-MM-DD`."""

    @staticmethod
    def serialize(value: dt.date) -> str:
        return value.isoformat()

    @staticmethod
    def parse_value(value) -> dt.date:
        if not isinstance(value, str):
            raise GraphQLError("Date must be a string like 2026-11-23.")
        try:
            if len(value) != 10:  # fromisoformat also takes 20261123
                raise ValueError
            return dt.date.fromisoformat(value)
        except ValueError:
            raise GraphQLError(f"'{value}' is not a date like 2026-11-23.") from None

    @classmethod
    def parse_literal(cls, node, _variables=None) -> dt.date:
        return cls.parse_value(_string_literal(node, "Date"))


class DateTime(graphene.Scalar):
    """An instant, ISO 8601 with a UTC offset (`2026-11-23T09:00:00+01:00`); a naive time is refused."""

    @staticmethod
    def serialize(value: dt.datetime) -> str:
        return value.isoformat()

    @staticmethod
    def parse_value(value) -> dt.datetime:
        if not isinstance(value, str):
            raise GraphQLError("DateTime must be a string like 2026-11-23T09:00:00+01:00.")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise GraphQLError(f"'{value}' is not an ISO 8601 date and time.") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise GraphQLError(f"'{value}' has no UTC offset: add one, e.g. {value}+00:00 or {value}Z.")
        return parsed.astimezone(dt.UTC)

    @classmethod
    def parse_literal(cls, node, _variables=None) -> dt.datetime:
        return cls.parse_value(_string_literal(node, "DateTime"))
