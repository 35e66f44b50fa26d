"""Client-side probes for the scripts that load the Procfile's web process: one timed
request and what became of it, and the Apollo client's persisted-query round trip."""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.http_load import OPENER, persisted_home_screen_bodies

REQUEST_TIMEOUT = 30


@dataclass
class Probe:
    """One request of a probing client: when it started, how long it took, how it ended."""

    at: float
    ms: float
    ok: bool
    detail: str = ""


@dataclass
class ProbeLog:
    probes: list[Probe] = field(default_factory=list)

    def failed(self) -> list[Probe]:
        return [probe for probe in self.probes if not probe.ok]

    def median_ms(self) -> float | None:
        times = [probe.ms for probe in self.probes if probe.ok]
        return round(statistics.median(times), 1) if times else None

    def max_ms(self) -> float | None:
        times = [probe.ms for probe in self.probes if probe.ok]
        return round(max(times), 1) if times else None


def timed_request(
    url: str, body: bytes | None = None, token: str | None = None, keep: Callable[[dict], object] | None = None
) -> Probe:
    """One request; ok means HTTP 200 and, for GraphQL, an answer without errors. `keep`
    receives the decoded answer (a mutation's payload is its acknowledgement)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
    started = time.monotonic()
    try:
        with OPENER.open(request, timeout=REQUEST_TIMEOUT) as response:
            payload = json.loads(response.read())
        if keep:
            keep(payload)
        errors = payload.get("errors") if isinstance(payload, dict) else None
        detail = errors[0]["extensions"]["code"] if errors else ""
        return Probe(started, (time.monotonic() - started) * 1000, not errors, detail)
    except urllib.error.HTTPError as error:
        return Probe(started, (time.monotonic() - started) * 1000, False, f"HTTP {error.code}")
    except OSError as error:
        return Probe(started, (time.monotonic() - started) * 1000, False, type(error).__name__)


def persisted_home_screen(url: str, token: str) -> Callable[[], Probe]:
    """The Apollo client's way: the hash alone, and the full query when the server lacks it."""
    by_hash, with_query = persisted_home_screen_bodies()

    def ask() -> Probe:
        probe = timed_request(url, by_hash, token)
        if probe.detail == "PERSISTED_QUERY_NOT_FOUND":
            retried = timed_request(url, with_query, token)
            return Probe(probe.at, probe.ms + retried.ms, retried.ok, retried.detail or "resent with query")
        return probe

    return ask


def readiness(base_url: str) -> int:
    """/readyz's status: 200, or 503 when the database or Redis is down."""
    try:
        with OPENER.open(f"{base_url}/readyz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
