"""config/asgi_bridge.py: Django behind gunicorn's asyncio worker. Requests reach Django only
whole, each on one of a few threads (a request that waits holds one thread, not the others);
answers go back over ASGI; oversized and stalled bodies never reach it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest
from django.core.wsgi import get_wsgi_application
from prometheus_client import REGISTRY

from config.asgi_bridge import ANSWER_DELAY, BufferedWSGIBridge, wsgi_environ
from config.deadline import RECEIVED_AT
from config.run_slot import run_slot

GRAPHQL_BODY = json.dumps({"query": "{ viewer { id } }"}).encode()


def http_scope(method: str = "POST", path: str = "/graphql", headers: list | None = None, query: bytes = b"") -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": headers if headers is not None else [(b"content-type", b"application/json")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "http_version": "1.1",
    }


def call(app, scope: dict, chunks: list[bytes], pause: float = 0.0) -> tuple[int, dict, bytes, list[dict]]:
    """Drive `app` like an ASGI server: the body in `chunks`, `pause` seconds apart."""
    return asyncio.run(serve(app, scope, chunks, pause))


async def serve(app, scope: dict, chunks: list[bytes] = (b"",), pause: float = 0.0) -> tuple[int, dict, bytes, list]:
    """`call` within a running event loop, beside other requests."""
    sent: list[dict] = []
    pending = list(chunks)

    async def receive() -> dict:
        if pause:
            await asyncio.sleep(pause)
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, sent


class RecordingApp:
    """A WSGI application that records what it was called with and on which thread."""

    def __init__(self, chunks: list[bytes] | None = None, streaming: bool = False) -> None:
        self.environs: list[dict] = []
        self.threads: list[int] = []
        self.closed_on: list[int] = []
        self.chunks = chunks or [b"ok"]
        self.streaming = streaming

    def __call__(self, environ, start_response):
        self.environs.append({**environ, "body": environ["wsgi.input"].read()})
        self.threads.append(threading.get_ident())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return RecordedResponse(self)


class RecordedResponse:
    def __init__(self, app: RecordingApp) -> None:
        self.app = app
        self.streaming = app.streaming

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.app.chunks)

    def close(self) -> None:
        self.app.closed_on.append(threading.get_ident())


@pytest.mark.django_db(transaction=True)
def test_a_graphql_request_goes_through_django():
    bridge = BufferedWSGIBridge(get_wsgi_application(), max_body_bytes=1 << 20, body_timeout=5)
    status, headers, body, _ = call(bridge, http_scope(), [GRAPHQL_BODY])
    assert status == 200
    assert json.loads(body) == {"data": {"viewer": None}}
    assert headers["content-type"] == "application/json" and "x-request-id" in headers


def test_a_body_sent_in_pieces_reaches_the_application_whole():
    app = RecordingApp()
    bridge = BufferedWSGIBridge(app, max_body_bytes=1 << 20, body_timeout=5)
    pieces = [GRAPHQL_BODY[i : i + 3] for i in range(0, len(GRAPHQL_BODY), 3)]
    status, _, body, _ = call(bridge, http_scope(), pieces, pause=0.001)
    assert (status, body) == (200, b"ok")
    [environ] = app.environs
    assert environ["body"] == GRAPHQL_BODY and environ["CONTENT_LENGTH"] == str(len(GRAPHQL_BODY))


def test_django_is_told_when_the_headers_arrived_so_the_deadline_counts_the_body_too():
    app = RecordingApp()
    bridge = BufferedWSGIBridge(app, max_body_bytes=1 << 20, body_timeout=5)
    before = time.monotonic()
    call(bridge, http_scope(), [b"{", b"}"], pause=0.2)
    [environ] = app.environs
    assert before <= environ[RECEIVED_AT] <= before + 0.2  # before the body's two pieces came in


def errors_counted(code: str) -> float:
    """calendar_api_errors_total for `code` so far (config/metrics.py)."""
    return REGISTRY.get_sample_value("calendar_api_errors_total", {"code": code}) or 0.0


def test_an_oversized_body_is_413_and_never_reaches_the_application():
    app = RecordingApp()
    bridge = BufferedWSGIBridge(app, max_body_bytes=100, body_timeout=5)
    counted_before = errors_counted("QUERY_TOO_COMPLEX")
    status, headers, body, _ = call(bridge, http_scope(), [b"x" * 60, b"x" * 60])
    assert status == 413 and headers["content-type"] == "application/json"
    [error] = json.loads(body)["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX" and "limit of 100 bytes" in error["message"]
    assert app.environs == []
    assert errors_counted("QUERY_TOO_COMPLEX") == counted_before + 1  # the metrics see what Django never did


def test_a_body_that_stalls_is_408_and_never_reaches_the_application():
    app = RecordingApp()
    bridge = BufferedWSGIBridge(app, max_body_bytes=1 << 20, body_timeout=0.05)
    counted_before = errors_counted("BAD_REQUEST")
    status, _, body, _ = call(bridge, http_scope(), [b"{", b"}"], pause=0.2)
    assert status == 408 and b"did not arrive within" in body
    assert app.environs == []
    assert errors_counted("BAD_REQUEST") == counted_before + 1


def test_a_body_timeout_not_under_gunicorns_timeout_is_refused():
    bridge = BufferedWSGIBridge(RecordingApp(), max_body_bytes=1, body_timeout=25)
    with pytest.raises(RuntimeError, match=r"REQUEST_BODY_TIMEOUT_SECONDS \(25\) must be less than gunicorn's timeout"):
        bridge.check_worker_timeout(25)
    bridge.check_worker_timeout(26)


def test_a_client_gone_before_its_body_ends_costs_nothing():
    app = RecordingApp()
    bridge = BufferedWSGIBridge(app, max_body_bytes=1 << 20, body_timeout=5)
    sent = []

    async def run() -> None:
        messages = [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        await bridge(http_scope(), receive, send)

    asyncio.run(run())
    assert sent == [] and app.environs == []


def test_with_one_thread_every_request_runs_on_it_and_it_also_closes_the_response():
    app = RecordingApp()
    bridge = BufferedWSGIBridge(app, max_body_bytes=1 << 20, body_timeout=5)
    for _ in range(3):
        call(bridge, http_scope(), [GRAPHQL_BODY])
    assert len(set(app.threads)) == 1 and app.threads[0] != threading.get_ident()
    assert app.closed_on == app.threads


def test_a_streaming_answer_is_sent_chunk_by_chunk_and_closed_on_the_django_thread():
    app = RecordingApp(chunks=[b"id,title\n", b"1,a\n", b"2,b\n"], streaming=True)
    bridge = BufferedWSGIBridge(app, max_body_bytes=1 << 20, body_timeout=5)
    status, _, body, sent = call(bridge, http_scope(method="GET", headers=[]), [b""])
    assert (status, body) == (200, b"id,title\n1,a\n2,b\n")
    assert [message.get("more_body", False) for message in sent[1:]] == [True, True, True, False]
    assert app.closed_on == app.threads


class GatedApp:
    """A WSGI application whose requests to /wait/<name> wait until the test opens their gate
    (10 s at most), as a request waits on a row lock or a password check: giving up the
    worker's run slot meanwhile; every request records the thread it ran on."""

    def __init__(self) -> None:
        self.gates: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        self.entered: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        self.threads: dict[str, int] = {}

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        self.threads[path] = threading.get_ident()
        if path.startswith("/wait/"):
            self.entered[path].set()
            with run_slot.waiting():
                self.gates[path].wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [path.encode()]

    def open_all(self) -> None:
        for gate in list(self.gates.values()):
            gate.set()


async def until(condition, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def gated_scenario(threads: int, scenario) -> None:
    """Run `scenario(app, bridge)` on an event loop; every gate opens at the end, whatever happened."""
    app = GatedApp()
    bridge = BufferedWSGIBridge(app, max_body_bytes=1 << 20, body_timeout=5, threads=threads)
    try:
        asyncio.run(scenario(app, bridge))
    finally:
        app.open_all()


def test_a_request_waiting_in_django_holds_one_thread_while_another_serves_the_rest():
    async def scenario(app: GatedApp, bridge: BufferedWSGIBridge) -> None:
        waiting = asyncio.create_task(serve(bridge, http_scope(path="/wait/lock")))
        await until(app.entered["/wait/lock"].is_set)
        for index in range(3):
            status, _, body, _ = await asyncio.wait_for(serve(bridge, http_scope(path=f"/quick/{index}")), 5)
            assert (status, body) == (200, f"/quick/{index}".encode())
        assert not waiting.done()
        assert {app.threads[f"/quick/{index}"] for index in range(3)} != {app.threads["/wait/lock"]}
        app.gates["/wait/lock"].set()
        assert (await asyncio.wait_for(waiting, 5))[:1] == (200,)

    gated_scenario(2, scenario)


def test_when_every_thread_is_busy_a_request_waits_for_the_first_one_free():
    """Not queued behind a given busy thread, which may wait for long (on a lock)."""

    async def scenario(app: GatedApp, bridge: BufferedWSGIBridge) -> None:
        first = asyncio.create_task(serve(bridge, http_scope(path="/wait/first")))
        second = asyncio.create_task(serve(bridge, http_scope(path="/wait/second")))
        await until(lambda: app.entered["/wait/first"].is_set() and app.entered["/wait/second"].is_set())
        third = asyncio.create_task(serve(bridge, http_scope(path="/quick")))
        await asyncio.sleep(0.2)
        assert not third.done() and "/quick" not in app.threads
        app.gates["/wait/second"].set()
        await asyncio.wait_for(third, 5)
        assert app.threads["/quick"] == app.threads["/wait/second"] and not first.done()
        app.gates["/wait/first"].set()
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert bridge.threads.busy() == [0, 0]

    gated_scenario(2, scenario)


def test_a_request_cancelled_while_waiting_for_a_thread_never_runs_and_loses_no_thread():
    async def scenario(app: GatedApp, bridge: BufferedWSGIBridge) -> None:
        busy = asyncio.create_task(serve(bridge, http_scope(path="/wait/busy")))
        await until(app.entered["/wait/busy"].is_set)
        gone = asyncio.create_task(serve(bridge, http_scope(path="/gone")))
        await asyncio.sleep(0.1)
        gone.cancel()  # as gunicorn cancels a request whose client went away
        app.gates["/wait/busy"].set()
        await asyncio.wait_for(busy, 5)
        await asyncio.wait_for(serve(bridge, http_scope(path="/next")), 5)
        assert "/gone" not in app.threads and bridge.threads.busy() == [0]

    gated_scenario(1, scenario)


class StreamingApp:
    """Streamed answers of five chunks, recording the thread of the request, of each chunk
    read and of the close."""

    def __init__(self) -> None:
        self.request_thread: dict[str, int] = {}
        self.chunk_threads: defaultdict[str, list[int]] = defaultdict(list)
        self.close_thread: dict[str, int] = {}

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        self.request_thread[path] = threading.get_ident()
        start_response("200 OK", [("Content-Type", "text/csv")])
        return StreamedAnswer(self, path)


class StreamedAnswer:
    streaming = True

    def __init__(self, app: StreamingApp, path: str) -> None:
        self.app = app
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(5):
            time.sleep(0.005)
            self.app.chunk_threads[self.path].append(threading.get_ident())
            yield b"row\n"

    def close(self) -> None:
        self.app.close_thread[self.path] = threading.get_ident()


def test_a_streamed_answer_is_read_and_closed_on_its_requests_thread_beside_others():
    """Django ends a request (request_finished, which tends the thread's database connection)
    when its answer is closed: that, and every chunk, happen on the request's own thread."""
    app = StreamingApp()
    bridge = BufferedWSGIBridge(app, max_body_bytes=1 << 20, body_timeout=5, threads=2)

    async def scenario() -> list:
        scopes = [http_scope(method="GET", path=f"/download/{index}", headers=[]) for index in range(6)]
        return await asyncio.wait_for(asyncio.gather(*(serve(bridge, scope) for scope in scopes)), 10)

    answers = asyncio.run(scenario())
    assert [(status, body) for status, _, body, _ in answers] == [(200, b"row\n" * 5)] * 6
    assert len(set(app.request_thread.values())) == 2  # both threads served
    for path, thread in app.request_thread.items():
        assert app.chunk_threads[path] == [thread] * 5 and app.close_thread[path] == thread, path


def test_the_environ_says_whether_django_runs_on_several_threads():
    for threads, multithread in ((1, False), (2, True)):
        app = RecordingApp()
        call(BufferedWSGIBridge(app, max_body_bytes=1 << 20, body_timeout=5, threads=threads), http_scope(), [b"{}"])
        assert app.environs[0]["wsgi.multithread"] is multithread


def test_lifespan_startup_and_shutdown_are_acknowledged():
    bridge = BufferedWSGIBridge(RecordingApp(), max_body_bytes=1, body_timeout=1)
    sent = []

    async def run() -> None:
        messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        await bridge({"type": "lifespan"}, receive, send)

    asyncio.run(run())
    assert [message["type"] for message in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


class TestEnviron:
    def test_request_line_and_headers_follow_pep_3333(self):
        scope = http_scope(
            method="GET",
            path="/graphql/caf\u00e9",
            query=b"query=%7Bviewer%7D",
            headers=[
                (b"content-type", b"application/json"),
                (b"content-length", b"999"),
                (b"accept", b"text/html"),
                (b"accept", b"application/json"),
                (b"x-forwarded-proto", b"https"),
            ],
        )
        environ = wsgi_environ(scope, b"body")
        assert environ["REQUEST_METHOD"] == "GET"
        assert environ["PATH_INFO"] == "/graphql/caf\u00e9".encode().decode("latin-1")
        assert environ["QUERY_STRING"] == "query=%7Bviewer%7D"
        assert environ["CONTENT_TYPE"] == "application/json"
        assert environ["CONTENT_LENGTH"] == "4"  # the body read, not what the client claimed
        assert environ["HTTP_ACCEPT"] == "text/html,application/json"
        assert environ["HTTP_X_FORWARDED_PROTO"] == "https"
        assert environ["REMOTE_ADDR"] == "127.0.0.1" and environ["SERVER_NAME"] == "testserver"
        assert environ["wsgi.input"].read() == b"body"

    def test_a_header_with_underscores_cannot_pose_as_a_dashed_one(self):
        scope = http_scope(headers=[(b"x_forwarded_proto", b"https")])
        assert "HTTP_X_FORWARDED_PROTO" not in wsgi_environ(scope, b"")


class HeldBackApp:
    """Answers /held after asking the bridge to hold its answer back (as a rate-limited one is)."""

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] == "/held":
            environ[ANSWER_DELAY] = 0.5
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]


def test_an_answer_held_back_waits_on_the_event_loop_not_on_a_thread():
    """The held answer comes after its delay, while the worker's one thread serves the others."""
    bridge = BufferedWSGIBridge(HeldBackApp(), max_body_bytes=1024, body_timeout=5, threads=1)

    async def scenario() -> None:
        started = time.monotonic()
        held = asyncio.create_task(serve(bridge, http_scope(path="/held")))
        await asyncio.sleep(0.05)
        for index in range(3):
            status, _, body, _ = await asyncio.wait_for(serve(bridge, http_scope(path=f"/quick/{index}")), 0.4)
            assert (status, body) == (200, f"/quick/{index}".encode())
        assert not held.done()
        status, _, body, _ = await asyncio.wait_for(held, 5)
        assert (status, body) == (200, b"/held") and time.monotonic() - started >= 0.5

    asyncio.run(scenario())
