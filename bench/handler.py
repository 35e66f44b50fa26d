"""Requests through Django's whole handler, in-process: what the web process runs for a request
but the socket and the ASGI bridge (config/asgi_bridge.py).

`WholeRequest` calls `django.core.handlers.wsgi.WSGIHandler` with a WSGI environ built by
`RequestFactory` and closes the response, as a WSGI server does: Django's request_started and
request_finished signals (which tend the database connection), every middleware of the settings
(the request log among them), the URLconf, the view. The request says it came over HTTPS
(`X-Forwarded-Proto`, as the platform's router says), so production's settings serve it instead
of redirecting it.

Used by bench/profile.py and bench/fixed_cost.py; bench/measure.py calls the view alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The request log's format in the web process, whose stderr is not a terminal (config/log_format.py).
LOG_FORMAT = "json"


def log_like_the_web_process() -> None:
    """Call before Django is set up: the request log formats its lines as in production."""
    os.environ["LOG_FORMAT"] = LOG_FORMAT


def quiet_request_log() -> None:
    """The request log's lines go to /dev/null instead of this terminal: still formatted and
    written, as the web process writes them to its log, but not in the bench's output."""
    sink = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)
    for name in ("calendar", ""):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sink)


@dataclass
class Answer:
    status: int
    content: bytes


class WholeRequest:
    """POSTs JSON bodies through Django's WSGI handler (`handler`: a WSGIHandler, by default one
    built from the current settings)."""

    def __init__(self, handler: Callable | None = None) -> None:
        from django.core.handlers.wsgi import WSGIHandler
        from django.test import RequestFactory

        self.handler = handler or WSGIHandler()
        self.factory = RequestFactory()

    def environ(self, path: str, body: str | bytes, token: str | None = None) -> dict[str, Any]:
        """A fresh environ (its body can be read once), built outside any timed region."""
        extra = {"HTTP_X_FORWARDED_PROTO": "https"}
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return self.factory.post(path, body, content_type="application/json", **extra).environ

    def send(self, environ: dict[str, Any]) -> Answer:
        started: dict[str, int] = {}

        def start_response(status: str, headers: list, exc_info: Any = None) -> None:
            started["status"] = int(status.split(" ", 1)[0])

        response = self.handler(environ, start_response)
        try:
            content = b"".join(response)
        finally:
            response.close()  # request_finished, as a WSGI server does
        return Answer(started["status"], content)

    def post(self, path: str, body: str | bytes, token: str | None = None) -> Answer:
        return self.send(self.environ(path, body, token))
