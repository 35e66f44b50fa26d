"""The operations the bench measures, and how two answers to one are compared.

They are the mobile app's own operations (tests/operations/*.graphql), so the bench
measures what the app sends, not a query written to flatter the server.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPERATIONS_DIR = Path(__file__).resolve().parent.parent / "tests" / "operations"
DAY = "2026-11-23"  # seed_demo's default --start: the first seeded day


@dataclass(frozen=True)
class Operation:
    name: str  # also the .graphql file name and the floor statement's key
    title: str  # for tables and charts

    @property
    def query(self) -> str:
        return (OPERATIONS_DIR / f"{self.name}.graphql").read_text()

    def variables(self, event_global_id: str) -> dict[str, Any]:
        """The operation's variables; event detail is about the bench's chosen event."""
        if self.name == "event_detail":
            return {"id": event_global_id}
        return {"date": DAY}


OPERATIONS = (
    Operation("home_screen", "Home screen (nested)"),
    Operation("friends_feed", "Flat feed (friendsEvents)"),
    Operation("event_detail", "Event detail with attendees"),
)
OPERATION_NAMES = tuple(operation.name for operation in OPERATIONS)


def census(document: Any, path: str = "") -> dict[str, int]:
    """How many items each list holds and what each count adds up to, by field path.

    E.g. {"data.viewer.friends.edges": 100, "data.viewer.friends.edges.node.events.edges": 912,
    "data.viewer.friends.edges.node.events.totalCount": 912, ...}: two answers with the
    same census have the same friends, events and attendees in the same numbers.
    """
    counts: dict[str, int] = {}

    def add(key: str, amount: int) -> None:
        counts[key] = counts.get(key, 0) + amount

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}" if where else key)
        elif isinstance(value, list):
            add(where, len(value))
            for item in value:
                walk(item, where)
        elif isinstance(value, int) and not isinstance(value, bool):
            add(where, value)

    walk(document, path)
    return counts


def same_document(ours: Any, theirs: Any) -> bool:
    """Whether two JSON documents are equal, reading two date-time strings as equal
    when they are the same instant: PostgreSQL writes `…:30.12345+00:00` where Python
    writes `…:30.123450+00:00`."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(same_document(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(same_document(a, b) for a, b in zip(ours, theirs, strict=True))
    if isinstance(ours, str) and isinstance(theirs, str) and ours != theirs:
        return _same_instant(ours, theirs)
    return type(ours) is type(theirs) and ours == theirs


def _same_instant(a: str, b: str) -> bool:
    try:
        first, second = dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)
    except ValueError:
        return False
    return first.tzinfo is not None and second.tzinfo is not None and first == second


def first_difference(ours: Any, theirs: Any, path: str = "") -> str | None:
    """Where two documents first differ (for error messages), or None."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if ours.keys() != theirs.keys():
            return f"{path or '.'}: keys {sorted(ours)} != {sorted(theirs)}"
        found = (first_difference(ours[k], theirs[k], f"{path}.{k}") for k in ours)
        return next((difference for difference in found if difference), None)
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return f"{path}: {len(ours)} items != {len(theirs)}"
        found = (first_difference(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(ours, theirs, strict=True)))
        return next((difference for difference in found if difference), None)
    return None if same_document(ours, theirs) else f"{path}: {ours!r} != {theirs!r}"
