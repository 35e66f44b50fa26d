"""Trusted documents: the app's own operations, registered at build time; in production the
only operations a non-staff client may run (an opt-in mode, GRAPHQL_TRUSTED_DOCUMENTS).

The manifest lists each operation file of GRAPHQL_OPERATIONS_DIR (the `.graphql` files the
mobile app sends, text exactly as sent) by the SHA-256 of its text, in the format of Apollo's
persisted query manifests, so an Apollo client's generated manifest could replace it:
`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name",
"type", "body"}]}`. `manage.py trusted_documents` writes it; the web process reads it once.

With the mode on, a non-staff client's operation, sent by hash or by text, runs only if its
hash is in the manifest; anything else is refused before it is parsed (FORBIDDEN). A hash
alone is answered from the manifest, without the persisted-query cache. Staff (GraphiQL after
an admin login, or a staff user's token) still run anything.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from graphql import OperationDefinitionNode, parse

from .persisted_queries import sha256_of

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
MANIFEST_VERSION = 1
NOT_TRUSTED = "This server runs only the app's own operations (trusted documents), and this one is not among them."


def manifest_of(operations_dir: Path) -> dict[str, Any]:
    """The manifest of the `.graphql` files in `operations_dir`, sorted by file name."""
    operations = []
    for path in sorted(operations_dir.glob("*.graphql")):
        body = path.read_text(encoding="utf-8")
        [definition] = [node for node in parse(body).definitions if isinstance(node, OperationDefinitionNode)]
        operations.append(
            {
                "id": sha256_of(body),
                "name": definition.name.value if definition.name else path.stem,
                "type": definition.operation.value,
                "body": body,
            }
        )
    return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "operations": operations}


def read_manifest(path: Path) -> dict[str, str]:
    """The operations of the manifest at `path`, body by SHA-256; ImproperlyConfigured saying
    what is wrong when it is missing, unreadable or not such a manifest."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ImproperlyConfigured(
            f"GRAPHQL_TRUSTED_DOCUMENTS is {str(path)!r}, which cannot be read ({error.strerror}): "
            "write it with `python manage.py trusted_documents`."
        ) from None
    except ValueError as error:
        raise ImproperlyConfigured(f"GRAPHQL_TRUSTED_DOCUMENTS ({path}) is not JSON: {error}.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ImproperlyConfigured(f"GRAPHQL_TRUSTED_DOCUMENTS ({path}) is not a {MANIFEST_FORMAT}.")
    bodies = {}
    for operation in manifest.get("operations", []):
        body = operation.get("body") if isinstance(operation, dict) else None
        if not isinstance(body, str) or operation.get("id") != sha256_of(body):
            raise ImproperlyConfigured(
                f"GRAPHQL_TRUSTED_DOCUMENTS ({path}) has an operation whose id is not its SHA-256."
            )
        bodies[operation["id"]] = body
    return bodies


class TrustedDocuments:
    """The manifest of GRAPHQL_TRUSTED_DOCUMENTS, read at first use in each process."""

    def __init__(self) -> None:
        self._bodies: dict[str, str] | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(settings.GRAPHQL_TRUSTED_DOCUMENTS)

    def body(self, sha256: str) -> str | None:
        """The trusted operation with this SHA-256, or None."""
        if self._bodies is None:
            with self._lock:
                if self._bodies is None:
                    self._bodies = read_manifest(Path(settings.GRAPHQL_TRUSTED_DOCUMENTS))
        return self._bodies.get(sha256)

    def forget(self) -> None:
        self._bodies = None


trusted_documents = TrustedDocuments()


def check_manifest(**_: Any) -> list[checks.CheckMessage]:
    """A system check (`manage.py check`, run by the release phase): the manifest can be read."""
    if not settings.GRAPHQL_TRUSTED_DOCUMENTS:
        return []
    try:
        read_manifest(Path(settings.GRAPHQL_TRUSTED_DOCUMENTS))
    except ImproperlyConfigured as problem:
        return [checks.Error(str(problem), id="calendar.E001")]
    return []


def _forget_when_settings_change(setting: str, **_: Any) -> None:
    if setting == "GRAPHQL_TRUSTED_DOCUMENTS":
        trusted_documents.forget()


setting_changed.connect(_forget_when_settings_change)
