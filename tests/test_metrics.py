"""The Prometheus metrics (config/metrics.py): who may read GET /metrics, and what each metric
says after known requests, read from prometheus-client's registry of this process."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from calendarapp.models import ExportJob
from config import metrics
from config.request_log import current_rss_kb
from tests.conftest import utc
from tests.query_snapshots import read_statements, snapshot_path
from tests.test_query_counts import OPERATIONS_DIR

TOKEN = "a-metrics-token-of-at-least-32-characters"
HOME_SCREEN = (OPERATIONS_DIR / "home_screen.graphql").read_text()
DAY = "2026-11-23"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client: Client | None = None, **headers: str):
    """(status, body, content type) of GET /metrics."""
    response = (client or Client()).get("/metrics", **headers)
    return response.status_code, response.content.decode(), response.get("Content-Type", "")


def assert_refused(status: int, body: str) -> None:
    """Refused like any unknown path: the JSON NOT_FOUND, not one figure."""
    assert status == 404
    assert "NOT_FOUND" in body and "calendar_" not in body


# --- who may read /metrics ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.0.7", "172.16.5.4", "::1", "::ffff:10.0.0.9", "fd12::3"]
)
def test_without_a_token_an_internal_address_may_scrape(address):
    status, body, content_type = scrape(REMOTE_ADDR=address)
    assert status == 200, body
    assert content_type.startswith("text/plain; version=")
    assert "# TYPE calendar_graphql_request_duration_seconds histogram" in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "address", ["203.0.113.9", "8.8.8.8", "172.32.0.1", "169.254.0.1", "2a00:1450:4001::1", "fe80::1", "junk", ""]
)
def test_without_a_token_a_public_address_gets_a_404(address):
    assert_refused(*scrape(REMOTE_ADDR=address)[:2])


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED"])
def test_without_a_token_a_proxied_request_gets_a_404_even_from_a_private_peer(header):
    """Behind the platform's router every peer is the router's private address: a request that
    came through a proxy is never taken for an internal one (and the header never lets one in)."""
    assert_refused(*scrape(REMOTE_ADDR="10.0.0.2", **{header: "127.0.0.1"})[:2])


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_with_a_token_only_a_request_carrying_it_may_scrape_whatever_its_address():
    bearer = f"Bearer {TOKEN}"
    assert scrape(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=bearer)[0] == 200
    assert scrape(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1", HTTP_AUTHORIZATION=bearer)[0] == 200
    assert_refused(*scrape(REMOTE_ADDR="127.0.0.1")[:2])  # no token: loopback is not enough
    for wrong in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}", "Bearer "):
        assert_refused(*scrape(REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=wrong)[:2])


@pytest.mark.django_db
def test_metrics_answer_only_get():
    response = Client().post("/metrics", {}, REMOTE_ADDR="127.0.0.1")
    assert_refused(response.status_code, response.content.decode())


@pytest.mark.django_db
def test_metrics_answer_a_host_allowed_hosts_does_not_list(settings):
    """A scraper may name the process by its internal address, as the health probes do."""
    settings.ALLOWED_HOSTS = ["calendar.example.com"]
    status, body, _ = scrape(HTTP_HOST="10.0.0.5:8000")
    assert status == 200, body


# --- what the metrics say -----------------------------------------------------------------------


@pytest.fixture
def home(world):
    """A viewer with two friends, who have two and one events on DAY: (token, variables)."""
    ada, bob, cyd = world.user("ada"), world.user("bob"), world.user("cyd")
    world.befriend(ada, bob)
    world.befriend(ada, cyd)
    for owner, hour in ((bob, 9), (bob, 14), (cyd, 10)):
        world.event(owner, utc(2026, 11, 23, hour))
    return world.token(ada), {"date": DAY}


def home_screen_figures() -> dict[str, float]:
    return {
        "requests": sample("calendar_graphql_request_duration_seconds_count", operation="HomeScreen"),
        "seconds": sample("calendar_graphql_request_duration_seconds_sum", operation="HomeScreen"),
        "sql_requests": sample("calendar_graphql_sql_statements_count", operation="HomeScreen"),
        "sql": sample("calendar_graphql_sql_statements_sum", operation="HomeScreen"),
    }


def loader_batches() -> dict[str, tuple[float, float]]:
    """(batches, keys) of each loader so far."""
    figures = {}
    for family in REGISTRY.collect():
        if family.name == "calendar_loader_batch_size":
            for sample_ in family.samples:
                loader = sample_.labels["loader"]
                if sample_.name.endswith("_count"):
                    figures[loader] = (sample_.value, figures.get(loader, (0, 0))[1])
                elif sample_.name.endswith("_sum"):
                    figures[loader] = (figures.get(loader, (0, 0))[0], sample_.value)
    return figures


def difference(after: dict, before: dict) -> dict:
    return {
        key: tuple(a - b for a, b in zip(value, before.get(key, (0, 0)), strict=True))
        for key, value in after.items()
        if value != before.get(key)
    }


def test_a_home_screen_counts_one_request_its_snapshots_statements_and_its_time(gql, home):
    token, variables = home
    before = home_screen_figures()
    for _ in range(3):
        gql(HOME_SCREEN, variables, token=token).ok()
    after = home_screen_figures()
    snapshot = len(read_statements(snapshot_path("home_screen")))
    assert after["requests"] - before["requests"] == 3
    assert after["sql_requests"] - before["sql_requests"] == 3
    assert after["sql"] - before["sql"] == 3 * snapshot
    assert 0 < after["seconds"] - before["seconds"] < 60


@pytest.mark.parametrize("compiled_plans", [True, False], ids=["compiled plan", "graphql-core's path"])
def test_each_loader_batch_is_counted_once_on_either_execution_path(gql, home, settings, compiled_plans):
    """One batch per loader, whichever path ran them: the viewer's friends and whether the viewer
    may list them (1 key), their events of the day (2 friends), and the events' RSVP summary
    with the attendee counts and the viewer's answers drawn from it (3 events each)."""
    settings.GRAPHQL_COMPILED_PLANS = compiled_plans
    token, variables = home
    before = loader_batches()
    gql(HOME_SCREEN, variables, token=token).ok()
    assert difference(loader_batches(), before) == {
        "FriendsByUserIdLoader": (1, 1),
        "IsFriendByUserIdLoader": (1, 1),
        "EventsByOwnerIdLoader": (1, 2),
        "RsvpSummaryByEventIdLoader": (1, 3),
        "AttendeeCountByEventIdLoader": (1, 3),
        "ViewerRsvpByEventIdLoader": (1, 3),
    }


def test_operations_are_labelled_by_the_apps_operation_names_only(gql, home):
    """An unknown name or none at all does not make a series of its own; a batch is one request."""
    token, variables = home

    def requests(operation: str) -> float:
        return sample("calendar_graphql_request_duration_seconds_count", operation=operation)

    before = {label: requests(label) for label in ("HomeScreen", "other", "anonymous", "batch")}
    gql("query Invented1234 { viewer { id } }", token=token).ok()
    gql("query Invented5678 { viewer { id } }", token=token).ok()
    gql("{ viewer { id } }", token=token).ok()
    gql.post([{"query": HOME_SCREEN, "variables": variables}, {"query": "{ viewer { id } }"}], token=token)
    after = {label: requests(label) for label in before}
    assert difference({k: (v,) for k, v in after.items()}, {k: (v,) for k, v in before.items()}) == {
        "other": (2,),
        "anonymous": (1,),
        "batch": (1,),
    }
    assert sample("calendar_graphql_request_duration_seconds_count", operation="Invented1234") == 0
    assert metrics.known_operation_names() >= {"HomeScreen", "FriendsFeed", "Login", "CreateEvent"}


def test_errors_are_counted_by_their_code(gql, home):
    token, _ = home
    codes = ("BAD_REQUEST", "UNAUTHENTICATED", "BAD_USER_INPUT", "NOT_FOUND")
    before = {code: sample("calendar_api_errors_total", code=code) for code in codes}
    assert gql.post("not json", raw=True).codes == ["BAD_REQUEST"]
    assert gql("{ incomingFriendRequests(first: 1) { totalCount } }").codes == ["UNAUTHENTICATED"]
    batch = gql.post([{"query": "{ incomingFriendRequests(first: 1) { totalCount } }"}, {"query": "{ nope }"}])
    assert [error["extensions"]["code"] for answer in batch.body for error in answer["errors"]] == [
        "UNAUTHENTICATED",
        "BAD_REQUEST",
    ]
    assert Client().get("/no-such-path").status_code == 404
    after = {code: sample("calendar_api_errors_total", code=code) for code in codes}
    assert {code: after[code] - before[code] for code in codes} == {
        "BAD_REQUEST": 2,
        "UNAUTHENTICATED": 2,
        "BAD_USER_INPUT": 0,
        "NOT_FOUND": 1,
    }


def test_an_unknown_code_is_counted_as_other():
    before = sample("calendar_api_errors_total", code="other")
    metrics.count_errors({"errors": [{"message": "?", "extensions": {"code": "MADE_UP"}}, {"message": "no code"}]})
    assert sample("calendar_api_errors_total", code="other") - before == 2
    assert sample("calendar_api_errors_total", code="MADE_UP") == 0


def test_the_worker_rss_is_this_processs_after_a_request(gql, home):
    token, variables = home
    gql(HOME_SCREEN, variables, token=token).ok()
    rss = current_rss_kb() * 1024
    assert 0.8 * rss < sample("calendar_web_worker_rss_bytes") <= 1.2 * rss


def scraped(body: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample_.name, tuple(sorted(sample_.labels.items()))): sample_.value
        for family in text_string_to_metric_families(body)
        for sample_ in family.samples
        if sample_.name.startswith("calendar_export_jobs")
    }


def test_export_jobs_are_counted_by_status_at_each_scrape_with_how_long_the_oldest_has_waited(world):
    ada = world.user("ada")
    week = {"owner": ada, "date_from": dt.date(2026, 11, 23), "date_to": dt.date(2026, 11, 29)}
    statuses = ["PENDING", "PENDING", "RUNNING", "DONE", "DONE", "DONE", "FAILED"]
    jobs = [ExportJob.objects.create(status=status, **week) for status in statuses]
    now = timezone.now()
    # Requested 20 minutes ago, sent again by the sweep a minute ago: it has waited 20 minutes.
    ExportJob.objects.filter(pk=jobs[0].pk).update(
        created_at=now - dt.timedelta(minutes=20), updated_at=now - dt.timedelta(minutes=1)
    )
    ExportJob.objects.filter(pk=jobs[2].pk).update(updated_at=now - dt.timedelta(minutes=5))
    ExportJob.objects.filter(pk=jobs[3].pk).update(updated_at=now - dt.timedelta(hours=3))  # finished long ago
    status, body, _ = scrape()
    assert status == 200
    figures = scraped(body)
    oldest_pending = figures.pop(("calendar_export_jobs_oldest_age_seconds", (("status", "PENDING"),)))
    oldest_running = figures.pop(("calendar_export_jobs_oldest_age_seconds", (("status", "RUNNING"),)))
    assert 20 * 60 <= oldest_pending < 21 * 60
    assert 5 * 60 <= oldest_running < 6 * 60
    assert figures == {
        ("calendar_export_jobs", (("status", "PENDING"),)): 2,
        ("calendar_export_jobs", (("status", "RUNNING"),)): 1,
        ("calendar_export_jobs", (("status", "DONE"),)): 3,
        ("calendar_export_jobs", (("status", "FAILED"),)): 1,
        ("calendar_export_jobs_finished_last_hour", (("status", "DONE"),)): 2,
        ("calendar_export_jobs_finished_last_hour", (("status", "FAILED"),)): 1,
    }


@pytest.mark.django_db
def test_no_export_job_means_zeros_not_missing_series():
    figures = scraped(scrape()[1])
    assert figures[("calendar_export_jobs", (("status", "FAILED"),))] == 0
    assert figures[("calendar_export_jobs_oldest_age_seconds", (("status", "PENDING"),))] == 0
