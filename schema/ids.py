"""IDs at the API's edge: an argument that must be the ID of a given type. The codec itself,
the only place IDs are made and read, is calendarapp.ids (the domain's exports and delta sync
show IDs too)."""

from __future__ import annotations

from calendarapp.ids import parse_global_id

from .errors import BadUserInput


def pk_from_global_id(value: str, expected_type: str, field: str) -> int:
    """The primary key of an ID that must be of `expected_type`, else BAD_USER_INPUT naming `field`."""
    parsed = parse_global_id(value)
    if parsed is None or parsed[0] != expected_type:
        raise BadUserInput(f"'{value}' is not the ID of a {expected_type}.", field=field)
    return parsed[1]
