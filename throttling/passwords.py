"""The share of a worker's CPU that password checks may take.

A password check is slow on purpose (tens of milliseconds of one core). Without a bound, a
flood of logins takes the whole worker and every other user waits. So, in each process:

- at most one password check runs at a time, and the request gives up its worker's run slot
  meanwhile (config/run_slot.py): the hashers' C code releases the GIL, so the worker's other
  thread goes on serving requests at full speed;
- password checks together take at most PASSWORD_CHECK_CPU_SHARE of one core over time: a
  credit of seconds refills at that rate up to PASSWORD_CHECK_BURST_SECONDS, and each check
  spends the time it took.

A check that finds the slot taken or the credit spent is refused at once (RATE_LIMITED),
without hashing anything: the flood's excess costs almost nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from config import deadline as request_deadline
from config.run_slot import run_slot
from schema.errors import RateLimited

BUSY = "The server is busy checking other passwords: try again in a moment."


class PasswordCheckGate:
    def __init__(self) -> None:
        self._slot = threading.Lock()
        self._credit: float | None = None  # seconds of checking left; full at first
        self._refilled_at = time.monotonic()

    @contextmanager
    def check(self) -> Iterator[None]:
        """Hold the process's one password-check slot for the `with` block, or raise
        RateLimited at once when it is taken or the CPU share is spent (DeadlineExceeded when
        the request's time is up: a check counts against it like any other step)."""
        request_deadline.check("password checks")
        if not self._slot.acquire(blocking=False):
            raise RateLimited(BUSY, 1)
        try:
            credit = self._refill()
            if credit <= 0:
                raise RateLimited(BUSY, -credit / settings.PASSWORD_CHECK_CPU_SHARE)
            started = time.monotonic()
            try:
                with run_slot.waiting():  # the worker's other requests run Python meanwhile
                    yield
            finally:
                self._credit = credit - (time.monotonic() - started)
        finally:
            self._slot.release()

    def _refill(self) -> float:
        now = time.monotonic()
        burst = settings.PASSWORD_CHECK_BURST_SECONDS
        credit = burst if self._credit is None else self._credit
        credit = min(burst, credit + (now - self._refilled_at) * settings.PASSWORD_CHECK_CPU_SHARE)
        self._credit, self._refilled_at = credit, now
        return credit

    def reset(self) -> None:
        """A full credit again (tests)."""
        self._credit = None


password_checks = PasswordCheckGate()
