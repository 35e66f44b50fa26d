"""The run slot (config/run_slot.py): a web worker's threads take turns at running Python,
first come first served, and give their turn up while they wait."""

from __future__ import annotations

import asyncio
import threading
import time

from config.asgi_bridge import BufferedWSGIBridge
from config.run_slot import RunSlot
from tests.test_asgi_bridge import http_scope, serve


def hold_in_thread(slot: RunSlot, order: list[str], name: str, started: threading.Event) -> threading.Thread:
    def run() -> None:
        started.set()
        with slot.holding():
            order.append(name)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_the_slot_goes_to_waiters_in_the_order_they_came():
    slot, order = RunSlot(), []
    slot.acquire()
    threads = []
    for name in ("first", "second", "third"):
        started = threading.Event()
        threads.append(hold_in_thread(slot, order, name, started))
        started.wait(5)
        time.sleep(0.05)  # queued before the next one starts
    slot.release()
    for thread in threads:
        thread.join(5)
    assert order == ["first", "second", "third"]


def test_waiting_gives_the_slot_up_and_takes_it_back():
    slot, order = RunSlot(), []
    slot.acquire()
    started = threading.Event()
    with slot.waiting():
        other = hold_in_thread(slot, order, "other", started)
        other.join(5)
        assert order == ["other"] and not slot.held()
    assert slot.held()
    slot.release()


def test_waiting_outside_a_slot_does_nothing():
    slot = RunSlot()
    with slot.waiting():
        assert not slot.held()
    slot.acquire()  # free: taken at once
    slot.release()


def test_a_statement_runs_without_the_slot():
    slot, seen = RunSlot(), []

    def execute(sql, params, many, context):
        seen.append(slot.held())
        return "rows"

    with slot.holding():
        assert slot.statement_wrapper(execute, "SELECT 1", None, False, {}) == "rows"
        assert slot.held()
    assert seen == [False]


class BusyApp:
    """Each request runs pure Python for a while and records when it started and ended."""

    def __init__(self) -> None:
        self.spans: dict[str, tuple[float, float]] = {}

    def __call__(self, environ, start_response):
        began = time.monotonic()
        total = 0
        while time.monotonic() - began < 0.15:
            total += sum(range(1000))
        self.spans[environ["PATH_INFO"]] = (began, time.monotonic())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]


def test_requests_on_two_threads_run_their_python_one_after_the_other():
    """Two requests at once on a worker's two threads: the second starts its Python when the
    first has finished (with a shared GIL, both would run, each at half speed)."""
    app = BusyApp()
    bridge = BufferedWSGIBridge(app, max_body_bytes=1024, body_timeout=5, threads=2)

    async def both() -> None:
        await asyncio.gather(serve(bridge, http_scope(path="/a")), serve(bridge, http_scope(path="/b")))

    asyncio.run(both())
    (first_began, first_ended), (second_began, second_ended) = sorted(app.spans.values())
    assert second_began >= first_ended
