"""One timed request to the web process and what became of it, for every script that loads
it (bench.sustained_load, scripts.fault_check, scripts.production_check): the same failure
classes everywhere, and the Apollo client's persisted-query round trip."""

from __future__ import annotations

import http.client
import json
import math
import statistics
import threading
import time
import urllib.error
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.harness import OPENER, graphql_request, persisted_home_screen_bodies

REQUEST_TIMEOUT = 30


@dataclass
class Probe:
    """One request: when it started, how long it took, and how it ended (`detail` names the
    failure: http_<status>, graphql_<code>, timeout, connection or bad_answer)."""

    at: float
    ms: float
    ok: bool
    detail: str = ""

    @property
    def error(self) -> str | None:
        return None if self.ok else self.detail


@dataclass
class ProbeLog:
    probes: list[Probe] = field(default_factory=list)  # list.append is atomic: threads share it

    def failed(self) -> list[Probe]:
        return [probe for probe in self.probes if not probe.ok]

    def median_ms(self) -> float | None:
        times = [probe.ms for probe in self.probes if probe.ok]
        return round(statistics.median(times), 1) if times else None

    def max_ms(self) -> float | None:
        times = [probe.ms for probe in self.probes if probe.ok]
        return round(max(times), 1) if times else None


def timed_request(
    url: str,
    body: bytes | None = None,
    token: str | None = None,
    *,
    timeout: float = REQUEST_TIMEOUT,
    keep: Callable[[dict], object] | None = None,
) -> Probe:
    """One GraphQL request on a connection of its own; ok means a 200 whose answer has data
    and no errors. `keep` receives the decoded answer (a mutation's payload is its
    acknowledgement)."""
    started = time.monotonic()
    answer, failure = None, None
    try:
        with OPENER.open(graphql_request(url, body, token), timeout=timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        failure = f"http_{error.code}"
    except urllib.error.URLError as error:  # urllib wraps what went wrong while connecting
        failure = "timeout" if isinstance(error.reason, TimeoutError) else "connection"
    except TimeoutError:
        failure = "timeout"
    except ValueError:  # not JSON
        failure = "bad_answer"
    except (OSError, http.client.HTTPException):  # refused, reset, closed before the answer was whole
        failure = "connection"
    if answer is not None:
        if keep and isinstance(answer, dict):
            keep(answer)
        failure = answer_error(answer)
    return Probe(started, (time.monotonic() - started) * 1000, failure is None, failure or "")


def answer_error(answer: object) -> str | None:
    """None for a GraphQL answer with data and no errors, else its class."""
    if not isinstance(answer, dict):
        return "bad_answer"
    errors = answer.get("errors")
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        return f"graphql_{(first.get('extensions') or {}).get('code', 'NO_CODE')}"
    return None if answer.get("data") else "bad_answer"


class PersistedHomeScreen:
    """The home screen sent as the app's Apollo client sends it: by hash alone, and again with
    the query when the server answers PERSISTED_QUERY_NOT_FOUND (counted in `resent`). Both
    requests share one time limit."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.by_hash, self.with_query = persisted_home_screen_bodies()
        self.resent = 0
        self._lock = threading.Lock()

    def __call__(self, timeout: float = REQUEST_TIMEOUT) -> Probe:
        probe = timed_request(self.url, self.by_hash, self.token, timeout=timeout)
        if probe.detail != "graphql_PERSISTED_QUERY_NOT_FOUND":
            return probe
        with self._lock:
            self.resent += 1
        left = timeout - probe.ms / 1000
        if left <= 0:
            return Probe(probe.at, probe.ms, False, "timeout")
        retried = timed_request(self.url, self.with_query, self.token, timeout=left)
        return Probe(probe.at, probe.ms + retried.ms, retried.ok, retried.detail)


def readiness(base_url: str) -> int:
    """/readyz's status: 200, or 503 when the database or Redis is down."""
    try:
        with OPENER.open(f"{base_url}/readyz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def percentile(values: Sequence[float], percent: float) -> float | None:
    """Nearest rank: the smallest value with at least `percent`% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    figures = {f"p{p}": percentile(latencies_ms, p) for p in (50, 90, 99)}
    figures["max"] = max(latencies_ms, default=None)
    return {key: None if value is None else round(value, 1) for key, value in figures.items()}
