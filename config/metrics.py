"""Prometheus metrics, for dashboards and alarms: `GET /metrics` (docs/production.md, "Metrics
and alerts", says what to alert on).

What each web worker records, one short call at each place it happens:

- `calendar_graphql_request_duration_seconds{operation}` and
  `calendar_graphql_sql_statements{operation}` (histograms), per GraphQL request, from the
  request log's timing and SQL count (config/request_log.py): the statements include the
  token's lookup, so a home screen counts what its snapshot in tests/snapshots counts;
- `calendar_api_errors_total{code}`, each error of each JSON answer, by its API code (the
  asyncio bridge's 408 and 413, which Django never sees, included: config/asgi_bridge.py);
- `calendar_loader_batch_size{loader}` (histogram), the keys of each batch a DataLoader loads
  (loaders/base.py, `DataLoader.dispatch`, where both execution paths' batches go);
- `calendar_web_worker_rss_bytes`, the largest resident memory among the live workers,
  each worker's as of its last request.

The operation label is bounded: an operation named as one of the app's operation files
(GRAPHQL_OPERATIONS_DIR, the trusted documents) keeps its name; any other name is "other", an
operation without a name "anonymous", a batch of several operations "batch". So a client
cannot add series by inventing names.

Export jobs are counted at each scrape from the database (`calendar_export_jobs{status}`, the
age of the oldest unfinished job, the jobs finished in the last hour): the truth whichever
process moved a job (a worker, the sweep, a request), on whatever machine, and the only way to
see a job that is stuck, since a stuck job makes no transition a counter could count.

gunicorn runs several workers: prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR,
set and prepared by gunicorn.conf.py) has each write its figures to files there, and /metrics
adds up every worker's. Without it (runserver, the tests) the figures are this process's.

/metrics is not public (`may_scrape`): with METRICS_TOKEN set, only a request carrying it as a
Bearer token; without, only one from a loopback or private address, judged from the socket's
peer and never through a proxy. Anything else gets the 404 of an unknown path.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger("calendar.metrics")

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROCESS_DIR:
    # Where every process writes its figures; gunicorn.conf.py empties it before workers start.
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)

OTHER, ANONYMOUS, BATCH = "other", "anonymous", "batch"

REQUEST_SECONDS = Histogram(
    "calendar_graphql_request_duration_seconds",
    "Time to answer a GraphQL request, by operation (bounded: see config/metrics.py).",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 25),
)
SQL_STATEMENTS = Histogram(
    "calendar_graphql_sql_statements",
    "SQL statements a GraphQL request ran (its token's lookup included), by operation.",
    ["operation"],
    buckets=(1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30, 50, 100, 1000),
)
ERRORS = Counter("calendar_api_errors", "Errors in the API's JSON answers, by extensions.code.", ["code"])
LOADER_BATCH_SIZE = Histogram(
    "calendar_loader_batch_size",
    "Keys in each batch a DataLoader loaded, by loader.",
    ["loader"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)
WORKER_RSS = Gauge(
    "calendar_web_worker_rss_bytes",
    "The largest resident memory among the live web workers, each as of its last request.",
    multiprocess_mode="livemax",
)


# --- the hooks --------------------------------------------------------------------------------


def request_finished(request: HttpRequest, seconds: float, sql_statements: int, rss_kb: int | None) -> None:
    """After each request (config/request_log.py): its figures if it ran GraphQL operations."""
    if rss_kb is not None:
        WORKER_RSS.set(rss_kb * 1024)
    names = getattr(request, "graphql_operation_names", None)
    if names is None:  # not an operation: GraphiQL, a refused body, the admin, a probe
        return
    operation = operation_label(names)
    REQUEST_SECONDS.labels(operation).observe(seconds)
    SQL_STATEMENTS.labels(operation).observe(sql_statements)


def loader_batch(loader_class: type, keys: int) -> None:
    """A DataLoader is loading a batch of `keys` keys (loaders/base.py)."""
    LOADER_BATCH_SIZE.labels(loader_class.__name__).observe(keys)


def count_errors(body: Any) -> None:
    """An answer's body (an operation's, or a batch's list of them) is about to be sent."""
    for answer in body if isinstance(body, list) else [body]:
        for error in answer.get("errors") or ():
            ERRORS.labels(error_label((error.get("extensions") or {}).get("code"))).inc()


# --- bounded labels ---------------------------------------------------------------------------
# (The schema's modules are imported at first use: loaders/base.py imports this module, and
# stays importable before Django's apps are ready.)


def operation_label(names: list[str | None]) -> str:
    if len(names) != 1:
        return BATCH
    name = names[0]
    if not name:
        return ANONYMOUS
    return name if name in known_operation_names() else OTHER


@cache
def known_operation_names() -> frozenset[str]:
    """The names of the app's operations: the files of GRAPHQL_OPERATIONS_DIR, which the trusted
    documents' manifest lists too."""
    from schema.trusted_documents import manifest_of

    return frozenset(operation["name"] for operation in manifest_of(settings.GRAPHQL_OPERATIONS_DIR)["operations"])


def error_label(code: Any) -> str:
    from schema.errors import CODES

    return code if code in CODES else OTHER


# --- export jobs, counted at each scrape --------------------------------------------------------

RECENT = dt.timedelta(hours=1)


class ExportJobsCollector:
    """Export jobs by status now; how long the oldest PENDING job has waited since it was
    requested, and the oldest RUNNING one since it started (or was sent again by the sweep,
    calendarapp.exports.sweep); the jobs finished in the last hour, by how. One GROUP BY."""

    def collect(self) -> Iterator[Metric]:
        from django.db.models import Count, Min, Q

        from calendarapp.models import ExportJob

        now = timezone.now()
        try:
            rows = list(
                ExportJob.objects.order_by()
                .values("status")
                .annotate(
                    jobs=Count("id"),
                    requested=Min("created_at"),
                    changed=Min("updated_at"),
                    recent=Count("id", filter=Q(updated_at__gte=now - RECENT)),
                )
            )
        except DatabaseError as error:  # the other figures are still worth scraping
            logger.warning("Could not count export jobs for /metrics: %s", error)
            return
        by_status = {row["status"]: row for row in rows}
        jobs = GaugeMetricFamily("calendar_export_jobs", "Export jobs by status, now.", labels=["status"])
        oldest = GaugeMetricFamily(
            "calendar_export_jobs_oldest_age_seconds",
            "Seconds the oldest PENDING export job has waited since requested, the oldest RUNNING one "
            "since it started (0: none).",
            labels=["status"],
        )
        finished = GaugeMetricFamily(
            "calendar_export_jobs_finished_last_hour",
            "Export jobs that became DONE or FAILED in the last hour.",
            labels=["status"],
        )
        since: dict[str, str] = {ExportJob.Status.PENDING: "requested", ExportJob.Status.RUNNING: "changed"}
        for status in ExportJob.Status.values:
            row = by_status.get(status, {"jobs": 0, "requested": None, "changed": None, "recent": 0})
            jobs.add_metric([status], row["jobs"])
            if status in since:
                moment = row[since[status]]
                oldest.add_metric([status], (now - moment).total_seconds() if moment else 0)
            else:
                finished.add_metric([status], row["recent"])
        yield from (jobs, oldest, finished)


class Scrape:
    """What one scrape exposes: every worker's figures (or this process's), and export jobs."""

    def __init__(self, collectors: Iterable[Any]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def scrape() -> Scrape:
    workers = MultiProcessCollector(None, MULTIPROCESS_DIR) if MULTIPROCESS_DIR else REGISTRY
    return Scrape([workers, ExportJobsCollector()])


# --- the endpoint -----------------------------------------------------------------------------


def endpoint(request: HttpRequest) -> HttpResponse:
    """GET /metrics, in Prometheus's text format, for a scraper `may_scrape` lets in."""
    if not may_scrape(request) or request.method not in ("GET", "HEAD"):
        raise Http404  # the JSON NOT_FOUND of any unknown path: nothing says there is an endpoint
    return HttpResponse(generate_latest(scrape()), content_type=CONTENT_TYPE_LATEST)


def may_scrape(request: HttpRequest) -> bool:
    """With METRICS_TOKEN: the request carries it (compared in constant time). Without: the
    socket's peer is a loopback or private address and no proxy forwarded the request (behind
    the platform's router every request comes from a private address: set a token there)."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, f"Bearer {token}".encode())
    forwarded = "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META
    return not forwarded and is_internal(request.META.get("REMOTE_ADDR", ""))


# Loopback, the private IPv4 networks (RFC 1918) and IPv6's unique local addresses (RFC 4193).
# (ipaddress's is_private would also let in documentation and other reserved networks.)
INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
)


def is_internal(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in INTERNAL_NETWORKS)
