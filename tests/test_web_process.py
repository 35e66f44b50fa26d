"""The Procfile's web process, live (gunicorn's asyncio workers, config/asgi_bridge.py,
production settings, on 127.0.0.1): its timeouts are in order (issue 11)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench.http_load import HOST, ROOT, django_env, free_port, web_command, web_server


def production_env(tmp_path: Path, **more: str) -> dict[str, str]:
    """The web process's environment, on a database these tests never reach (the bridge
    answers them before Django)."""
    return {**django_env(f"sqlite:///{tmp_path / 'unused.sqlite3'}"), "WEB_CONCURRENCY": "1", **more}


def stalled_request(port: int, wait: float) -> tuple[float, bytes]:
    """Send `Content-Length: 100` and 9 bytes of body, then nothing: (seconds until the
    answer ended, the raw answer)."""
    with socket.create_connection((HOST, port), timeout=wait) as connection:
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        connection.sendall(head.encode() + b'{"query":')
        began = time.monotonic()
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
                if complete(answer):
                    break
        except TimeoutError:
            pass
        return time.monotonic() - began, answer


def complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def test_a_stalled_body_gets_the_bridges_json_408_before_gunicorn_gives_up(tmp_path):
    """With the default timeouts: the bridge's 10 s, under gunicorn's 25 s. (Before, the bridge
    waited 30 s, so gunicorn gave up first, at 25 s, with a plain-text 500.)"""
    with web_server(production_env(tmp_path), tmp_path / "web.log") as (url, _master):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        seconds, answer = stalled_request(port, wait=24)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body) == {
        "errors": [{"message": "The request body did not arrive within 10 s.", "extensions": {"code": "BAD_REQUEST"}}]
    }
    assert 9 < seconds < 20


def test_the_web_process_refuses_to_start_with_a_body_timeout_not_under_gunicorns(tmp_path):
    argv, assignments = web_command(free_port())
    env = production_env(tmp_path, GUNICORN_TIMEOUT="5", REQUEST_BODY_TIMEOUT_SECONDS="5", **assignments)
    with tempfile.TemporaryDirectory() as runtime:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**env, "XDG_RUNTIME_DIR": runtime},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:  # it started serving: stop it, the test has failed
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    assert process.returncode != 0
    assert (
        "Error: REQUEST_BODY_TIMEOUT_SECONDS (5) must be less than gunicorn's timeout (GUNICORN_TIMEOUT, 5)"
        in output.decode()
    )
