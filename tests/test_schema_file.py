"""schema.graphql, the committed SDL, is the schema the server serves (schema/sdl.py): an API
change shows in that file's diff, where reviewers read it (CONTRIBUTING.md, "Changing the API")."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from schema.sdl import REWRITE_COMMAND, difference, schema_file, schema_sdl


def test_the_committed_schema_file_is_the_schemas_sdl():
    path = schema_file()
    committed = path.read_text(encoding="utf-8") if path.exists() else None
    diff = difference(committed, schema_sdl())
    assert not diff, f"{path.name} differs from the schema: run `{REWRITE_COMMAND}` and commit it.\n{diff}"


def test_a_stale_file_fails_the_check_with_its_diff_and_the_command_that_rewrites_it(settings, tmp_path):
    settings.BASE_DIR = tmp_path  # schema_sdl reads and writes BASE_DIR/schema.graphql
    current = schema_sdl()
    stale = current.replace("  viewerRsvp: RsvpStatus\n", "")
    assert stale != current
    (tmp_path / "schema.graphql").write_text(stale, encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command("schema_sdl", "--check")
    message = str(refused.value)
    assert f"run `{REWRITE_COMMAND}`" in message
    assert "--- schema.graphql (committed)\n+++ schema.graphql (the schema)\n" in message
    assert "\n+  viewerRsvp: RsvpStatus\n" in message

    call_command("schema_sdl", stdout=StringIO())
    assert (tmp_path / "schema.graphql").read_text(encoding="utf-8") == current
    call_command("schema_sdl", "--check", stdout=StringIO())


def test_the_sdl_is_sorted_by_name_whatever_order_the_code_declares():
    type_names = [line.split()[1] for line in schema_sdl().splitlines() if line.startswith(("type ", "input "))]
    assert type_names == sorted(type_names)
