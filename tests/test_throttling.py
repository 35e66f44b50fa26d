"""Rate limits (throttling/, docs/api.md's RATE_LIMITED): failed logins by username and by address,
signups by address, the password checks' share of the CPU and each viewer's cost budget, in
this process and in Redis, including Redis failing under them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import RequestFactory, override_settings

from schema.errors import RateLimited
from tests.conftest import GraphQLClient, utc
from tests.test_query_counts import OPERATIONS_DIR
from throttling import counters
from throttling.clients import client_address
from throttling.counters import FailoverCounters, LocalCounters, RedisCounters
from throttling.passwords import PasswordCheckGate, password_checks

LOGIN = "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { token } }"
SIGNUP = """mutation($u: String!) { signup(input: {username: $u, password: "a-long-pass-phrase",
    displayName: "New", timezone: "UTC"}) { token } }"""
HOME_SCREEN = (OPERATIONS_DIR / "home_screen.graphql").read_text()
REDIS_TEST_URL = "redis://127.0.0.1:6379/14"


class CountingHasher(MD5PasswordHasher):
    """The test suite's fast hasher, counting the password checks it does."""

    checks = 0
    _verifying = False

    def verify(self, password, encoded):
        CountingHasher.checks += 1
        CountingHasher._verifying = True  # MD5's verify encodes: one check, not two
        try:
            return super().verify(password, encoded)
        finally:
            CountingHasher._verifying = False

    def encode(self, password, salt):
        if not CountingHasher._verifying:
            CountingHasher.checks += 1  # Django hashes a password for an unknown user, too
        return super().encode(password, salt)


@pytest.fixture
def hashing():
    """Password checks counted: `hashing.checks` is how many ran since the fixture started."""
    with override_settings(PASSWORD_HASHERS=["tests.test_throttling.CountingHasher"]):
        CountingHasher.checks = 0
        yield CountingHasher


@pytest.fixture
def alice(world, hashing):
    user = world.user("alice")  # password secret-pass-123
    hashing.checks = 0
    return user


def login(gql: GraphQLClient, username: str, password: str, **headers: str):
    return gql.post({"query": LOGIN, "variables": {"u": username, "p": password}}, **headers)


def aliased_logins(username: str, passwords: list[str]) -> str:
    fields = " ".join(
        f'a{i}: login(input: {{username: "{username}", password: "{password}"}}) {{ token }}'
        for i, password in enumerate(passwords)
    )
    return f"mutation {{ {fields} }}"


# ------------------------------------------------------------------ failed logins


def test_ten_failures_for_a_username_block_even_the_right_password(gql, alice, hashing):
    for _ in range(10):
        assert login(gql, "alice", "wrong").codes == ["UNAUTHENTICATED"]
    answer = login(gql, "alice", "secret-pass-123")
    assert answer.codes == ["RATE_LIMITED"] and answer.data == {"login": None}
    [error] = answer.errors
    assert error["message"] == "Too many failed logins for this username: try again later."
    assert 890 <= error["extensions"]["retryAfter"] <= 900
    assert hashing.checks == 10  # the refused login checked no password


def test_the_username_is_counted_in_any_case(gql, alice):
    for _ in range(10):
        login(gql, "ALICE", "wrong")
    assert login(gql, "alice", "secret-pass-123").codes == ["RATE_LIMITED"]


def test_other_usernames_from_the_same_address_are_not_blocked(gql, world, alice):
    world.user("bob")
    for _ in range(10):
        login(gql, "alice", "wrong")
    assert login(gql, "bob", "secret-pass-123").ok()["login"]["token"]


def test_a_success_clears_the_usernames_failures(gql, alice):
    for _ in range(9):
        login(gql, "alice", "wrong")
    assert login(gql, "alice", "secret-pass-123").ok()
    for _ in range(9):
        login(gql, "alice", "wrong")
    assert login(gql, "alice", "secret-pass-123").ok()


def test_unknown_usernames_are_answered_and_counted_like_known_ones(gql, alice):
    known, unknown = login(gql, "alice", "wrong"), login(gql, "nobody", "wrong")
    assert known.body == unknown.body
    for _ in range(9):
        login(gql, "nobody", "wrong")
    assert login(gql, "nobody", "wrong").codes == ["RATE_LIMITED"]


@override_settings(LOGIN_FAILURE_WINDOW=1)
def test_the_block_ends_when_the_window_has_passed(gql, alice):
    for _ in range(10):
        login(gql, "alice", "wrong")
    assert login(gql, "alice", "secret-pass-123").codes == ["RATE_LIMITED"]
    time.sleep(1.1)
    assert login(gql, "alice", "secret-pass-123").ok()


def test_a_hundred_failures_from_one_address_block_every_login_from_it(gql, world, alice, hashing):
    world.user("bob")
    hashing.checks = 0
    for i in range(100):
        assert login(gql, f"guess{i}", "wrong").codes == ["UNAUTHENTICATED"]
    answer = login(gql, "bob", "secret-pass-123")
    assert answer.codes == ["RATE_LIMITED"]
    assert answer.errors[0]["message"] == "Too many failed logins from your network: try again later."
    assert hashing.checks == 100


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_router_each_client_address_counts_on_its_own(gql, world, alice):
    world.user("bob")
    for i in range(100):
        login(gql, f"guess{i}", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert login(gql, "bob", "secret-pass-123", HTTP_X_FORWARDED_FOR="203.0.113.7").codes == ["RATE_LIMITED"]
    # A client cannot pose as another: the router appends the address it saw after what it sent.
    spoofed = login(gql, "bob", "secret-pass-123", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
    assert spoofed.codes == ["RATE_LIMITED"]
    assert login(gql, "bob", "secret-pass-123", HTTP_X_FORWARDED_FOR="198.51.100.1").ok()


def test_aliased_logins_in_one_request_stop_at_the_limit(gql, alice, hashing):
    """The attack: 19 wrong passwords, then the right one, as aliases of one mutation."""
    answer = gql.post({"query": aliased_logins("alice", ["wrong"] * 19 + ["secret-pass-123"])})
    assert answer.data == {f"a{i}": None for i in range(20)}
    assert answer.codes == ["UNAUTHENTICATED"] * 10 + ["RATE_LIMITED"] * 10
    assert hashing.checks == 10


def test_a_batch_of_aliased_logins_checks_at_most_the_address_limit(gql, alice, hashing):
    """The attack's batch: 20 operations of 20 logins each, 400 attempts, many usernames."""
    batch = [{"query": aliased_logins(f"victim{i}", ["wrong"] * 20)} for i in range(20)]
    answer = gql.post(batch)
    codes = [error["extensions"]["code"] for result in answer.body for error in result["errors"]]
    assert len(codes) == 400
    assert codes.count("UNAUTHENTICATED") == 100 and codes.count("RATE_LIMITED") == 300
    assert hashing.checks == 100


# ------------------------------------------------------------------ signups


@override_settings(SIGNUPS_PER_ADDRESS=3)
def test_signups_are_limited_per_address(gql, hashing):
    for i in range(3):
        assert gql(SIGNUP, {"u": f"new{i}"}).ok()
    answer = gql(SIGNUP, {"u": "new3"})
    assert answer.codes == ["RATE_LIMITED"] and answer.errors[0]["extensions"]["retryAfter"] > 3000
    assert answer.data == {"signup": None}


@override_settings(SIGNUPS_PER_ADDRESS=3, TRUSTED_PROXY_COUNT=1)
def test_signups_from_other_addresses_go_on(gql, hashing):
    for i in range(3):
        gql.post({"query": SIGNUP, "variables": {"u": f"new{i}"}}, HTTP_X_FORWARDED_FOR="203.0.113.7")
    other = gql.post({"query": SIGNUP, "variables": {"u": "other"}}, HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.ok()


# ------------------------------------------------------------------ client addresses


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "203.0.113.7", "10.0.0.1"),  # no proxy trusted: the header is the client's own words
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        (2, "198.51.100.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.1"),  # fewer entries than proxies: not written by ours
        (1, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        (1, "::ffff:203.0.113.7", "203.0.113.7"),
        (1, "not-an-address", "not-an-address"),
    ],
)
def test_client_address(hops, forwarded, expected):
    request = RequestFactory().get("/graphql", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXY_COUNT=hops):
        assert client_address(request) == expected


# ------------------------------------------------------------------ the password checks' CPU share


def test_a_second_password_check_at_once_is_refused_without_waiting(gql, alice, hashing):
    held, release = threading.Event(), threading.Event()

    def hold_the_slot():
        with password_checks.check():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_slot)
    holder.start()
    try:
        assert held.wait(5)
        started = time.perf_counter()
        answer = login(gql, "alice", "secret-pass-123")
        assert time.perf_counter() - started < 2
    finally:
        release.set()
        holder.join()
    assert answer.codes == ["RATE_LIMITED"] and answer.errors[0]["extensions"]["retryAfter"] == 1
    assert hashing.checks == 0
    assert login(gql, "alice", "secret-pass-123").ok()


@override_settings(PASSWORD_CHECK_CPU_SHARE=0.5, PASSWORD_CHECK_BURST_SECONDS=0.2)
def test_password_checks_take_at_most_their_share_of_the_cpu():
    gate = PasswordCheckGate()
    with gate.check():
        time.sleep(0.6)  # spends 0.6 s of a 0.2 s credit, which refills by 0.3 s meanwhile
    with pytest.raises(RateLimited) as refused, gate.check():
        pytest.fail("ran a check without credit")
    assert refused.value.retry_after == 1  # 0.1 s of debt at half a core: 0.2 s, rounded up
    time.sleep(0.4)
    with gate.check():
        pass


@override_settings(PASSWORD_CHECK_CPU_SHARE=0.25, PASSWORD_CHECK_BURST_SECONDS=1.0)
def test_over_time_checks_use_no_more_than_the_share():
    gate, spent, started = PasswordCheckGate(), 0.0, time.monotonic()
    while time.monotonic() - started < 2.0:
        try:
            with gate.check():
                time.sleep(0.05)
                spent += 0.05
        except RateLimited:
            time.sleep(0.01)
    elapsed = time.monotonic() - started
    # The burst, then a quarter of the time: never the whole of it.
    assert spent <= 1.0 + 0.25 * elapsed + 0.06


# ------------------------------------------------------------------ each viewer's cost budget


@pytest.fixture
def viewer(world):
    alice, bob = world.user("alice"), world.user("bob")
    world.befriend(alice, bob)
    world.event(bob, utc(2026, 11, 23, 9))
    return alice, world.token(alice)


HOME_COST = 31_005  # python -m bench.documents


@override_settings(VIEWER_COST_BUDGET=100_000)
def test_an_operation_that_would_overdraw_the_budget_is_refused_and_not_run(gql, world, viewer):
    _, token = viewer
    for _ in range(3):
        gql(HOME_SCREEN, {"date": "2026-11-23"}, token=token).ok()
    response = gql.http.post(
        "/graphql",
        {"query": HOME_SCREEN, "variables": {"date": "2026-11-23"}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 429
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["message"] == (
        "This operation's cost (31,005) would overdraw your budget of 100,000 a minute: try again later."
    )
    # 100,000 - 3 x 31,005 = 6,985 left; 24,020 more refill in 24,020 / (100,000 / 60 s) = 14.4 s.
    assert 14 <= error["extensions"]["retryAfter"] <= 15
    assert response["Retry-After"] == str(error["extensions"]["retryAfter"])
    # Other viewers go on being served.
    carol = world.user("carol")
    gql(HOME_SCREEN, {"date": "2026-11-23"}, token=world.token(carol)).ok()


@override_settings(VIEWER_COST_BUDGET=100_000)
def test_a_refused_operation_runs_no_sql_beyond_authentication(gql, viewer):
    _, token = viewer
    for _ in range(3):
        gql(HOME_SCREEN, {"date": "2026-11-23"}, token=token)
    refused = gql(HOME_SCREEN, {"date": "2026-11-23"}, token=token)
    assert refused.codes == ["RATE_LIMITED"]
    assert len(refused.queries) == len(gql("{ __typename }", token=token).queries)


@override_settings(VIEWER_COST_BUDGET=100_000)
def test_in_a_batch_only_the_operations_that_would_overdraw_are_refused(gql, viewer):
    _, token = viewer
    home = {"query": HOME_SCREEN, "variables": {"date": "2026-11-23"}}
    answer = gql.post([home, home, home, home, {"query": "{ viewer { username } }"}], token=token)
    assert answer.status == 200
    assert [result.get("errors", [{}])[0].get("extensions", {}).get("code") for result in answer.body] == [
        None,
        None,
        None,
        "RATE_LIMITED",
        None,
    ]
    assert answer.body[4]["data"] == {"viewer": {"username": "alice"}}


# 2 + 100 x (3 + 100 x 9) = 90,302: one fits a budget of 100,000, a second at once does not.
COSTLY = """{ viewer { friends(first: 100) { edges { node { events(first: 100) { edges { node {
    id title location startsAt endsAt allDay visibility } } } } } } } }"""


@override_settings(VIEWER_COST_BUDGET=100_000, VIEWER_COST_PERIOD=2)
def test_the_budget_refills_over_its_period(gql, viewer):
    _, token = viewer
    gql(COSTLY, token=token).ok()
    refused = gql(COSTLY, token=token)
    assert refused.codes == ["RATE_LIMITED"] and refused.errors[0]["extensions"]["retryAfter"] == 2
    time.sleep(2)
    gql(COSTLY, token=token).ok()


@override_settings(VIEWER_COST_BUDGET=100_000)
def test_anonymous_requests_draw_on_their_addresss_budget(gql):
    """Anonymous, the home screen's shape costs as much (its viewer is null, but the estimate
    comes before any of it runs)."""
    for _ in range(3):
        assert gql(HOME_SCREEN, {"date": "2026-11-23"}).ok() == {"viewer": None}
    assert gql(HOME_SCREEN, {"date": "2026-11-23"}).codes == ["RATE_LIMITED"]


# The app's own operations, as the app uses them in its busiest minute: the first full sync
# of a power user (1,000 friends: 27,020 events in 55 pages of 500), the home screen at
# every pull to refresh (one every 10 s), a friend's day and an event's detail opened five
# times each, two RSVPs and an event created. Costs as schema/limits.py estimates them.
BUSIEST_MINUTE = [
    ("sync", {"first": 500}, 55),
    ("home_screen", {"date": "2026-11-23"}, 6),
    ("friend_day", {"username": "demo_0001", "date": "2026-11-23"}, 5),
    ("event_detail", {"id": "x"}, 5),
    ("friend_list", {"search": "a", "date": "2026-11-23"}, 2),
    ("friends_feed", {"date": "2026-11-23"}, 2),
    ("rsvp", {}, 2),
    ("create_event", {}, 1),
]


def test_the_apps_busiest_minute_uses_under_a_third_of_the_budget(settings):
    from graphql import parse

    from schema import limits
    from schema.schema import GRAPHQL_SCHEMA

    spent = 0
    for name, variables, times in BUSIEST_MINUTE:
        document = parse((OPERATIONS_DIR / f"{name}.graphql").read_text())
        [cost] = limits.operation_costs(GRAPHQL_SCHEMA, document).values()
        spent += cost.estimate(variables) * times
    assert spent <= settings.VIEWER_COST_BUDGET / 3, f"{spent:,} of {settings.VIEWER_COST_BUDGET:,}"


# ------------------------------------------------------------------ in Redis, and Redis failing


@pytest.fixture
def redis_counters():
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    with override_settings(RATE_LIMIT_REDIS_URL=REDIS_TEST_URL):
        yield client
    client.flushdb()


def test_in_redis_the_counts_are_shared_by_every_worker(redis_counters, gql, alice, hashing):
    for _ in range(10):
        login(gql, "alice", "wrong")
    another_worker = RedisCounters(REDIS_TEST_URL)  # another process's view of the counts
    from throttling.logins import username_key

    verdict = another_worker.window_verdict(username_key("alice"), 10, 900)
    assert not verdict.allowed and 890 <= verdict.retry_after <= 900
    assert login(gql, "alice", "secret-pass-123").codes == ["RATE_LIMITED"]
    keys = [key.decode() for key in redis_counters.keys("throttle:*")]
    assert keys and not any("alice" in key or "127.0.0.1" in key for key in keys)  # digests only
    assert all(redis_counters.pttl(key) > 0 for key in keys)  # every count expires


@override_settings(VIEWER_COST_BUDGET=100_000)
def test_in_redis_the_budget_is_shared_too(redis_counters, gql, viewer):
    _, token = viewer
    for _ in range(3):
        gql(HOME_SCREEN, {"date": "2026-11-23"}, token=token).ok()
    assert gql(HOME_SCREEN, {"date": "2026-11-23"}, token=token).codes == ["RATE_LIMITED"]


def test_the_redis_and_local_counters_agree():
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    try:
        for store in (RedisCounters(REDIS_TEST_URL), LocalCounters()):
            assert all(store.window_verdict("k", 3, 60).allowed for _ in range(5))
            for _ in range(5):
                store.record_event("k", 3, 60)
            refused = store.window_verdict("k", 3, 60)
            assert not refused.allowed and 59 < refused.retry_after <= 60
            store.forget("k")
            assert store.window_verdict("k", 3, 60).allowed
            assert store.take("b", 60, 100, 60).allowed and store.take("b", 40, 100, 60).allowed
            short = store.take("b", 30, 100, 60)  # empty; 100 a minute refill 30 in 18 s
            assert not short.allowed and 17.5 < short.retry_after <= 18.1, store
    finally:
        client.flushdb()


@override_settings(RATE_LIMIT_REDIS_URL="redis://127.0.0.1:1/0")
def test_with_redis_unreachable_the_limits_hold_in_process_and_the_log_says_so(gql, alice, project_logs):
    for _ in range(10):
        assert login(gql, "alice", "wrong").codes == ["UNAUTHENTICATED"]
    assert login(gql, "alice", "secret-pass-123").codes == ["RATE_LIMITED"]
    warnings = [record.getMessage() for record in project_logs.records if record.name == "calendar.throttling"]
    assert len(warnings) == 1 and warnings[0].startswith("Rate limits: Redis is unavailable (ConnectionError")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, to stop and start under the limiter."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="throttling-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.remove()


def test_redis_stopped_mid_run_then_back(private_redis, gql, alice, project_logs):
    with override_settings(RATE_LIMIT_REDIS_URL=private_redis.url, RATE_LIMIT_REDIS_RETRY=0.2):
        for _ in range(5):
            login(gql, "alice", "wrong")
        assert isinstance(counters.counters(), FailoverCounters)
        private_redis.stop()
        # Redis gone: the five failures it held are gone with it, but this process counts
        # from now on; the limit still holds, and no request fails.
        for _ in range(10):
            assert login(gql, "alice", "wrong").codes == ["UNAUTHENTICATED"]
        assert login(gql, "alice", "secret-pass-123").codes == ["RATE_LIMITED"]
        private_redis.start()
        time.sleep(0.3)
        assert login(gql, "alice", "secret-pass-123").ok()  # Redis again, empty
    messages = [record.getMessage() for record in project_logs.records if record.name == "calendar.throttling"]
    assert len(messages) == 2 and messages[0].startswith("Rate limits: Redis is unavailable")
    assert messages[1] == "Rate limits: Redis is back; counting in Redis again"


def test_a_password_check_counts_against_the_requests_deadline(gql, alice, hashing, project_logs):
    from config.deadline import Deadline, running

    expired = Deadline(1.0, started=time.monotonic() - 2)
    with running(expired), pytest.raises(Exception, match="time limit of 1 s") as refused, password_checks.check():
        pytest.fail("checked a password after the deadline")
    assert type(refused.value).__name__ == "DeadlineExceeded"
    assert expired.cuts == {"password checks": 1} and hashing.checks == 0


def test_a_rate_limited_answer_is_held_back_by_the_web_process(gql, alice):
    """The bridge (config/asgi_bridge.py) waits RATE_LIMITED_ANSWER_DELAY before it sends such an answer."""
    body = {"query": LOGIN, "variables": {"u": "alice", "p": "wrong"}}
    answered = gql.http.post("/graphql", body, content_type="application/json")
    assert "calendar.answer_delay" not in answered.wsgi_request.META
    for _ in range(10):
        gql.http.post("/graphql", body, content_type="application/json")
    refused = gql.http.post("/graphql", body, content_type="application/json")
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert refused.wsgi_request.META["calendar.answer_delay"] == 1.0
