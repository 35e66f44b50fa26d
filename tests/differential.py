"""The differential harness: the same request sent through both execution paths, against the
same database state, and the two answers compared in full.

The two paths are the Django setting GRAPHQL_COMPILED_PLANS: True, the compiled plans
(issue 12: an operation compiled once, run level by level, falling back to graphql-core
where the plan stops), and False, graphql-core's own execution with
`CalendarExecutionContext` (the reference). Every request goes through the real HTTP
endpoint (Django's test client, POST /graphql), so each run has loaders of its own.

Two answers are the same when they have the same HTTP status, the same Content-Type,
WWW-Authenticate and Retry-After headers, and the same body **byte for byte**: data and
errors alike (messages, paths, locations, extensions), keys in the same order, errors in the
same order. `extensions.debug` (timings, with DEBUG on) is left out of the comparison. When
they differ, the report names the request, the viewer, the first JSON path at which the
answers part and both values there.

Both runs of a request see the same world: the rate limits' counters are reset before each,
the clock (`django.utils.timezone.now`) is frozen at one instant for the whole comparison,
tokens issued by `login`/`signup` are numbered instead of random, and a request that may
write (a mutation) runs in a savepoint rolled back afterwards, with PostgreSQL's sequences
(which a rollback does not rewind) put back, so the second path gets the same new IDs. A
request that may not write is checked to have written nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

import calendarapp.models
from throttling import counters
from throttling.passwords import password_checks

SETTING = {"reference": False, "compiled": True}  # GRAPHQL_COMPILED_PLANS on each side
COMPARED_HEADERS = ("Content-Type", "WWW-Authenticate", "Retry-After")
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|CREATE|ALTER|DROP|TRUNCATE)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Viewer:
    """Who sends a request: a label for reports, and a token (None: anonymous)."""

    label: str
    token: str | None = None


ANONYMOUS = Viewer("anonymous")


@dataclass(frozen=True)
class Request:
    """One HTTP request to send through both paths: an operation (or a batch of them)."""

    label: str  # what it is, for the report: "home_screen.graphql {'date': ...}"
    payload: dict | list
    viewer: Viewer = ANONYMOUS
    writes: bool = False  # may write (a mutation): run in a savepoint rolled back

    @classmethod
    def operation(cls, label: str, query: str, variables: dict | None = None, viewer: Viewer = ANONYMOUS) -> Request:
        """A request of one operation; it may write if its document holds a mutation."""
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        return cls(label, payload, viewer, writes=is_mutation(query))


def is_mutation(query: str) -> bool:
    """Whether a document holds a mutation (then it runs isolated)."""
    return re.search(r"(^|[\s}])mutation\b", re.sub(r"#[^\n]*", "", query)) is not None


@dataclass
class Exchange:
    """One request's answer on one path."""

    status: int
    headers: dict[str, str | None]
    content: bytes  # the body as sent, or re-serialized without extensions.debug
    body: Any  # parsed, without extensions.debug
    writes: list[str] = field(default_factory=list)  # SQL statements that wrote
    had_debug: bool = False  # the answer carried extensions.debug, left out


# --- comparing two answers ------------------------------------------------------------------------


class Absent:
    """A key one answer has and the other has not."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT = Absent()


@dataclass(frozen=True)
class Difference:
    """Where two answers part: a JSON path (`$.data.viewer.friends.edges[3].node`), what
    each side has there, and in what way they differ."""

    path: str
    reference: Any
    compiled: Any
    kind: str = "values differ"


def child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"{path}[{json.dumps(key)}]"


def first_difference(reference: Any, compiled: Any, path: str = "$") -> Difference | None:
    """The first place, in document order, where two parsed JSON values differ: in type (so
    `1` is not `true` nor `1.0`), in value, in length, in which keys an object has, or in
    the order of its keys."""
    if type(reference) is not type(compiled):
        return Difference(path, reference, compiled, "types differ")
    if isinstance(reference, dict):
        for key in reference:
            if key not in compiled:
                return Difference(child_path(path, key), reference[key], ABSENT, "only the reference has this key")
            found = first_difference(reference[key], compiled[key], child_path(path, key))
            if found:
                return found
        for key in compiled:
            if key not in reference:
                return Difference(child_path(path, key), ABSENT, compiled[key], "only the compiled path has this key")
        if list(reference) != list(compiled):
            return Difference(path, list(reference), list(compiled), "keys in another order")
        return None
    if isinstance(reference, list):
        for index, (left, right) in enumerate(zip(reference, compiled, strict=False)):
            found = first_difference(left, right, child_path(path, index))
            if found:
                return found
        if len(reference) != len(compiled):
            index = min(len(reference), len(compiled))
            return Difference(
                child_path(path, index),
                reference[index] if index < len(reference) else ABSENT,
                compiled[index] if index < len(compiled) else ABSENT,
                f"lists of {len(reference)} and {len(compiled)} items",
            )
        return None
    if reference != compiled:
        return Difference(path, reference, compiled)
    return None


def compare(reference: Exchange, compiled: Exchange) -> Difference | None:
    """The first difference between two answers, status and headers first, then the body."""
    if reference.status != compiled.status:
        return Difference("HTTP status", reference.status, compiled.status, "statuses differ")
    for header in COMPARED_HEADERS:
        if reference.headers.get(header) != compiled.headers.get(header):
            return Difference(f"header {header}", reference.headers.get(header), compiled.headers.get(header))
    found = first_difference(reference.body, compiled.body)
    if found:
        return found
    if reference.content != compiled.content:
        at = next(
            (i for i, (a, b) in enumerate(zip(reference.content, compiled.content, strict=False)) if a != b),
            min(len(reference.content), len(compiled.content)),
        )
        return Difference(
            f"byte {at} of the body",
            reference.content[max(0, at - 40) : at + 40],
            compiled.content[max(0, at - 40) : at + 40],
            "the same JSON written with other bytes",
        )
    return None


def clipped(value: Any, length: int = 400) -> str:
    """A value as JSON (or text as it is), cut at `length` characters."""
    text = value if isinstance(value, str) else as_json(value)
    return text if len(text) <= length else text[:length] + f"... ({len(text)} characters)"


def as_json(value: Any) -> str:
    if isinstance(value, Absent):
        return "<absent>"
    if isinstance(value, bytes):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def error_summary(body: Any) -> str:
    """The errors of an answer in one line: code, path and message of each."""
    bodies = body if isinstance(body, list) else [body]
    parts = []
    for index, one in enumerate(bodies):
        for error in (one or {}).get("errors") or () if isinstance(one, dict) else ():
            code = (error.get("extensions") or {}).get("code")
            path = ".".join(str(part) for part in error.get("path") or ()) or "-"
            where = f"#{index} " if isinstance(body, list) else ""
            parts.append(f"{where}{code} at {path}: {error.get('message')!r}")
    return "; ".join(parts) or "none"


class DifferentAnswers(AssertionError):
    """The two paths answered one request differently."""

    def __init__(self, request: Request, difference: Difference, reference: Exchange, compiled: Exchange, note: str):
        self.request = request
        self.difference = difference
        super().__init__(report(request, difference, reference, compiled, note))


def report(request: Request, difference: Difference, reference: Exchange, compiled: Exchange, note: str = "") -> str:
    payloads = request.payload if isinstance(request.payload, list) else [request.payload]
    batch = f" (a batch of {len(payloads)})" if isinstance(request.payload, list) else ""
    lines = [
        "The compiled plans and graphql-core's path answer differently.",
        f"  request:   {request.label}{batch}",
        f"  viewer:    {request.viewer.label}",
        f"  first difference at {difference.path} ({difference.kind}):",
        f"    reference (GRAPHQL_COMPILED_PLANS=False): {clipped(as_json(difference.reference))}",
        f"    compiled  (GRAPHQL_COMPILED_PLANS=True):  {clipped(as_json(difference.compiled))}",
        f"  HTTP status: reference {reference.status}, compiled {compiled.status}",
        f"  errors, reference: {clipped(error_summary(reference.body), 1500)}",
        f"  errors, compiled:  {clipped(error_summary(compiled.body), 1500)}",
    ]
    if note:
        lines.append(f"  {note}")
    for index, payload in enumerate(payloads):
        prefix = f"  operation #{index}: " if len(payloads) > 1 else "  "
        if isinstance(payload, dict):
            lines.append(f"{prefix}variables: {clipped(payload.get('variables'), 1000)}")
            lines.append(f"{prefix}query:")
            lines.extend(f"      {line}" for line in str(payload.get("query")).splitlines())
    lines.append(f"  reference body: {clipped(as_json(reference.body), 3000)}")
    lines.append(f"  compiled body:  {clipped(as_json(compiled.body), 3000)}")
    return "\n".join(lines)


# --- running a request on one path ----------------------------------------------------------------


def without_debug(body: Any) -> tuple[Any, bool]:
    """The body without `extensions.debug` (DEBUG's SQL timings), and whether it had one."""
    if isinstance(body, list):
        parts = [without_debug(item) for item in body]
        return [item for item, _ in parts], any(had for _, had in parts)
    if isinstance(body, dict) and isinstance(body.get("extensions"), dict) and "debug" in body["extensions"]:
        extensions = {key: value for key, value in body["extensions"].items() if key != "debug"}
        body = {key: value for key, value in body.items() if key != "extensions"}
        if extensions:
            body["extensions"] = extensions
        return body, True
    return body, False


class NumberedTokens:
    """Stands in for `secrets` in calendarapp.models: tokens numbered from 1 in each run, so
    that a `login` answers the same token on both paths."""

    def __init__(self) -> None:
        self.issued = 0

    def token_urlsafe(self, nbytes: int | None = None) -> str:
        self.issued += 1
        return f"differential-token-{self.issued:04}"


@contextmanager
def kept_sequences() -> Iterator[None]:
    """PostgreSQL's sequences as they are now, put back afterwards: a rollback does not
    rewind them, and the other path must get the same new primary keys (hence IDs).
    SQLite's AUTOINCREMENT counters are rows of a table, rolled back with the rest."""
    if connection.vendor != "postgresql":
        yield
        return
    query = "SELECT schemaname, sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()"
    with connection.cursor() as cursor:
        cursor.execute(query)
        before = {(schema, name): last for schema, name, last in cursor.fetchall()}
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(query)
            for schema, name, last in cursor.fetchall():
                if last != before.get((schema, name)):
                    first = before.get((schema, name))
                    qualified = f'"{schema}"."{name}"'
                    cursor.execute("SELECT setval(%s, %s, %s)", [qualified, first or 1, first is not None])


class Differ:
    """Sends requests through both paths and compares the answers (see the module docstring).

    `now`: the instant the clock is frozen at (by default, when the Differ is made).
    """

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.client = Client(raise_request_exception=False)
        self.now = now or dt.datetime.now(dt.UTC)

    @contextmanager
    def same_conditions(self) -> Iterator[None]:
        """What each request starts from, on either path: no rate-limit count, a full
        password-check credit, the frozen clock, tokens numbered from 1."""
        counters.reset()
        password_checks.reset()
        with (
            mock.patch("django.utils.timezone.now", return_value=self.now),
            mock.patch.object(calendarapp.models, "secrets", NumberedTokens()),
        ):
            yield

    def send(self, request: Request) -> Exchange:
        """One request on the path the settings select now."""
        headers = {"HTTP_AUTHORIZATION": f"Bearer {request.viewer.token}"} if request.viewer.token else {}
        isolation = self.isolated() if request.writes else nullcontext()
        with self.same_conditions(), isolation, CaptureQueriesContext(connection) as sql:
            response = self.client.post(
                "/graphql", json.dumps(request.payload), content_type="application/json", **headers
            )
        content = response.content
        try:
            body, had_debug = without_debug(json.loads(content))
        except ValueError:
            body, had_debug = {"<not JSON>": content.decode(errors="replace")}, False
        if had_debug:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return Exchange(
            status=response.status_code,
            headers={header: response.headers.get(header) for header in COMPARED_HEADERS},
            content=content,
            body=body,
            writes=[query["sql"] for query in sql.captured_queries if WRITE.match(query["sql"])],
            had_debug=had_debug,
        )

    @staticmethod
    @contextmanager
    def isolated() -> Iterator[None]:
        with kept_sequences(), transaction.atomic():
            yield
            transaction.set_rollback(True)

    def run(
        self, requests: Sequence[Request], side: str, around: Callable[[str], AbstractContextManager] | None = None
    ) -> list[Exchange]:
        """The requests, in order, on one path. Switching a GRAPHQL_ setting empties the cache
        of prepared documents, so the first request of a side prepares its document (and plan)
        afresh and the next ones reuse them: a plan cached under too coarse a key (ignoring a
        variable that changes its shape) answers the later ones wrongly."""
        with override_settings(GRAPHQL_COMPILED_PLANS=SETTING[side]), around(side) if around else nullcontext():
            return [self.send(request) for request in requests]

    def check(
        self,
        requests: Sequence[Request] | Request,
        around: Callable[[str], AbstractContextManager] | None = None,
        note: Callable[[], str] | str = "",
        tamper: Callable[[Exchange], Exchange] | None = None,
    ) -> list[tuple[Exchange, Exchange]]:
        """Send `requests` through the reference path, then through the compiled path, and
        raise DifferentAnswers at the first request answered differently.

        `around(side)`: a context entered around each side's run (an injected fault).
        `note`: a line for the report (what was injected). `tamper`: alters each compiled
        answer before the comparison (the self-checks: a deliberately wrong answer)."""
        requests = [requests] if isinstance(requests, Request) else list(requests)
        reference = self.run(requests, "reference", around)
        compiled = self.run(requests, "compiled", around)
        if tamper:
            compiled = [tamper(exchange) for exchange in compiled]
        for request, left, right in zip(requests, reference, compiled, strict=True):
            for side, exchange in (("reference", left), ("compiled", right)):
                if exchange.writes and not request.writes:
                    raise AssertionError(
                        f"{request.label} as {request.viewer.label} wrote on the {side} path: {exchange.writes}"
                    )
            difference = compare(left, right)
            if difference is not None:
                raise DifferentAnswers(request, difference, left, right, note() if callable(note) else note)
            if left.status >= 500:
                where = f"{request.label} as {request.viewer.label}"
                raise AssertionError(f"{where}: HTTP {left.status} on both paths\n{clipped(left.body, 3000)}")
        return list(zip(reference, compiled, strict=True))
