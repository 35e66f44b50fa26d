"""The document of an operation: found by its query or its hash, prepared (checked against the
limits, parsed, validated) once per process and kept by the query's SHA-256 and whether the
client may see the schema.

A query reaches here as text, as a hash alone (an automatic persisted query,
schema/persisted_queries.py), or as both. A document already prepared is found by its hash
alone: a repeated operation is neither parsed nor validated again, and one sent by hash does
not even reach the shared cache. With trusted documents on (schema/trusted_documents.py),
only the app's own operations are found, and anything else is refused before it is parsed.

Whether the request may see the schema (schema/introspection.py) is part of what a document
is prepared for: a client that may not is refused introspection in validation, and the
documents prepared for one kind of client never serve the other.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse

from . import limits, persisted_queries
from .errors import BAD_REQUEST, BAD_USER_INPUT, FORBIDDEN, PERSISTED_QUERY_NOT_FOUND, QUERY_TOO_COMPLEX
from .schema import GRAPHQL_SCHEMA
from .trusted_documents import NOT_TRUSTED, trusted_documents
from .validation import validation_errors


class OperationRefused(Exception):
    """An operation answered before its document is known (a persisted query not found,
    a hash that is not its query's, a query over the size limit, an untrusted document)."""

    def __init__(self, message: str, code: str = BAD_REQUEST, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def document_for(
    query: str | None, query_hash: str | None, shows_schema: bool = True, trusted_only: bool = False
) -> PreparedDocument:
    """The prepared document of an operation given by its query, its persisted query's hash,
    or both (then the hash must be the query's; the pipeline registers it once it passed
    its checks), for a client that may see the schema or not (`shows_schema`).
    `trusted_only`: only a trusted document (schema/trusted_documents.py), found by its hash,
    and anything else refused before it is parsed. OperationRefused says why there is none."""
    if query is None:
        key = DocumentKey(query_hash, shows_schema)
        return _trusted_document(key) if trusted_only else _persisted_document(key)
    try:
        limits.check_size(query)  # before hashing, storing or parsing anything
    except limits.QueryTooComplex as refusal:
        raise OperationRefused(refusal.message, QUERY_TOO_COMPLEX) from None
    sha256 = persisted_queries.sha256_of(query)
    if query_hash is not None and query_hash != sha256:
        raise OperationRefused("The persisted query's sha256Hash is not the SHA-256 of its query.")
    key = DocumentKey(sha256, shows_schema)
    if trusted_only:
        return _trusted_document(key)
    return documents.get(key) or _prepare_and_keep(key, query)


def _trusted_document(key: DocumentKey) -> PreparedDocument:
    body = trusted_documents.body(key.sha256)
    if body is None:
        raise OperationRefused(NOT_TRUSTED, FORBIDDEN, status=403)
    return documents.get(key) or _prepare_and_keep(key, body)


def _persisted_document(key: DocumentKey) -> PreparedDocument:
    prepared = documents.get(key)
    if prepared is not None:
        return prepared
    query = persisted_queries.stored_query(key.sha256)
    if query is None:
        raise OperationRefused(persisted_queries.NOT_FOUND_MESSAGE, PERSISTED_QUERY_NOT_FOUND, status=200)
    return _prepare_and_keep(key, query)


def _prepare_and_keep(key: DocumentKey, query: str) -> PreparedDocument:
    prepared = prepare(query, key.shows_schema)
    documents.put(key, prepared)
    return replace(prepared, from_cache=False)


@dataclass(frozen=True)
class PreparedDocument:
    """What a query text comes to, worked out once: its document and each operation's cost
    plan, or the errors that stop it (syntax, limits, validation)."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...] = ()
    costs: Mapping[str | None, limits.OperationCost] = field(default_factory=dict)
    # False on the copy handed out by the lookup that prepared it (a cache miss); the kept
    # one says True, as it will be found in the cache from then on.
    from_cache: bool = True

    def cost_of(self, operation: OperationDefinitionNode) -> limits.OperationCost:
        return self.costs[operation.name.value if operation.name else None]


def prepare(query: str, shows_schema: bool = True) -> PreparedDocument:
    """Lex, parse, check the shape of and validate `query`, cheapest refusals first; for a
    client that may not see the schema (`shows_schema` false), introspection is refused."""
    if _NUL_ESCAPE.search(query):
        # PostgreSQL cannot store or even compare a string with a NUL character in it.
        message = "Strings must not contain NUL characters (query)."
        return PreparedDocument(None, (GraphQLError(message, extensions={"code": BAD_USER_INPUT}),))
    try:
        # Lexed first, so the parser never meets more tokens than graphql-core's own
        # max_tokens would allow, nor more nesting than its recursion can take.
        limits.check_tokens(query)
        document = parse(query)
        limits.check_shape(document)
    except GraphQLError as error:
        return PreparedDocument(None, (error,))
    except limits.QueryTooComplex as refusal:
        return PreparedDocument(None, (refusal.as_graphql_error(),))
    errors = validation_errors(document, shows_schema)
    if errors:
        return PreparedDocument(None, errors)
    return PreparedDocument(document, costs=limits.operation_costs(GRAPHQL_SCHEMA, document))


# A raw NUL in the query text is a syntax error; an escaped one would parse.
_NUL_ESCAPE = re.compile(r"\\u0000", re.IGNORECASE)


@dataclass(frozen=True)
class DocumentCacheStats:
    hits: int
    misses: int
    size: int
    capacity: int


class DocumentKey(NamedTuple):
    """What a prepared document is kept by: its query's SHA-256, and whether it was prepared
    for a client that may see the schema (validated with or without introspection)."""

    sha256: str
    shows_schema: bool


class DocumentCache:
    """Prepared documents by DocumentKey, the least recently used dropped beyond
    GRAPHQL_DOCUMENT_CACHE_SIZE; one per process, shared by its threads."""

    def __init__(self) -> None:
        self._documents: OrderedDict[DocumentKey, PreparedDocument] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: DocumentKey) -> PreparedDocument | None:
        with self._lock:
            prepared = self._documents.get(key)
            if prepared is None:
                self.misses += 1
                return None
            self.hits += 1
            self._documents.move_to_end(key)
            return prepared

    def put(self, key: DocumentKey, prepared: PreparedDocument) -> None:
        with self._lock:
            self._documents[key] = prepared
            self._documents.move_to_end(key)
            while len(self._documents) > settings.GRAPHQL_DOCUMENT_CACHE_SIZE:
                self._documents.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()
            self.hits = self.misses = 0

    def stats(self) -> DocumentCacheStats:
        with self._lock:
            return DocumentCacheStats(
                self.hits, self.misses, len(self._documents), settings.GRAPHQL_DOCUMENT_CACHE_SIZE
            )


documents = DocumentCache()


def _forget_documents_when_limits_change(setting: str, **_: Any) -> None:
    """A prepared document holds the verdicts of the limits of its time (tests override them)."""
    if setting.startswith("GRAPHQL_"):
        documents.clear()


setting_changed.connect(_forget_documents_when_limits_change)
