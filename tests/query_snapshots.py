"""Committed SQL snapshots of the app's operations: normalizing statements,
reading and writing the snapshot files, and explaining a difference."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from django.db import connection

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w\"])-?\d+(?:\.\d+)?(?![\w\"])")
_SAVEPOINT = re.compile(r'"s\d+_x\d+"')
_IN_LIST = re.compile(r"IN \((?:\?|%s)(?:, (?:\?|%s))*\)")


def normalize(sql: str) -> str:
    """A statement with its literal values replaced, so it reads the same at any data size."""
    sql = _SAVEPOINT.sub('"savepoint"', sql)
    sql = _STRING.sub("?", sql)
    sql = _NUMBER.sub("?", sql)
    return _IN_LIST.sub("IN (...)", sql)


def snapshot_path(operation: str) -> Path:
    return SNAPSHOT_DIR / connection.vendor / f"{operation}.sql"


def render(operation: str, statements: list[str]) -> str:
    header = f"-- {operation}: {len(statements)} SQL queries ({connection.vendor})\n"
    return header + "".join(f"{statement};\n" for statement in statements)


def read_statements(path: Path) -> list[str] | None:
    if not path.exists():
        return None
    lines = path.read_text().splitlines()[1:]
    return [line.removesuffix(";") for line in lines if line]


def write(operation: str, statements: list[str]) -> None:
    path = snapshot_path(operation)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(operation, statements))


def explain_difference(operation: str, expected: list[str], actual: list[str]) -> str:
    diff = "\n".join(difflib.unified_diff(expected, actual, "committed snapshot", "this run", lineterm="", n=0))
    return (
        f"Operation '{operation}' now runs {len(actual)} SQL queries; its snapshot has {len(expected)}.\n"
        f"If the change is intended, update the snapshots: make update-snapshots "
        f"(or pytest tests/test_query_counts.py --update-snapshots).\n{diff}"
    )
