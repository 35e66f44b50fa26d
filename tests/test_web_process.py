"""The Procfile's web process, live (gunicorn's asyncio workers, config/asgi_bridge.py,
production settings, on 127.0.0.1): its timeouts are in order, and a request that waits holds
one of its worker's Django threads, not the worker (issue 11)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from bench.http_load import HOST, OPENER, ROOT, django_env, free_port, graphql_request, web_command, web_server
from calendarapp.models import Event
from tests.celery_worker import database_url_for_workers
from tests.conftest import utc


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


def refused_start(argv: list[str], env: dict[str, str]) -> str:
    """Start gunicorn with `argv`, expecting it to exit without serving: its output."""
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
    assert process.returncode != 0, output.decode()
    return output.decode()


def test_the_web_process_refuses_to_start_with_a_body_timeout_not_under_gunicorns(tmp_path):
    argv, assignments = web_command(free_port())
    env = production_env(tmp_path, GUNICORN_TIMEOUT="5", REQUEST_BODY_TIMEOUT_SECONDS="5", **assignments)
    output = refused_start(argv, env)
    assert (
        "Error: REQUEST_BODY_TIMEOUT_SECONDS (5) must be less than gunicorn's timeout (GUNICORN_TIMEOUT, 5)" in output
    )


def test_gunicorn_config_wsgi_refuses_to_start_naming_the_command_that_serves(tmp_path):
    """`gunicorn config.wsgi` (Heroku's Django guide) under gunicorn.conf.py's asyncio worker
    would answer every request with a 500: it stops at once, saying what to run instead."""
    argv, assignments = web_command(free_port())
    assert argv[:2] == ["gunicorn", "config.asgi"], argv  # the Procfile's line, which serves
    output = refused_start(["gunicorn", "config.wsgi", *argv[2:]], production_env(tmp_path, **assignments))
    assert "Error: config.wsgi is a WSGI application" in output
    assert "start it with `gunicorn config.asgi`" in output
    assert "Booting worker" not in output  # refused before any worker started


def graphql(url: str, query: str, variables: dict | None = None, token: str | None = None, timeout: float = 20):
    """(status, JSON answer) of one POST to /graphql."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = graphql_request(url, body, token)
    try:
        with OPENER.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def backends_waiting_on_a_lock() -> int:
    """Connections to this test database waiting for a lock (the web process's, here)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees one snapshot of it
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


UPDATE_TITLE = "mutation($input: UpdateEventInput!) { updateEvent(input: $input) { event { title } } }"
VIEWER = "{ viewer { username friendCount } }"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_request_waiting_on_a_row_lock_holds_one_thread_while_the_others_serve_the_rest(world, tmp_path):
    """One worker (WEB_CONCURRENCY=1) with its default two Django threads: while one client's
    updateEvent waits for a row lock the test holds, another client is answered; once the lock
    is released the update completes. (With one thread per worker the other client waited too.)"""
    ada, bob = world.user("ada"), world.user("bob")
    lunch = world.event(ada, utc(2026, 11, 23, 12), title="Lunch")
    ada_token, bob_token = world.token(ada), world.token(bob)
    env = {
        **django_env(database_url_for_workers()),
        "WEB_CONCURRENCY": "1",
        "EXPORT_ROOT": str(tmp_path / "exports"),
        "GLOBAL_ID_KEY": settings.GLOBAL_ID_KEY,  # the IDs of the rows made here are the server's
    }
    update: dict = {}
    with web_server(env, tmp_path / "web.log") as (url, _master):
        with transaction.atomic():
            Event.objects.select_for_update().get(pk=lunch.pk)  # held until the block ends
            variables = {"input": {"id": world.id(lunch), "title": "Long lunch"}}
            writer = threading.Thread(
                target=lambda: update.update(answer=graphql(url, UPDATE_TITLE, variables, ada_token, timeout=60))
            )
            writer.start()
            assert wait_for(lambda: backends_waiting_on_a_lock() == 1, 15), "updateEvent never waited for the lock"
            answers = [graphql(url, VIEWER, token=bob_token, timeout=15) for _ in range(3)]
            assert "answer" not in update and backends_waiting_on_a_lock() == 1  # still waiting, all along
        writer.join(timeout=30)
    assert answers == [(200, {"data": {"viewer": {"username": "bob", "friendCount": 0}}})] * 3
    assert update["answer"] == (200, {"data": {"updateEvent": {"event": {"title": "Long lunch"}}}})
    lunch.refresh_from_db()
    assert lunch.title == "Long lunch"
