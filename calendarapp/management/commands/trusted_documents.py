"""`manage.py trusted_documents`: write the manifest of the app's operations (schema/trusted_documents.py).

    python manage.py trusted_documents                  # to GRAPHQL_TRUSTED_DOCUMENTS
    python manage.py trusted_documents --out path.json  # anywhere
    python manage.py trusted_documents --check          # fail if the manifest is not up to date

Run it at build time (bin/post_compile on the platform), so each release serves the
operations of its own commit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from schema.trusted_documents import manifest_of


class Command(BaseCommand):
    help = "Write the manifest of the app's operations (trusted documents), by SHA-256."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", help="Where to write it (default: GRAPHQL_TRUSTED_DOCUMENTS).")
        parser.add_argument("--operations", help="The folder of .graphql files (default: GRAPHQL_OPERATIONS_DIR).")
        parser.add_argument("--check", action="store_true", help="Write nothing; fail if the file differs.")

    def handle(self, *args: Any, **options: Any) -> None:
        out = options["out"] or settings.GRAPHQL_TRUSTED_DOCUMENTS
        if not out:
            raise CommandError("Say where to write the manifest: --out, or set GRAPHQL_TRUSTED_DOCUMENTS.")
        operations_dir = Path(options["operations"] or settings.GRAPHQL_OPERATIONS_DIR)
        manifest = manifest_of(operations_dir)
        if not manifest["operations"]:
            raise CommandError(f"No .graphql file in {operations_dir}.")
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        path = Path(out)
        if options["check"]:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                raise CommandError(f"{path} is not the manifest of {operations_dir}: run manage.py trusted_documents.")
            self.stdout.write(f"{path} is up to date ({len(manifest['operations'])} operations).")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {len(manifest['operations'])} operations to {path}.")
