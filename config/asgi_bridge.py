"""Django's WSGI application served from an asyncio event loop, on a few threads.

gunicorn's asyncio worker reads requests on its event loop. This bridge waits there until a
request's body has arrived whole (bounded in size and time), and only then hands it to
Django, on one of the worker's DJANGO_THREADS Django threads; the answer is written back by the
loop too. So a client that sends or reads slowly holds a socket, never a thread that runs
Django, and a request that waits (on a row lock, on a password check in C that releases the
GIL) holds one thread while the others serve the rest. The threads take turns at running
Python (config/run_slot.py), so two requests never slow each other down by sharing the GIL.

Why not Django's own ASGI handler: it gives each request its own database connection (a
connection per async context, which CONN_MAX_AGE cannot keep), so PostgreSQL saw one new
connection per request. On a few long-lived threads, Django keeps one persistent connection
per thread and runs exactly as under WSGI, the interface the test suite exercises.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import orjson
from django.db import connection

from config import metrics
from config.deadline import RECEIVED_AT
from config.run_slot import run_slot

Environ = dict[str, Any]

# The WSGI environ key in which Django asks for its answer to be held back this many seconds
# (schema/view.py, for a rate-limited request). The bridge waits on the event loop, holding
# no thread and spending no CPU: a client that hammers the server with attempts it refuses
# gets few answers a second, however fast it asks.
ANSWER_DELAY = "calendar.answer_delay"
WSGIApp = Callable[[Environ, Callable], Iterable[bytes]]


class BodyRefused(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class ClientGone(Exception):
    pass


class DjangoThreads:
    """`count` threads, each with its own queue. A new request takes an idle thread, or waits
    on the event loop until one is idle (never queued behind a busy thread, which may be
    waiting on a lock); the steps that follow it (a streamed answer's chunks and its close,
    which ends Django's request and tends its database connection) run on that same thread,
    as Django expects of one request. Bookkeeping happens on the event loop only."""

    def __init__(self, count: int) -> None:
        self.count = count
        # Created at first use, in the worker (never in gunicorn's master, whose threads would
        # not survive the fork).
        self._threads: list[ThreadPoolExecutor] = []
        self._queued: list[int] = []  # per thread: work handed to it and not finished yet
        self._waiting: deque[asyncio.Future[int]] = deque()

    def busy(self) -> list[int]:
        """How much work each thread has queued or running (for tests and diagnostics)."""
        return list(self._queued)

    async def take_idle(self) -> int:
        """An idle thread's index, reserved for a new request (waits for one, in order)."""
        if not self._threads:
            self._threads = [
                ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-{index}") for index in range(self.count)
            ]
            self._queued = [0] * self.count
        for index, queued in enumerate(self._queued):
            if not queued:  # (a thread going idle is handed to the first waiter: none waits now)
                self._queued[index] += 1
                return index
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed a thread just as the request was cancelled
            raise

    async def run_reserved(self, index: int, function: Callable, *args: Any) -> Any:
        """Run `function` on the thread `take_idle` reserved, which it then releases."""
        return await self._run(index, function, *args)

    async def run_on(self, index: int, function: Callable, *args: Any) -> Any:
        """Run `function` on thread `index`, after whatever it is doing."""
        self._queued[index] += 1
        return await self._run(index, function, *args)

    async def _run(self, index: int, function: Callable, *args: Any) -> Any:
        done = self._threads[index].submit(function, *args)
        # Released when the thread has finished, even if the request's task was cancelled
        # meanwhile (a client gone): until then the thread is not idle.
        done.add_done_callback(partial(self._release_from_thread, asyncio.get_running_loop(), index))
        return await asyncio.wrap_future(done)

    def _release_from_thread(self, loop: asyncio.AbstractEventLoop, index: int, _done: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the worker is exiting
            loop.call_soon_threadsafe(self._release, index)

    def _release(self, index: int) -> None:
        self._queued[index] -= 1
        if self._queued[index]:
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                self._queued[index] += 1
                waiter.set_result(index)
                return


class BufferedWSGIBridge:
    def __init__(self, wsgi_app: WSGIApp, max_body_bytes: int, body_timeout: float, threads: int = 1) -> None:
        self.wsgi_app = wsgi_app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        # Django's connections are per thread: each thread keeps one persistent database
        # connection, so a worker holds `threads` of them.
        self.threads = DjangoThreads(threads)

    def check_worker_timeout(self, worker_timeout: float) -> None:
        """Refuse a body timeout that is not under gunicorn's `timeout`: gunicorn waits for a
        body's next chunk at most that long, then answers a plain-text 500 itself, before this
        bridge could answer its JSON 408."""
        if self.body_timeout >= worker_timeout:
            raise RuntimeError(
                f"REQUEST_BODY_TIMEOUT_SECONDS ({self.body_timeout:g}) must be less than gunicorn's timeout "
                f"(GUNICORN_TIMEOUT, {worker_timeout:g}): a stalled body would get gunicorn's plain-text 500 "
                "instead of a JSON 408."
            )

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
        elif scope["type"] == "http":
            await self.serve_http(scope, receive, send)
        else:
            raise ValueError(f"Unsupported ASGI scope type {scope['type']!r}")

    async def serve_http(self, scope: dict, receive: Callable, send: Callable) -> None:
        received_at = time.monotonic()  # the headers are in: the request's deadline counts from here
        try:
            body = await asyncio.wait_for(self.read_body(receive), self.body_timeout)
        except TimeoutError:
            message = f"The request body did not arrive within {self.body_timeout:g} s."
            await send_error(send, 408, message, "BAD_REQUEST")
            return
        except BodyRefused as refusal:
            await send_error(send, refusal.status, refusal.message, refusal.code)
            return
        except ClientGone:
            return
        environ = wsgi_environ(scope, body, multithread=self.threads.count > 1)
        environ[RECEIVED_AT] = received_at
        thread = await self.threads.take_idle()
        status, headers, answer = await self.threads.run_reserved(thread, self.start_response_in_thread, environ)
        delay = environ.get(ANSWER_DELAY)
        if isinstance(delay, float | int) and delay > 0:
            await asyncio.sleep(delay)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if isinstance(answer, bytes):
            await send({"type": "http.response.body", "body": answer})
            return
        await self.stream(answer, send, thread)

    async def read_body(self, receive: Callable) -> bytes:
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                # Over a limit, as Django's smaller body limit answers (schema/view.py).
                message = f"The request body is larger than the limit of {self.max_body_bytes:,} bytes."
                raise BodyRefused(413, message, "QUERY_TOO_COMPLEX")
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    def start_response_in_thread(self, environ: Environ) -> tuple[int, list, bytes | Iterable[bytes]]:
        """Run Django for one request. A whole answer comes back as bytes, with the response
        closed (Django's request_finished, which tends the connection, runs here, on this
        thread); a streaming one (a file download) comes back as the response, to stream."""
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None) -> None:
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]

        # Python runs while this request holds the worker's run slot, given up around each SQL
        # statement (config/run_slot.py): the threads take turns instead of halving each other.
        with run_slot.holding(), connection.execute_wrapper(run_slot.statement_wrapper):
            response = self.wsgi_app(environ, start_response)
            if getattr(response, "streaming", False):
                return started["status"], started["headers"], response
            try:
                body = b"".join(response)
            finally:
                close = getattr(response, "close", None)
                if close:
                    close()
        return started["status"], started["headers"], body

    async def stream(self, response: Iterable[bytes], send: Callable, thread: int) -> None:
        """Send a streaming answer chunk by chunk, each read on the request's own Django
        thread, which also closes the response at the end."""
        try:
            chunks = await self.threads.run_on(thread, iter, response)
            while True:
                chunk = await self.threads.run_on(thread, next, chunks, None)
                if chunk is None:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            close = getattr(response, "close", None)
            if close:
                await self.threads.run_on(thread, close)


async def serve_lifespan(receive: Callable, send: Callable) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def send_error(send: Callable, status: int, message: str, code: str) -> None:
    answer = {"errors": [{"message": message, "extensions": {"code": code}}]}
    metrics.count_errors(answer)  # Django never sees this request: its errors are counted here
    body = orjson.dumps(answer)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def wsgi_environ(scope: dict, body: bytes, multithread: bool = False) -> Environ:
    """The WSGI environ (PEP 3333) of an ASGI HTTP request whose body has been read."""
    server_name, server_port = scope.get("server") or ("localhost", 80)
    client_address, client_port = scope.get("client") or ("", 0)
    environ: Environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server_name),
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client_address,
        "REMOTE_PORT": str(client_port),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", []):
        if b"_" in raw_name:
            continue  # X_Forwarded_Proto would pose as X-Forwarded-Proto: dropped, as WSGI servers do
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        if name == "CONTENT_LENGTH":
            continue  # the body has been read: its real length was set above
        key = f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ
