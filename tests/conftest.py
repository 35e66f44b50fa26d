"""Fixtures shared by the suite: a GraphQL client over real HTTP requests
(Django's test client through the real view), and a small world builder."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from calendarapp.changes import next_change_seq
from calendarapp.ids import current_key, global_id
from calendarapp.models import AuthToken, Event, Friendship, Rsvp, User
from throttling import counters
from throttling.passwords import password_checks


@dataclass
class Answer:
    """One HTTP answer of /graphql, with the SQL it ran."""

    status: int
    body: Any
    queries: list[dict] = field(default_factory=list)

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict]:
        return self.body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [error["extensions"]["code"] for error in self.errors]

    def ok(self) -> Any:
        assert self.status == 200 and not self.errors, self.body
        return self.data


class GraphQLClient:
    def __init__(self) -> None:
        self.http = Client()

    def post(self, payload: Any, token: str | None = None, raw: bool = False, **headers: str) -> Answer:
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        body = payload if raw else json.dumps(payload)
        with CaptureQueriesContext(connection) as captured:
            response = self.http.post(
                "/graphql", body, content_type=headers.pop("content_type", "application/json"), **headers
            )
        return Answer(response.status_code, json.loads(response.content), captured.captured_queries)

    def __call__(
        self, query: str, variables: dict | None = None, token: str | None = None, operation_name: str | None = None
    ) -> Answer:
        payload = {"query": query, "variables": variables or {}}
        if operation_name:
            payload["operationName"] = operation_name
        return self.post(payload, token=token)


@pytest.fixture
def gql(db) -> GraphQLClient:
    """`gql(query, variables, token=...)` posts to /graphql and returns an Answer."""
    return GraphQLClient()


class World:
    """Builds users, friendships and events directly in the database for tests, each
    write numbered on the change sequence as the services number theirs."""

    def user(self, username: str, timezone: str = "UTC", display_name: str | None = None) -> User:
        return User.objects.create_user(
            username=username,
            password="secret-pass-123",
            display_name=display_name or username.title(),
            timezone=timezone,
        )

    def token(self, user: User) -> str:
        return AuthToken.issue(user)

    def befriend(self, a: User, b: User) -> None:
        seq = next_change_seq()
        Friendship.objects.bulk_create(
            [Friendship(user=a, friend=b, change_seq=seq), Friendship(user=b, friend=a, change_seq=seq)]
        )

    def event(
        self,
        owner: User,
        starts_at: dt.datetime,
        hours: float = 1,
        visibility: str = "FRIENDS",
        title: str = "Event",
        **fields: Any,
    ) -> Event:
        event = Event(
            owner=owner,
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(hours=hours),
            visibility=visibility,
            **fields,
        )
        event.number_change(next_change_seq())
        event.save()
        return event

    def rsvp(self, user: User, event: Event, status: str = "GOING") -> Rsvp:
        Event.objects.filter(pk=event.pk).update(change_seq=next_change_seq())
        return Rsvp.objects.create(user=user, event=event, status=status)

    @staticmethod
    def id(obj: Any) -> str:
        """The global ID the API shows for a model instance."""
        type_name = type(obj).__name__
        assert type_name in ("User", "Event", "FriendRequest", "ExportJob"), type_name
        return global_id(type_name, obj.pk)


def legacy_id(type_name: str, pk: int) -> str:
    """An ID as the server made them before they were encrypted (graphql-relay's base64 of
    "Type:pk"): the server must refuse it cleanly."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def _id_cipher() -> Cipher:
    return Cipher(algorithms.AES(current_key()), modes.ECB())


def sealed_id(block: bytes) -> str:
    """`block` (16 bytes) encrypted with the server's key and spelled as an ID, written from
    the format's description rather than with calendarapp.ids: a string only the server could
    make, whatever it holds."""
    return base64.urlsafe_b64encode(_id_cipher().encryptor().update(block)).rstrip(b"=").decode()


def opened_id(value: str) -> bytes:
    """The 16-byte block inside an ID (the inverse of `sealed_id`)."""
    return _id_cipher().decryptor().update(base64.urlsafe_b64decode(value + "=="))


@pytest.fixture
def world(db) -> World:
    return World()


@pytest.fixture
def alice(world: World) -> User:
    """The viewer most tests use (password secret-pass-123, time zone UTC)."""
    return world.user("alice")


@pytest.fixture
def token(world: World, alice: User) -> str:
    """alice's bearer token."""
    return world.token(alice)


def b64(text: str | bytes) -> str:
    """Standard base64 of `text` (UTF-8 first if it is a string), as cursors and old IDs spell it."""
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """This run's own folder (config.settings.test.TEST_RUN_DIR: the SQLite test database,
    export files) exists for the run and is removed after it."""
    settings.TEST_RUN_DIR.mkdir(parents=True, exist_ok=True)
    yield
    shutil.rmtree(settings.TEST_RUN_DIR, ignore_errors=True)


def pytest_configure(config):
    """pyproject.toml's `filterwarnings` for the processes the tests start too (the web process,
    Celery workers, management commands): they inherit PYTHONWARNINGS, so a warning there is an
    exception there (a 500, a worker that does not start) instead of a line in a log nobody reads.
    Python reads a filter's message as plain text where pytest reads a pattern: keep any
    `ignore:` message a plain-text prefix, without commas."""
    os.environ["PYTHONWARNINGS"] = ",".join(config.getini("filterwarnings"))


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory):
    """Static files collected as the build collects them (`collectstatic`, production settings)
    into the STATIC_ROOT of the web processes the tests start: whitenoise serves them there, and
    warns of a missing directory otherwise."""
    from bench.harness import ROOT, django_env

    root = tmp_path_factory.mktemp("staticfiles")
    env = {**django_env("sqlite:///unused.sqlite3"), "STATIC_ROOT": str(root)}
    command = [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity=0"]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STATIC_ROOT", str(root))
        yield root


def pytest_addoption(parser):
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        help="Rewrite tests/snapshots/<database>/*.sql from this run instead of comparing with them.",
    )


def pytest_collection_modifyitems(config, items):
    """Tests marked postgres_only run in `make test`'s PostgreSQL pass; the SQLite pass
    reports them as skipped, with the reason."""
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(reason="PostgreSQL only: runs in make test's PostgreSQL pass")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Each test starts with no failed login, signup or spent budget counted (the counts of the
    in-process limiter outlive a test) and a full password-check credit."""
    counters.reset()
    password_checks.reset()


@pytest.fixture
def project_logs(caplog):
    """`caplog` with the records of the project's loggers (`calendar.*` do not propagate to the
    root logger, where caplog listens), INFO and up."""
    project_logger = logging.getLogger("calendar")
    project_logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.INFO)
    yield caplog
    project_logger.removeHandler(caplog.handler)


@pytest.fixture
def no_prepared_documents():
    """Each test parses what it sends: a document prepared by an earlier test would hide a parse."""
    from schema.documents import documents

    documents.clear()
    yield
    documents.clear()
