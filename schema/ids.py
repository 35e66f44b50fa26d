"""Relay global IDs: opaque to clients, checked for their type on the way in."""

from __future__ import annotations

import re

from graphql_relay import from_global_id, to_global_id

from .errors import BadUserInput


def global_id(type_name: str, pk: int) -> str:
    return to_global_id(type_name, str(pk))


def parse_global_id(value: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our IDs."""
    try:
        type_name, raw_pk = from_global_id(value)
    except Exception:  # graphql-relay raises various errors on garbage
        return None
    if not type_name or not re.fullmatch(r"[0-9]{1,18}", raw_pk):
        return None
    return type_name, int(raw_pk)


def pk_from_global_id(value: str, expected_type: str, field: str) -> int:
    """The primary key of an ID that must be of `expected_type`, else BAD_USER_INPUT naming `field`."""
    parsed = parse_global_id(value)
    if parsed is None or parsed[0] != expected_type:
        raise BadUserInput(f"'{value}' is not the ID of a {expected_type}.", field=field)
    return parsed[1]
