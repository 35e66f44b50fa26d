"""The request deadline: no request may work past REQUEST_DEADLINE_SECONDS.

The platform's router gives up on a request after 30 s, and gunicorn's asyncio worker never
kills a worker for a slow request (its event loop answers the heartbeat while the request's
thread works), so without a deadline a request could run on, unseen, for minutes: a batch of
logins, each a deliberately slow password check, measured far past 25 s.

The clock starts when the web process received the request's headers (config/asgi_bridge.py
passes that instant in the WSGI environ, so the time spent reading the body and waiting for a
Django thread counts), or when Django starts on the request when nothing passed it (runserver,
the test client). The GraphQL view checks it between the operations of a batch, the executor
before each root mutation field and each loader batch; code that has no request context (a
password check, an in-process export) calls `check()`, which finds the request's deadline in a
context variable set for the request's duration. What is left when it passes is answered with
`DeadlineExceeded`'s message, never started: the work is cut between steps, never inside one.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("calendar.deadline")

# The WSGI environ key in which the web process passes the time.monotonic() instant at which
# it received the request's headers (a dotted name: no HTTP header can pose as it).
RECEIVED_AT = "calendar.received_at"

_current: ContextVar[Deadline | None] = ContextVar("calendar_request_deadline", default=None)


class DeadlineExceeded(Exception):
    """Raised by `Deadline.check` once the request's time is up; answered INTERNAL_SERVER_ERROR
    with its message (schema/errors.py), as a statement cancelled by its timeout is."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__(
            f"The request reached its time limit of {deadline.seconds:g} s before this could run; "
            "nothing of it was done."
        )


class Deadline:
    """A time limit of `seconds` counted from `started` (a `clock()` reading), and what was cut
    by it (`cuts`: a count per kind of work, for the request's warning)."""

    __slots__ = ("seconds", "started", "clock", "cuts")

    def __init__(self, seconds: float, started: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self.started = clock() if started is None else started
        self.cuts: Counter[str] = Counter()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        """Seconds left, negative once the deadline has passed."""
        return self.seconds - self.elapsed()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self) -> None:
        """Raise DeadlineExceeded if the time is up."""
        if self.expired():
            raise DeadlineExceeded(self)

    def cut(self, what: str, count: int = 1) -> None:
        """Record that `count` pieces of work of kind `what` were answered with the error."""
        if count:
            self.cuts[what] += count


def current() -> Deadline | None:
    """The deadline of the request this thread is serving, if any (none in the Celery worker,
    in management commands, or with REQUEST_DEADLINE_SECONDS = 0)."""
    return _current.get()


def check(what: str | None = None) -> None:
    """Raise DeadlineExceeded if the current request's time is up, recording the cut of one
    `what` (for the request's warning); nothing outside a request. Call it before any step
    that takes long (a password check, a chunk of an export)."""
    deadline = _current.get()
    if deadline is not None and deadline.expired():
        if what:
            deadline.cut(what)
        raise DeadlineExceeded(deadline)


@contextmanager
def running(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """`deadline` is the current one (for `current()` and `check()`) within the block."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def deadline_for(request: HttpRequest) -> Deadline | None:
    """The request's deadline, counted from when the web process received it, else from now;
    None when REQUEST_DEADLINE_SECONDS is 0."""
    seconds = settings.REQUEST_DEADLINE_SECONDS
    if not seconds:
        return None
    received_at = request.META.get(RECEIVED_AT)
    return Deadline(seconds, received_at if isinstance(received_at, float) else None)


class RequestDeadlineMiddleware:
    """Gives each request its deadline (`request.deadline`, and `current()` while it is served),
    and logs one warning for a request that had work cut by it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        deadline = request.deadline = deadline_for(request)  # type: ignore[attr-defined]  # ours, on the request
        with running(deadline):
            response = self.get_response(request)
        if deadline is not None and deadline.cuts:
            log_cut(request, deadline)
        return response


def log_cut(request: HttpRequest, deadline: Deadline) -> None:
    cuts = dict(sorted(deadline.cuts.items()))
    logger.warning(
        "%s %s reached its deadline of %g s: cut %s (request %s, %.2f s after it was received)",
        request.method,
        request.path,
        deadline.seconds,
        ", ".join(f"{count} {what}" for what, count in cuts.items()),
        getattr(request, "request_id", None),
        deadline.elapsed(),
        extra={
            "fields": {
                "request_id": getattr(request, "request_id", None),
                "deadline_s": deadline.seconds,
                "elapsed_ms": round(deadline.elapsed() * 1000, 2),
                "cut": cuts,
            }
        },
    )
