"""Health endpoints for the platform and its load balancer: cheap, unauthenticated, and
never touching the GraphQL machinery.

- `GET /healthz`: the process is up and serving (no I/O).
- `GET /readyz`: it can do its work: the database answers and, when REDIS_URL is set,
  Redis does too (and the cache's own Redis, REDIS_CACHE_URL, when it is another). 503 with
  the failing checks otherwise.

Both answer whatever the Host header says (HealthProbeMiddleware): the platform's probes may
address the process by its internal address, and the answers build nothing from the host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from config import metrics

logger = logging.getLogger("calendar.health")


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = partial(ping_redis, settings.REDIS_URL)
    if settings.REDIS_CACHE_URL and settings.REDIS_CACHE_URL != settings.REDIS_URL:
        checks["redis_cache"] = partial(ping_redis, settings.REDIS_CACHE_URL)
    results = {name: run_check(name, check) for name, check in checks.items()}
    ready = all(result["ok"] for result in results.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503)


def run_check(name: str, check: Callable[[], None]) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # any failure means "not ready"; the log keeps the detail
        logger.warning("readiness check %s failed: %s", name, error)
        return {"ok": False, "error": type(error).__name__, "ms": elapsed_ms(started)}
    return {"ok": True, "ms": elapsed_ms(started)}


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def ping_redis(url: str) -> None:
    """Ping Redis directly: the cache itself ignores Redis errors (requests run uncached)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


# /metrics too (config/metrics.py): a scraper may also address the process by its internal address.
PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics.endpoint,
}


class HealthProbeMiddleware:
    """Answers /healthz, /readyz and /metrics itself, ahead of the middleware that checks the
    Host header against ALLOWED_HOSTS (CommonMiddleware) and of sessions and CSRF, which probes
    need not. The request log, before it, still logs them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        return probe(request) if probe else self.get_response(request)
