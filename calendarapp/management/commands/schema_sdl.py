"""`manage.py schema_sdl`: write the schema's SDL to schema.graphql (schema/sdl.py), what `make schema` runs.

python manage.py schema_sdl            # rewrite schema.graphql
python manage.py schema_sdl --check    # write nothing; fail, showing the diff, if it is not up to date
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from schema.sdl import REWRITE_COMMAND, difference, schema_file, schema_sdl


class Command(BaseCommand):
    help = "Write the schema's SDL, sorted by name, to schema.graphql at the repository's root."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Write nothing; fail if the file differs.")

    def handle(self, *args: Any, **options: Any) -> None:
        path, current = schema_file(), schema_sdl()
        if options["check"]:
            committed = path.read_text(encoding="utf-8") if path.exists() else None
            if diff := difference(committed, current):
                raise CommandError(f"{path.name} is not the schema's SDL: run `{REWRITE_COMMAND}`.\n{diff}")
            self.stdout.write(f"{path.name} is up to date.")
            return
        path.write_text(current, encoding="utf-8")
        self.stdout.write(f"Wrote {path.name} ({current.count(chr(10))} lines).")
