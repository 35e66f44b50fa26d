"""`Date` (YYYY-MM-DD) and `DateTime` (ISO 8601 with a required UTC offset)."""

from __future__ import annotations

import datetime as dt
import re

import graphene
from graphql.language import StringValueNode

from .errors import invalid_value

DATE_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _string_literal(node, type_name: str) -> str:
    if not isinstance(node, StringValueNode):
        raise invalid_value(f"{type_name} must be a string.")
    return node.value


class Date(graphene.Scalar):
    """A calendar day, `YYYY-MM-DD`."""

    @staticmethod
    def serialize(value: dt.date) -> str:
        return value.isoformat()

    @staticmethod
    def parse_value(value) -> dt.date:
        if not isinstance(value, str):
            raise invalid_value("Date must be a string like 2026-11-23.")
        try:
            if not DATE_FORMAT.fullmatch(value):  # fromisoformat also takes 20261123 and 2026-W48-1
                raise ValueError
            return dt.date.fromisoformat(value)
        except ValueError:
            raise invalid_value(f"'{value}' is not a date like 2026-11-23.") from None

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
            raise invalid_value("DateTime must be a string like 2026-11-23T09:00:00+01:00.")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise invalid_value(f"'{value}' is not an ISO 8601 date and time.") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise invalid_value(f"'{value}' has no UTC offset: add one, e.g. {value}+00:00 or {value}Z.")
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            raise invalid_value(f"'{value}' is out of the supported range of years 1 to 9999 in UTC.") from None

    @classmethod
    def parse_literal(cls, node, _variables=None) -> dt.datetime:
        return cls.parse_value(_string_literal(node, "DateTime"))
