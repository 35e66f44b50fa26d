"""The metrics as an operator gets them: a real Prometheus server (Debian's `prometheus`, which
scripts/ensure_services.sh installs) scrapes the Procfile's web process (gunicorn, 2 workers, on
127.0.0.1) with its METRICS_TOKEN after known requests, and its query API must give the figures
exactly, added up across both workers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from graphql import OperationDefinitionNode, parse
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from bench.harness import HOST, OPENER, django_env, free_port, graphql_request, stop, web_server, worker_pids
from calendarapp.models import ExportJob
from tests.celery_worker import database_url_for_workers
from tests.conftest import utc
from tests.query_snapshots import SNAPSHOT_DIR, read_statements, snapshot_path
from tests.test_metrics import HOME_SCREEN

ROOT = Path(__file__).resolve().parent.parent
ALERT_RULES = ROOT / "docs" / "alerts.yml"
ALERT_RULE_TESTS = ROOT / "tests" / "prometheus" / "alerts_test.yml"
METRICS_TOKEN = "the-end-to-end-tests-metrics-token-0123456789"
SCRAPE_SECONDS = 1
FIGURES_TIMEOUT = 45
# The home screen's batches in the world below, (loader, keys): see test_metrics.py.
HOME_SCREEN_BATCHES = {
    "FriendsByUserIdLoader": 1,
    "IsFriendByUserIdLoader": 1,
    "EventsByOwnerIdLoader": 2,
    "RsvpSummaryByEventIdLoader": 3,
    "AttendeeCountByEventIdLoader": 3,
    "ViewerRsvpByEventIdLoader": 3,
}


def prometheus_binary(name: str = "prometheus") -> str:
    """Debian's prometheus package's `prometheus` or `promtool`; a missing one fails the test."""
    binary = shutil.which(name)
    if binary is None:
        pytest.fail(
            f"{name} is not installed: run scripts/ensure_services.sh (as root it installs Debian's prometheus)"
        )
    return binary


@contextmanager
def prometheus_scraping(target: str, directory: Path) -> Iterator[str]:
    """A Prometheus server of its own (temporary config and storage, a free port on 127.0.0.1)
    scraping `target` every second with the metrics token and evaluating docs/alerts.yml;
    yields its URL."""
    directory.mkdir()
    config = directory / "prometheus.yml"
    config.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "global": {
                    "scrape_interval": f"{SCRAPE_SECONDS}s",
                    "scrape_timeout": f"{SCRAPE_SECONDS}s",
                    "evaluation_interval": f"{SCRAPE_SECONDS}s",
                },
                "rule_files": [str(ALERT_RULES)],
                "scrape_configs": [
                    {
                        "job_name": "calendar",
                        "metrics_path": "/metrics",
                        "authorization": {"type": "Bearer", "credentials": METRICS_TOKEN},
                        "static_configs": [{"targets": [target]}],
                    }
                ],
            }
        )
    )
    url = f"http://{HOST}:{free_port()}"
    log_path = directory / "prometheus.log"
    argv = [
        prometheus_binary(),
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address={url.removeprefix('http://')}",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        try:
            wait_until_ready(url, process, log_path)
            yield url
        finally:
            stop(process)


def wait_until_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with OPENER.open(f"{url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"prometheus was not ready within 30 s:\n{log_path.read_text()[-3000:]}")


def query(prometheus: str, promql: str) -> dict[str, float]:
    """An instant query: each series' value, keyed by its labels as `name=value,...` ("" alone)."""
    with OPENER.open(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout=10) as answer:
        body = json.loads(answer.read())
    assert body["status"] == "success", body
    return {
        ",".join(f"{name}={value}" for name, value in sorted(series["metric"].items())): float(series["value"][1])
        for series in body["data"]["result"]
    }


def figures_when(prometheus: str, expected: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each query's result once they all equal `expected`, or as they stand after FIGURES_TIMEOUT
    seconds (a scrape comes every second)."""
    deadline = time.monotonic() + FIGURES_TIMEOUT
    while True:
        figures = {promql: query(prometheus, promql) for promql in expected}
        if figures == expected or time.monotonic() > deadline:
            return figures
        time.sleep(0.5)


def rule_health(prometheus: str) -> dict[str, str]:
    """Each rule's health once every rule has been evaluated (docs/alerts.yml loaded and run)."""
    deadline = time.monotonic() + FIGURES_TIMEOUT
    while True:
        with OPENER.open(f"{prometheus}/api/v1/rules", timeout=10) as answer:
            groups = json.loads(answer.read())["data"]["groups"]
        health = {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}
        if (health and "unknown" not in health.values()) or time.monotonic() > deadline:
            return health
        time.sleep(0.5)


def post(url: str, payload: dict, token: str | None = None) -> tuple[int, dict]:
    request = graphql_request(url, json.dumps(payload).encode(), token)
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def leave_stale_figures(directory: Path) -> None:
    """What a server killed before would leave: 1,000 home screens of a long-gone worker."""
    directory.mkdir()
    stale = MmapedDict(str(directory / "histogram_999999.db"))
    name = "calendar_graphql_request_duration_seconds"
    stale.write_value(mmap_key(name, f"{name}_count", ("operation",), ("HomeScreen",), ""), 1000.0, 0.0)
    stale.close()


def served_by_both(metrics_dir: Path, master: int) -> bool:
    """Each worker has written figures of a GraphQL request."""
    workers = worker_pids(master)
    return len(workers) == 2 and all((metrics_dir / f"histogram_{pid}.db").exists() for pid in workers)


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_the_figures_of_both_workers_exactly(world, tmp_path, collected_static):
    prometheus_binary()  # before anything starts: a missing binary fails the test at once
    ada, bob, cyd = world.user("ada"), world.user("bob"), world.user("cyd")
    world.befriend(ada, bob)
    world.befriend(ada, cyd)
    for owner, hour in ((bob, 9), (bob, 14), (cyd, 10)):
        world.event(owner, utc(2026, 11, 23, hour))
    ExportJob.objects.create(owner=ada, date_from=utc(2026, 11, 23).date(), date_to=utc(2026, 11, 29).date())
    token = world.token(ada)
    metrics_dir = tmp_path / "metrics"
    leave_stale_figures(metrics_dir)
    env = {
        **django_env(database_url_for_workers()),
        "WEB_CONCURRENCY": "2",
        "METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "EXPORT_ROOT": str(tmp_path / "exports"),
        "GLOBAL_ID_KEY": settings.GLOBAL_ID_KEY,
    }
    with web_server(env, tmp_path / "web.log") as (url, master):
        target = urllib.parse.urlsplit(url).netloc
        with prometheus_scraping(target, tmp_path / "prometheus") as prometheus:
            home_screens = 0
            # A new connection each: the kernel spreads them over the workers (SO_REUSEPORT);
            # at least 10, and on until both workers have answered some.
            while home_screens < 10 or not served_by_both(metrics_dir, master):
                assert home_screens < 200, "one worker answered 200 home screens: the other never did"
                status, answer = post(url, {"query": HOME_SCREEN, "variables": {"date": "2026-11-23"}}, token)
                assert (status, answer.get("errors")) == (200, None), answer
                home_screens += 1
            bad_date = {
                "query": "query Bad($d: Date!) { viewer { events(date: $d) { totalCount } } }",
                "variables": {"d": "not a date"},
            }
            assert post(url, bad_date, token)[1]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            anonymous = {"query": "query Inbox { incomingFriendRequests(first: 1) { totalCount } }"}
            assert post(url, anonymous)[1]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            statements = len(read_statements(snapshot_path("home_screen")))
            expected = {
                'sum(up{job="calendar"})': {"": 1},
                # (web_server's readiness check, a GET /graphql without a query, is "anonymous")
                'sum by (operation) (calendar_graphql_request_duration_seconds_count{operation!="anonymous"})': {
                    "operation=HomeScreen": home_screens,
                    "operation=other": 2,
                },
                'sum(calendar_graphql_sql_statements_sum{operation="HomeScreen"})': {"": home_screens * statements},
                'sum by (code) (calendar_api_errors_total{code=~"BAD_USER_INPUT|UNAUTHENTICATED"})': {
                    "code=BAD_USER_INPUT": 1,
                    "code=UNAUTHENTICATED": 1,
                },
                "sum by (loader) (calendar_loader_batch_size_count)": {
                    f"loader={loader}": home_screens for loader in HOME_SCREEN_BATCHES
                },
                "sum by (loader) (calendar_loader_batch_size_sum)": {
                    f"loader={loader}": home_screens * keys for loader, keys in HOME_SCREEN_BATCHES.items()
                },
                'sum(calendar_export_jobs{status="PENDING"})': {"": 1},
            }
            figures = figures_when(prometheus, expected)
            rss = query(prometheus, "calendar_web_worker_rss_bytes")
            rules = rule_health(prometheus)
            above_snapshot = query(prometheus, 'ALERTS{alertname="CalendarSqlStatementsAboveSnapshot"}')
    assert figures == expected
    assert set(rules.values()) == {"ok"}, rules  # every rule evaluates on the real series without error
    assert above_snapshot == {}
    [(_, worker_rss)] = rss.items()
    assert 20 * 2**20 < worker_rss < 2**31, rss  # a Django worker's memory, in bytes


def test_the_alert_rules_pass_promtools_check_and_their_unit_tests():
    """docs/alerts.yml is valid, and each alert fires on the synthetic series of
    tests/prometheus/alerts_test.yml as expected (and only then)."""
    promtool = prometheus_binary("promtool")
    for command in (["check", "rules", str(ALERT_RULES)], ["test", "rules", str(ALERT_RULE_TESTS)]):
        checked = subprocess.run([promtool, *command], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr


SNAPSHOT_RULE = re.compile(r'label_replace\(vector\((\d+)\), "operation", "(\w+)", "", ""\)')


def test_the_alert_rules_snapshot_figures_are_the_committed_snapshots():
    """Every query operation of the app has its PostgreSQL snapshot's statement count in
    docs/alerts.yml (update both together after `make update-snapshots`)."""
    in_rules = {name: int(count) for count, name in SNAPSHOT_RULE.findall(ALERT_RULES.read_text())}
    committed = {}
    for path in sorted(settings.GRAPHQL_OPERATIONS_DIR.glob("*.graphql")):
        [operation] = [
            node for node in parse(path.read_text()).definitions if isinstance(node, OperationDefinitionNode)
        ]
        if operation.operation.value == "query":
            snapshot = SNAPSHOT_DIR / "postgresql" / f"{path.stem}.sql"
            committed[operation.name.value] = len(read_statements(snapshot))
    assert in_rules == committed
