"""Taking turns at running Python in a web worker.

Each web worker runs Django on DJANGO_THREADS threads (config/asgi_bridge.py), so that a
request that waits (on a database statement, a row lock, a password check in C code that
releases the GIL) does not hold the worker's other requests. But only one thread runs Python
at a time (the GIL), and two requests running Python together each go at half speed,
switching every 5 ms: measured under a flood of refused logins, a home screen took 2 to 3
times as long as alone, where waiting its turn would cost it one short request.

So a request runs Python only while it holds its worker's run slot, which is handed over in
arrival order, and gives the slot up while it waits: around every SQL statement (a wrapper
the bridge installs on the thread's connection) and around a password check
(throttling/passwords.py). The running request keeps the whole interpreter; a waiting one
holds nothing the others need.

Outside the web process (runserver, the test suite, the Celery worker) no thread holds a slot
and `waiting()` does nothing.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class RunSlot:
    """A first-come, first-served lock: `release` hands it straight to the oldest waiter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False
        self._waiting: deque[threading.Event] = deque()
        self._held = threading.local()

    def acquire(self) -> None:
        with self._lock:
            if not self._taken:
                self._taken = True
                self._held.value = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # set by `release`, which handed the slot to this thread
        self._held.value = True

    def release(self) -> None:
        self._held.value = False
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._taken = False

    def held(self) -> bool:
        """Whether the calling thread holds the slot."""
        return getattr(self._held, "value", False)

    @contextmanager
    def holding(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Give the slot up for the block (if this thread holds it), and take it back after."""
        if not self.held():
            yield
            return
        self.release()
        try:
            yield
        finally:
            self.acquire()

    def statement_wrapper(self, execute: Any, sql: str, params: Any, many: bool, context: dict) -> Any:
        """A `connection.execute_wrapper`: the slot is free while the database works."""
        with self.waiting():
            return execute(sql, params, many, context)


# The process's run slot: one per web worker (each worker is a process).
run_slot = RunSlot()
