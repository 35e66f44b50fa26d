"""The schema as SDL, the text committed as `schema.graphql` at the repository's root.

The file is how reviewers see an API change: a pull request that adds, deprecates or
removes a field shows it in that file's diff (CONTRIBUTING.md, "Changing the API").
Types, fields and arguments are sorted by name, so the text changes only when the API does,
never when a class moves in the code. `make schema` rewrites the file;
tests/test_schema_file.py fails, showing the diff, when it and the schema disagree.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from django.conf import settings
from graphql import lexicographic_sort_schema, print_schema

from .schema import GRAPHQL_SCHEMA

REWRITE_COMMAND = "make schema"


def schema_file() -> Path:
    return Path(settings.BASE_DIR) / "schema.graphql"


def schema_sdl() -> str:
    """The schema's SDL, sorted by name, ending with a newline."""
    return print_schema(lexicographic_sort_schema(GRAPHQL_SCHEMA)) + "\n"


def difference(committed: str | None, current: str) -> str:
    """A unified diff from the committed file to the schema's SDL ("" when they agree)."""
    if committed == current:
        return ""
    name = schema_file().name
    return "".join(
        difflib.unified_diff(
            (committed or "").splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"{name} (committed)" if committed is not None else f"{name} (missing)",
            tofile=f"{name} (the schema)",
        )
    )
