"""Django's WSGI application served from an asyncio event loop, one request at a time.

gunicorn's asyncio worker reads requests on its event loop. This bridge waits there until a
request's body has arrived whole (bounded in size and time), and only then hands it to
Django, on the worker's one Django thread; the answer is written back by the loop too. So a
client that sends or reads slowly holds a socket, never the thread that runs Django.

Why not Django's own ASGI handler: it gives each request its own database connection (a
connection per async context, which CONN_MAX_AGE cannot keep), so PostgreSQL saw one new
connection per request. On one thread, Django keeps one persistent connection per worker and
runs exactly as under WSGI, the interface the test suite exercises.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from config.deadline import RECEIVED_AT

Environ = dict[str, Any]
WSGIApp = Callable[[Environ, Callable], Iterable[bytes]]


class BodyRefused(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class ClientGone(Exception):
    pass


class BufferedWSGIBridge:
    def __init__(self, wsgi_app: WSGIApp, max_body_bytes: int, body_timeout: float) -> None:
        self.wsgi_app = wsgi_app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        # One thread: Django's connections are per thread, so one thread means one
        # persistent database connection per worker process. Created at first use, in the
        # worker (never in gunicorn's master, whose threads would not survive the fork).
        self._executor: ThreadPoolExecutor | None = None

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

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="django")
        return self._executor

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
        environ = wsgi_environ(scope, body)
        environ[RECEIVED_AT] = received_at
        loop = asyncio.get_running_loop()
        status, headers, answer = await loop.run_in_executor(self.executor, self.start_response_in_thread, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if isinstance(answer, bytes):
            await send({"type": "http.response.body", "body": answer})
            return
        await self.stream(answer, send)

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

    async def stream(self, response: Iterable[bytes], send: Callable) -> None:
        """Send a streaming answer chunk by chunk, each read on the Django thread, which
        also closes the response at the end."""
        loop = asyncio.get_running_loop()
        try:
            chunks = await loop.run_in_executor(self.executor, iter, response)
            while True:
                chunk = await loop.run_in_executor(self.executor, next, chunks, None)
                if chunk is None:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            close = getattr(response, "close", None)
            if close:
                await loop.run_in_executor(self.executor, close)


async def serve_lifespan(receive: Callable, send: Callable) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def send_error(send: Callable, status: int, message: str, code: str) -> None:
    body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def wsgi_environ(scope: dict, body: bytes) -> Environ:
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
        "wsgi.multithread": False,
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
