"""Automatic persisted queries, Apollo's protocol (docs/api.md, Transport).

A client sends `extensions.persistedQuery = {"version": 1, "sha256Hash": <hex>}`, first
without the query. When the server does not know the hash it answers the error
PERSISTED_QUERY_NOT_FOUND (HTTP 200, message "PersistedQueryNotFound", which Apollo's
clients match on), and the client sends the query with its hash; the server checks that
the hash is the query's, keeps the query in Django's cache (Redis in production, shared by
every process) and from then on knows it by its hash alone.

The cache is an optimisation, never a dependency: when it fails, a request carrying its
query still runs (the failure is logged), and one with the hash alone is answered
PERSISTED_QUERY_NOT_FOUND, so the client sends the query.

Anyone may register a query, so what registering may store is bounded (`register`): only an
operation that is about to run (it parsed, validated and passed the limits), of at most
GRAPHQL_PERSISTED_QUERY_MAX_BYTES, at most GRAPHQL_PERSISTED_QUERY_REGISTRATIONS per client
(viewer, else address) an hour, and at most GRAPHQL_PERSISTED_QUERY_BYTES_PER_DAY from
everyone together. A query over a bound still runs: it is just not kept, so the client sends
it in full again next time.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from django.conf import settings
from django.core.cache import cache

from throttling.counters import counter_key, counters

logger = logging.getLogger("calendar.persisted_queries")

SUPPORTED_VERSION = 1
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
# Cache keys of persisted queries: namespaced, and versioned in case what is stored changes.
CACHE_KEY_PREFIX = "graphql:apq:v1:"

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class MalformedPersistedQuery(ValueError):
    """`extensions.persistedQuery` is not one this server can use (BAD_REQUEST)."""


def requested_hash(extensions: Any) -> str | None:
    """The SHA-256 (lower-case hex) an operation's `extensions` name as its persisted
    query, or None when they name none."""
    if extensions is None:
        return None
    if not isinstance(extensions, dict):
        raise MalformedPersistedQuery("extensions must be an object.")
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise MalformedPersistedQuery("extensions.persistedQuery must be an object.")
    version = persisted.get("version")
    if version != SUPPORTED_VERSION or isinstance(version, bool):
        raise MalformedPersistedQuery(
            f"Unsupported persisted query version {version!r}: this server supports version {SUPPORTED_VERSION}."
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise MalformedPersistedQuery("extensions.persistedQuery.sha256Hash must be a SHA-256 in hexadecimal.")
    return sha256.lower()


def sha256_of(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def cache_key(sha256: str) -> str:
    return CACHE_KEY_PREFIX + sha256


def stored_query(sha256: str) -> str | None:
    """The query persisted under `sha256`, or None when the cache does not have it or fails."""
    try:
        query = cache.get(cache_key(sha256))
    except Exception as error:  # any backend's failure: the client will send the query again
        logger.warning("Persisted query cache unavailable, read as a miss: %s: %s", type(error).__name__, error)
        return None
    return query if isinstance(query, str) else None


def register(sha256: str, query: str, client: str) -> bool:
    """Persist `query` (whose SHA-256 is `sha256`) for `client`, within the bounds above;
    whether it was stored."""
    size = len(query.encode("utf-8", "surrogatepass"))
    hourly = settings.GRAPHQL_PERSISTED_QUERY_REGISTRATIONS
    daily_bytes = settings.GRAPHQL_PERSISTED_QUERY_BYTES_PER_DAY
    if size > settings.GRAPHQL_PERSISTED_QUERY_MAX_BYTES:
        reason = f"{size:,} bytes, over GRAPHQL_PERSISTED_QUERY_MAX_BYTES"
    elif not counters().take(counter_key("apq-client", client), 1, hourly, 3600).allowed:
        reason = f"over {hourly} registrations an hour for this client"
    elif not counters().take(counter_key("apq-bytes", "everyone"), size, daily_bytes, 24 * 3600).allowed:
        reason = f"over {daily_bytes:,} bytes registered a day"
    else:
        store_query(sha256, query)
        return True
    logger.info("Persisted query %s not stored (%s); it ran all the same", sha256[:12], reason)
    return False


def store_query(sha256: str, query: str) -> None:
    """Persist `query` under its own SHA-256 for GRAPHQL_PERSISTED_QUERY_TIMEOUT seconds;
    a failing cache is logged and otherwise ignored."""
    try:
        cache.set(cache_key(sha256), query, timeout=settings.GRAPHQL_PERSISTED_QUERY_TIMEOUT)
    except Exception as error:  # the request carries its query: it runs whatever the cache does
        logger.warning("Persisted query cache unavailable, query not stored: %s: %s", type(error).__name__, error)
