"""Tokens that end (issue 11): `expiresAt` on `login` and `signup`, expiry by idle time and by
maximum age, `logout` (this device or all of them), `WWW-Authenticate: Bearer
error="invalid_token"` on the answer to a request whose token does not authenticate, the sweep
that deletes ended tokens, and the settings. Time is moved with the `clock` fixture, which
shifts django.utils.timezone.now for the server and the test alike."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendarapp import tokens
from calendarapp.ids import global_id
from calendarapp.models import AuthToken, ExportJob, User, hash_token
from config.celery import app as celery_app
from tests.test_production import django_process

WHO = "query { viewer { username } }"
FEED = 'query { friendsEvents(date: "2026-11-23") { totalCount } }'
LOGIN = """mutation($username: String!) {
  login(input: {username: $username, password: "secret-pass-123"}) { token expiresAt viewer { username } } }"""
SIGNUP = """mutation { signup(input: {username: "zoe", password: "a-Long-pass-42", displayName: "Zoe",
  timezone: "UTC"}) { token expiresAt } }"""
LOGOUT = 'mutation { logout(input: {clientMutationId: "bye"}) { revokedTokens clientMutationId } }'
LOGOUT_EVERYWHERE = "mutation { logout(input: {allDevices: true}) { revokedTokens } }"
CHALLENGE = 'Bearer error="invalid_token", error_description="{}"'
DAY = dt.timedelta(days=1)


class Clock:
    """django.utils.timezone.now, moved forward by `advance`."""

    def __init__(self, monkeypatch) -> None:
        self.offset = dt.timedelta()
        real_now = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real_now() + self.offset)

    def advance(self, delta: dt.timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


def row(token: str) -> AuthToken:
    return AuthToken.objects.get(key_hash=hash_token(token))


def ask(token: str | None, payload=None, **headers):
    """The raw response of a POST to /graphql (WHO unless `payload`), with `token` as Bearer."""
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    body = json.dumps(payload if payload is not None else {"query": WHO})
    return Client().post("/graphql", body, content_type="application/json", **headers)


def viewer_of(response) -> str | None:
    viewer = response.json()["data"]["viewer"]
    return viewer and viewer["username"]


def challenge_of(response) -> str | None:
    return response.headers.get("WWW-Authenticate")


def refused_as(response, refusal: tokens.Refusal) -> bool:
    """The request was answered anonymously, with the challenge naming `refusal`."""
    assert response.status_code == 200, response.content
    assert response.json()["data"]["viewer"] is None
    return challenge_of(response) == CHALLENGE.format(refusal.value)


# --- expiresAt --------------------------------------------------------------------------------------


def test_login_and_signup_answer_when_their_token_expires(gql, alice):
    before = timezone.now()
    login = gql(LOGIN, {"username": "alice"}).ok()["login"]
    signup = gql(SIGNUP).ok()["signup"]
    for payload in (login, signup):
        expires_at = dt.datetime.fromisoformat(payload["expiresAt"])
        assert expires_at == row(payload["token"]).expires_at
        idle = dt.timedelta(seconds=settings.AUTH_TOKEN_IDLE_TIMEOUT)
        assert before + idle <= expires_at <= timezone.now() + idle
    assert settings.AUTH_TOKEN_IDLE_TIMEOUT == 30 * 24 * 3600 and settings.AUTH_TOKEN_MAX_AGE == 365 * 24 * 3600


def test_a_token_never_expires_later_than_its_maximum_age(gql, alice, settings):
    settings.AUTH_TOKEN_MAX_AGE = 7 * 24 * 3600  # shorter than the idle timeout
    login = gql(LOGIN, {"username": "alice"}).ok()["login"]
    created_at = row(login["token"]).created_at
    assert dt.datetime.fromisoformat(login["expiresAt"]) == created_at + dt.timedelta(days=7)


def test_login_records_the_device_it_was_issued_to(gql, alice):
    headers = {"HTTP_USER_AGENT": "CalendarApp/2.1 (iPhone)\x00\x07"}
    token = gql.post({"query": LOGIN, "variables": {"username": "alice"}}, **headers).ok()["login"]["token"]
    assert row(token).user_agent == "CalendarApp/2.1 (iPhone)"  # control characters dropped


# --- expiry, with time moved ------------------------------------------------------------------------


def test_a_token_unused_for_the_idle_timeout_expires(world, alice, clock):
    used_in_time, left_unused = world.token(alice), world.token(alice)
    clock.advance(30 * DAY - dt.timedelta(minutes=1))
    assert viewer_of(ask(used_in_time)) == "alice"
    clock.advance(dt.timedelta(minutes=2))
    assert refused_as(ask(left_unused), tokens.Refusal.EXPIRED)
    assert viewer_of(ask(used_in_time)) == "alice"  # its use a minute earlier pushed its expiry back


def test_each_use_pushes_the_expiry_back_until_the_maximum_age(token, clock):
    issued_at = row(token).created_at
    for _ in range(18):  # a use every 20 days: day 20, 40, ... 360
        clock.advance(20 * DAY)
        assert viewer_of(ask(token)) == "alice"
    assert row(token).expires_at == issued_at + dt.timedelta(days=365)  # not day 360 + 30
    clock.advance(5 * DAY + dt.timedelta(minutes=1))  # used 5 days ago, but issued over a year ago
    assert refused_as(ask(token), tokens.Refusal.EXPIRED)


def test_a_use_is_recorded_at_most_once_a_day(token, clock):
    issued = row(token)
    clock.advance(23 * dt.timedelta(hours=1))
    assert viewer_of(ask(token)) == "alice"
    assert (row(token).last_used_at, row(token).expires_at) == (issued.last_used_at, issued.expires_at)

    clock.advance(2 * dt.timedelta(hours=1))
    assert viewer_of(ask(token)) == "alice"
    used = row(token)
    assert used.last_used_at == pytest.approx(timezone.now(), abs=dt.timedelta(seconds=5))
    assert used.expires_at == used.last_used_at + dt.timedelta(days=30)


def test_a_short_idle_timeout_records_uses_often_enough_to_keep_a_token_in_use_alive(token, clock, settings):
    settings.AUTH_TOKEN_IDLE_TIMEOUT = 3600  # an hour: a use is recorded every 2 minutes
    AuthToken.objects.filter(key_hash=hash_token(token)).update(expires_at=timezone.now() + dt.timedelta(hours=1))
    for _ in range(40):  # used every 5 minutes for over 3 hours
        clock.advance(dt.timedelta(minutes=5))
        assert viewer_of(ask(token)) == "alice"
    clock.advance(dt.timedelta(hours=1, minutes=1))
    assert refused_as(ask(token), tokens.Refusal.EXPIRED)


# --- WWW-Authenticate ---------------------------------------------------------------------------------


def test_unknown_expired_revoked_and_malformed_tokens_are_anonymous_and_say_why(world, alice, token, clock):
    revoked = world.token(alice)
    AuthToken.objects.filter(key_hash=hash_token(revoked)).revoke()
    expired = world.token(alice)
    AuthToken.objects.filter(key_hash=hash_token(expired)).update(expires_at=timezone.now())

    assert refused_as(ask("never-issued"), tokens.Refusal.INVALID)
    assert refused_as(ask(revoked), tokens.Refusal.REVOKED)
    assert refused_as(ask(expired), tokens.Refusal.EXPIRED)
    for header in ("Bearer a b c", "Bearer \u00e9\u00e8", "Basic YWxpY2U6c2VjcmV0", "Bearer " + "x" * 201, "Bearer"):
        assert refused_as(ask(None, HTTP_AUTHORIZATION=header), tokens.Refusal.MALFORMED), header
    alice.is_active = False
    alice.save()
    assert refused_as(ask(token), tokens.Refusal.INVALID)


def test_no_challenge_without_a_token_nor_with_a_valid_one(token):
    assert challenge_of(ask(token)) is None
    assert challenge_of(ask(None)) is None
    assert challenge_of(ask(None, HTTP_AUTHORIZATION="")) is None
    assert challenge_of(ask(None, HTTP_AUTHORIZATION="   ")) is None


def test_an_invalid_token_keeps_the_contracts_status_and_answers(gql):
    response = ask("never-issued", {"query": FEED})
    assert response.status_code == 200
    assert [error["extensions"]["code"] for error in response.json()["errors"]] == ["UNAUTHENTICATED"]
    assert challenge_of(response) == CHALLENGE.format(tokens.Refusal.INVALID.value)


def test_the_challenge_is_on_batches_get_requests_and_refused_operations(db):
    refusal = CHALLENGE.format(tokens.Refusal.INVALID.value)
    batch = ask("never-issued", [{"query": WHO}, {"query": FEED}])
    assert batch.status_code == 200 and challenge_of(batch) == refusal
    got = Client().get("/graphql", {"query": WHO}, HTTP_AUTHORIZATION="Bearer never-issued")
    assert got.json() == {"data": {"viewer": None}} and challenge_of(got) == refusal
    deep = "query { viewer { " + "friends { edges { node { " * 5 + "id" + " } } }" * 5 + " } }"
    too_complex = ask("never-issued", {"query": deep})
    assert too_complex.status_code == 400 and challenge_of(too_complex) == refusal


def test_a_request_refused_before_its_token_is_looked_up_is_challenged_only_for_a_malformed_header(db):
    with CaptureQueriesContext(connection) as queries:
        unread = Client().post("/graphql", "{not json", content_type="application/json", HTTP_AUTHORIZATION="Bearer x")
        malformed = Client().post("/graphql", "{not json", content_type="application/json", HTTP_AUTHORIZATION="Bad")
    assert unread.status_code == malformed.status_code == 400
    assert queries.captured_queries == []  # refused before the token is looked up, as ever
    assert challenge_of(unread) is None
    assert challenge_of(malformed) == CHALLENGE.format(tokens.Refusal.MALFORMED.value)


def test_the_export_download_challenges_a_refused_token(world, alice, token):
    job = ExportJob.objects.create(
        owner=alice, status=ExportJob.Status.DONE, date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 2)
    )
    url = f"/exports/{global_id('ExportJob', job.pk)}/download"
    AuthToken.objects.filter(key_hash=hash_token(token)).revoke()
    revoked = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert revoked.status_code == 404
    assert challenge_of(revoked) == CHALLENGE.format(tokens.Refusal.REVOKED.value)
    anonymous = Client().get(url)
    assert anonymous.status_code == 404 and challenge_of(anonymous) is None


# --- logout -----------------------------------------------------------------------------------------


def test_logout_revokes_the_token_it_is_sent_with_and_no_other(gql, world, alice, token):
    other_device = world.token(alice)
    response = ask(token, {"query": LOGOUT})
    assert response.json() == {"data": {"logout": {"revokedTokens": 1, "clientMutationId": "bye"}}}
    assert challenge_of(response) is None  # the client asked for it: no "invalid token" answer
    assert row(token).revoked_at is not None
    assert refused_as(ask(token), tokens.Refusal.REVOKED)
    assert viewer_of(ask(other_device)) == "alice"
    again = ask(token, {"query": LOGOUT})
    assert [error["extensions"]["code"] for error in again.json()["errors"]] == ["UNAUTHENTICATED"]
    assert challenge_of(again) == CHALLENGE.format(tokens.Refusal.REVOKED.value)


def test_logout_on_all_devices_revokes_every_live_token_of_the_viewer_only(gql, world, alice, token):
    others = [world.token(alice), world.token(alice)]
    already_revoked, expired = world.token(alice), world.token(alice)
    AuthToken.objects.filter(key_hash=hash_token(already_revoked)).revoke()
    AuthToken.objects.filter(key_hash=hash_token(expired)).update(expires_at=timezone.now())
    bobs = world.token(world.user("bob"))

    answer = gql(LOGOUT_EVERYWHERE, token=token).ok()

    assert answer == {"logout": {"revokedTokens": 3}}  # this one and the two others still live
    for revoked in [token, *others]:
        assert refused_as(ask(revoked), tokens.Refusal.REVOKED)
    assert viewer_of(ask(bobs)) == "bob"


def test_logout_needs_a_logged_in_viewer(gql):
    answer = gql(LOGOUT)
    assert answer.codes == ["UNAUTHENTICATED"]
    assert answer.data == {"logout": None}


def test_the_operations_after_logout_in_the_same_batch_are_anonymous(token):
    response = ask(token, [{"query": WHO}, {"query": LOGOUT}, {"query": WHO}, {"query": FEED}])
    who, logout, after, feed = response.json()
    assert who == {"data": {"viewer": {"username": "alice"}}}
    assert logout["data"]["logout"]["revokedTokens"] == 1
    assert after == {"data": {"viewer": None}}
    assert [error["extensions"]["code"] for error in feed["errors"]] == ["UNAUTHENTICATED"]
    assert challenge_of(response) is None


def test_logout_after_login_in_one_operation_revokes_the_new_token_not_the_requests(gql, world, token):
    world.user("bob")
    operation = {
        "query": """mutation { login(input: {username: "bob", password: "secret-pass-123"}) { token }
                   logout(input: {allDevices: true}) { revokedTokens } }""",
    }
    first, after = ask(token, [operation, {"query": WHO}]).json()
    assert first["data"]["logout"] == {"revokedTokens": 1}
    assert refused_as(ask(first["data"]["login"]["token"]), tokens.Refusal.REVOKED)
    assert after == {"data": {"viewer": {"username": "alice"}}}  # alice's token was not revoked
    assert viewer_of(ask(token)) == "alice"


def session_of(user: User) -> Client:
    """A browser with an admin session (GraphiQL), its CSRF cookie set."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get("/graphql", HTTP_ACCEPT="text/html")
    return browser


def session_post(browser: Client, query: str):
    return browser.post(
        "/graphql",
        json.dumps({"query": query}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )


def test_logout_from_a_browser_session_ends_the_session_and_revokes_no_token(alice, token):
    browser = session_of(alice)
    assert session_post(browser, WHO).json() == {"data": {"viewer": {"username": "alice"}}}

    assert session_post(browser, LOGOUT).json()["data"]["logout"]["revokedTokens"] == 0

    assert session_post(browser, WHO).json() == {"data": {"viewer": None}}
    assert viewer_of(ask(token)) == "alice"


def test_logout_on_all_devices_from_a_browser_session_revokes_every_token_and_ends_the_session(alice, token):
    browser = session_of(alice)
    assert session_post(browser, LOGOUT_EVERYWHERE).json() == {"data": {"logout": {"revokedTokens": 1}}}
    assert session_post(browser, WHO).json() == {"data": {"viewer": None}}
    assert refused_as(ask(token), tokens.Refusal.REVOKED)


# --- the sweep ----------------------------------------------------------------------------------------


def test_the_sweep_deletes_expired_and_revoked_tokens_and_keeps_the_rest(world, alice, token, clock):
    revoked, expired, idle = world.token(alice), world.token(alice), world.token(alice)
    AuthToken.objects.filter(key_hash=hash_token(revoked)).revoke()
    AuthToken.objects.filter(key_hash=hash_token(expired)).update(expires_at=timezone.now() - DAY)

    assert tokens.sweep() == 2
    assert set(AuthToken.objects.values_list("key_hash", flat=True)) == {hash_token(token), hash_token(idle)}

    clock.advance(15 * DAY)
    assert viewer_of(ask(token)) == "alice"
    clock.advance(16 * DAY)  # idle unused for 31 days; token used 16 days ago
    assert tokens.sweep() == 1
    assert set(AuthToken.objects.values_list("key_hash", flat=True)) == {hash_token(token)}


def test_the_sweep_deletes_in_batches_and_at_most_so_many_a_run(world, alice, monkeypatch):
    for _ in range(5):
        world.token(alice)
    AuthToken.objects.revoke()
    live = world.token(alice)
    monkeypatch.setattr(tokens, "SWEEP_BATCH", 2)
    monkeypatch.setattr(tokens, "SWEEP_MAX_BATCHES", 2)
    with CaptureQueriesContext(connection) as queries:
        assert tokens.sweep() == 4
    deletes = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 2
    assert tokens.sweep() == 1
    assert list(AuthToken.objects.values_list("key_hash", flat=True)) == [hash_token(live)]


def test_the_workers_beat_runs_the_token_sweep_beside_the_export_sweep(world, alice):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["sweep-auth-tokens"] == {
        "task": "calendarapp.sweep_auth_tokens",
        "schedule": float(settings.AUTH_TOKEN_SWEEP_INTERVAL),
    }
    assert schedule["sweep-exports"]["task"] == "calendarapp.sweep_exports"
    world.token(alice)
    AuthToken.objects.revoke()
    celery_app.tasks["calendarapp.sweep_auth_tokens"].apply().get()
    assert not AuthToken.objects.exists()


# --- settings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUTH_TOKEN_IDLE_TIMEOUT": "30d"}, "AUTH_TOKEN_IDLE_TIMEOUT must be a number, not '30d'."),
        ({"AUTH_TOKEN_MAX_AGE": "0"}, "AUTH_TOKEN_MAX_AGE must be at least 1, not 0."),
        (
            {"AUTH_TOKEN_IDLE_TIMEOUT": "7200", "AUTH_TOKEN_MAX_AGE": "3600"},
            "AUTH_TOKEN_IDLE_TIMEOUT (7200 s) must not exceed AUTH_TOKEN_MAX_AGE (3600 s)",
        ),
    ],
    ids=["not-a-number", "zero", "idle-over-max-age"],
)
def test_token_lifetimes_are_checked_at_start_up(env, message):
    result = django_process("", settings_module="config.settings.test", **env)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


def test_token_lifetimes_come_from_the_environment():
    code = "from django.conf import settings\nprint(settings.AUTH_TOKEN_IDLE_TIMEOUT, settings.AUTH_TOKEN_MAX_AGE)"
    result = django_process(
        code, settings_module="config.settings.test", AUTH_TOKEN_IDLE_TIMEOUT="3600", AUTH_TOKEN_MAX_AGE="86400"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3600", "86400"]


# --- the migration ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_existing_tokens_as_used_then_and_keeps_their_maximum_age():
    """No device is logged out by the deploy for idleness; a token over a year old is, as the rule says."""
    before, after = [("calendarapp", "0003_export_task_id")], [("calendarapp", "0004_auth_token_lifetime")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    user = old_apps.get_model("calendarapp", "User").objects.create(username="early", display_name="Early")
    old_tokens = old_apps.get_model("calendarapp", "AuthToken").objects
    now = timezone.now()
    ages = {"new": 0, "half a year": 180, "nearly a year": 350, "over a year": 400}
    for name, days in ages.items():
        token = old_tokens.create(user=user, key_hash=hash_token(name))
        old_tokens.filter(pk=token.pk).update(created_at=now - dt.timedelta(days=days))

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # the later migrations leave tokens alone

    migrated = {name: AuthToken.objects.get(key_hash=hash_token(name)) for name in ages}
    for token in migrated.values():
        assert now <= token.last_used_at <= timezone.now()
        assert token.revoked_at is None and token.user_agent == ""
    idle = migrated["new"].last_used_at + 30 * DAY
    assert migrated["new"].expires_at == migrated["half a year"].expires_at == idle
    assert migrated["nearly a year"].expires_at == migrated["nearly a year"].created_at + 365 * DAY
    assert migrated["over a year"].expires_at < now  # expired: refused, then swept
    assert tokens.refusal_of(migrated["over a year"], timezone.now()) is tokens.Refusal.EXPIRED
