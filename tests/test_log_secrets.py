"""A Bearer token never reaches a log (issue 11): whoever reads the logs (a log collector,
an error e-mail) must not be able to act as the user.

Requests carrying a token go through every path that logs: the request log, GRAPHQL_LOG_SQL's
statements, a request refused with a 4xx (Django's django.request logger), an unhandled error
in a resolver (logged with its traceback), an exception that escapes the view (a 500, which
Django also e-mails to ADMINS with each frame's local variables), a refused token, logout and
the export download. Every record of every logger, at DEBUG, is formatted as the console
would (JSON and text, with its exception's traceback) and searched for the token; so are the
error e-mails.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from django.test import Client

from calendarapp import services, tokens
from calendarapp.ids import global_id
from calendarapp.models import AuthToken, ExportJob, hash_token
from config.log_format import JsonFormatter, TextFormatter
from tests.conftest import World

HOME_SCREEN = "query { viewer { friends(first: 5) { edges { node { username } } } } }"
CREATE_EVENT = """mutation { createEvent(input: {title: "Lunch", startsAt: "2026-11-23T12:00:00Z",
  endsAt: "2026-11-23T13:00:00Z"}) { event { id } } }"""


@pytest.fixture
def every_log_record(caplog) -> pytest.LogCaptureFixture:
    """caplog at DEBUG for every logger, including those that do not propagate to the root."""
    caplog.set_level(logging.DEBUG)
    quiet = [
        logging.getLogger(name)
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and (not logger.propagate or logger.level)
    ]
    for logger in quiet:
        caplog.set_level(logging.DEBUG, logger=logger.name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
    yield caplog
    for logger in quiet:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def error_emails(db, settings, mailoutbox):  # after db, whose set-up empties the outbox anew
    """Django's AdminEmailHandler sends an e-mail per 500, as it would in production with ADMINS
    set, with each frame's local variables."""
    settings.ADMINS = [("Operations", "ops@example.com")]
    settings.DEBUG = False
    return mailoutbox


def everything_logged(caplog: pytest.LogCaptureFixture, emails) -> str:
    formatters = (caplog.handler.formatter or logging.Formatter(), JsonFormatter(), TextFormatter())
    lines = [formatter.format(record) for record in caplog.records for formatter in formatters]
    lines += [f"{message.subject}\n{message.body}" for message in emails]
    return "\n".join(lines)


def send(client: Client, token: str, payload, **extra):
    return client.post(
        "/graphql", json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}", **extra
    )


def test_no_path_that_logs_writes_the_token(every_log_record, error_emails, settings, world: World, monkeypatch):
    alice = world.user("alice")
    world.befriend(alice, world.user("bob"))
    token, other_device = world.token(alice), world.token(alice)
    client = Client(raise_request_exception=False)
    settings.GRAPHQL_LOG_SQL = True

    # The request log and every SQL statement; one whose use is recorded (an UPDATE) too.
    AuthToken.objects.filter(key_hash=hash_token(token)).update(last_used_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert send(client, token, {"query": HOME_SCREEN}).status_code == 200
    # Refused with a 4xx: malformed JSON, a mutation over GET, an operation too deep.
    assert (
        client.post("/graphql", "{", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}").status_code
        == 400
    )
    assert client.get("/graphql", {"query": CREATE_EVENT}, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 405
    deep = "query { viewer { " + "friends { edges { node { " * 5 + "id" + " } } }" * 5 + " } }"
    assert send(client, token, {"query": deep}).status_code == 400
    # An unhandled error in a resolver, logged with its traceback.
    with monkeypatch.context() as patch:
        patch.setattr(services, "create_event", lambda *args, **kwargs: 1 / 0)
        answer = send(client, token, {"query": CREATE_EVENT}).json()
    assert answer["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    # An exception that escapes the view while the token is in hand: a 500, e-mailed to ADMINS.
    with monkeypatch.context() as patch:
        patch.setattr(tokens, "record_use", lambda token, now: 1 / 0)
        assert send(client, token, {"query": "{ viewer { id } }"}).status_code == 500
    # The export download, with the token and with a refused one.
    job = ExportJob.objects.create(owner=alice, date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 2))
    download = f"/exports/{global_id('ExportJob', job.pk)}/download"
    assert client.get(download, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404  # not DONE
    # Logout, then the revoked token, and an unknown one.
    assert send(client, token, {"query": "mutation { logout(input: {}) { revokedTokens } }"}).status_code == 200
    assert "WWW-Authenticate" in send(client, token, {"query": "{ viewer { id } }"})
    assert "WWW-Authenticate" in client.get(download, HTTP_AUTHORIZATION=f"Bearer {token}")
    unknown = "unknown-token-of-nobody-at-all"
    assert "WWW-Authenticate" in send(client, unknown, {"query": "{ viewer { id } }"})

    logged = everything_logged(every_log_record, error_emails)
    # The paths above did log: their records are what was searched.
    for expected in ("POST /graphql 200", "calendarapp_authtoken", "Bad Request: /graphql", "Method Not Allowed"):
        assert expected in logged
    assert "Unhandled error in a resolver" in logged and "ZeroDivisionError" in logged
    assert "Internal Server Error: /graphql" in logged and len(error_emails) == 1
    assert f"GET /exports/{global_id('ExportJob', job.pk)}/download 404" in logged
    for secret in (token, other_device, unknown):
        assert secret not in logged
