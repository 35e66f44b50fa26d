"""The variables of an operation, checked before anything reads them (BAD_USER_INPUT): no
deeper than any input type nests, and without NUL characters, which PostgreSQL can neither
store nor compare. Coercing them to their types is execution's (graphql-core's) work."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .limits import MAX_NESTING


def variables_refusal(variables: dict[str, Any] | None) -> str | None:
    """Why `variables` may not reach the operation, or None when they may."""
    nesting = _nesting_of(variables)
    if nesting > MAX_NESTING:
        # No input type nests that deep; walking such values recursively (the NUL check below,
        # graphql-core's coercion and its error messages) would overflow Python's stack.
        return f"Variables nest {nesting} levels deep, over the limit of {MAX_NESTING}."
    nul_at = _nul_character_at(variables, "variables")
    if nul_at:
        return f"Strings must not contain NUL characters ({nul_at})."
    return None


def _nul_character_at(value: Any, path: str) -> str | None:
    """The path of the first string in `value` holding a NUL character, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _nul_character_at(item, f"{path}.{key}")
        if found:
            return found
    return None


def _nesting_of(value: Any) -> int:
    """How many objects and arrays deep `value` nests. Iterative, so that no JSON is too deep
    for it (orjson reads up to 1,024 levels)."""
    deepest, pending = 0, [iter((value,))]  # per level being walked, its values left
    while pending:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
        elif isinstance(item, dict | list):
            pending.append(iter(item.values() if isinstance(item, dict) else item))
            deepest = max(deepest, len(pending) - 1)
    return deepest


_END = object()
