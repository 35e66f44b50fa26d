"""gunicorn's configuration for the Procfile's `web:` process, read from the environment.

WEB_CONCURRENCY              worker processes (default: sized from the CPUs and the memory)
WEB_MEMORY_PER_WORKER        MB a worker may use when sizing from memory (default 256)
GUNICORN_WORKER_CONNECTIONS  open connections per worker (default 1000)
GUNICORN_TIMEOUT             seconds before an unresponsive worker is killed, and the longest
                             gunicorn waits for a request body's next chunk (default 25)
GUNICORN_MAX_REQUESTS        requests before a worker is replaced (default 5000, with jitter)
GUNICORN_KEEPALIVE           seconds an idle kept-alive connection stays open (default 75)
PORT                         where to listen (default 8000)
PROMETHEUS_MULTIPROC_DIR     where the workers write their metrics, emptied at start (default: a
                             directory of its own in the temporary directory; config/metrics.py)

Read by the application (config/settings/base.py, config/asgi_bridge.py):
DJANGO_THREADS               threads running Django in each worker (default 2); each keeps its
                             own database connection: PostgreSQL connections = dynos x workers x
                             DJANGO_THREADS (+ the Celery processes)
REQUEST_BODY_TIMEOUT_SECONDS a body not whole after this long is refused with a JSON 408 (default
                             10); it must be under GUNICORN_TIMEOUT, or gunicorn would answer a
                             plain-text 500 first: the server refuses to start otherwise
REQUEST_DEADLINE_SECONDS     no request works longer than this, counted from its headers (default
                             25, under the platform router's 30 s; config/deadline.py)
"""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def memory_limit_mb() -> int | None:
    """The container's memory limit (cgroup v2, then v1), else the machine's memory."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as limit:
                value = limit.read().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < 1 << 60:  # "max" or a huge number mean no limit
            return int(value) // (1 << 20)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError):
        return None


def default_workers() -> int:
    """One worker per CPU (a request is CPU-bound Python: more processes than cores only
    add memory), but no more than the memory allows, and at least one. The event loop, not
    extra processes, absorbs slow clients."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    memory = memory_limit_mb()
    by_memory = memory // env_int("WEB_MEMORY_PER_WORKER", 256) if memory else cpus
    return max(1, min(cpus, by_memory))


bind = f"0.0.0.0:{env_int('PORT', 8000)}"
workers = env_int("WEB_CONCURRENCY", default_workers())
# gunicorn's asyncio worker serving config.asgi: it reads each request whole on its event
# loop before Django sees it, so a client sending its request one byte a second holds a
# socket, not a worker or a thread. (gthread was measured and dropped: seven such clients on
# 2 workers x 4 threads stopped other requests being served; scripts/production_check.py.)
# Django runs on DJANGO_THREADS threads per worker, each request on one of them, whole.
worker_class = "asgi"
worker_connections = env_int("GUNICORN_WORKER_CONNECTIONS", 1000)
# Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads new
# connections across them; with one shared socket, whichever worker's event loop was
# quickest accepted most kept-alive connections while the other worker idled.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "1") != "0"
timeout = env_int("GUNICORN_TIMEOUT", 25)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = env_int("GUNICORN_KEEPALIVE", 75)
# Replace each worker after this many requests, at staggered moments, so memory that grows
# slowly (a library's cache, fragmentation) can never grow until the platform kills it.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = env_int("GUNICORN_MAX_REQUESTS_JITTER", max(1, max_requests // 10))
# Load Django once in the master: workers start fast and share its memory copy-on-write
# (config/wsgi.py freezes it out of the garbage collector's sight, which keeps it shared).
preload_app = True
# Our request log (config/request_log.py) replaces gunicorn's access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The platform's router terminates TLS and says so in X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# Prometheus metrics (config/metrics.py) in prometheus-client's multiprocess mode: each worker
# writes its figures to files in this directory and /metrics adds them up. Set here, before
# the application is loaded (preload_app), since prometheus-client chooses its mode on import;
# one directory per master, so that two servers on one machine never add up each other's.
METRICS_DIR_DEFAULT = os.path.join(tempfile.gettempdir(), f"calendar-metrics-{os.getpid()}")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", METRICS_DIR_DEFAULT)


def on_starting(server):
    """Refuse to start what could not serve (leaving no metrics' directory behind: gunicorn
    does not call on_exit then), else empty the metrics' directory: files a previous server
    left would add their counts to ours."""
    try:
        refuse_what_could_not_serve(server)
    except Exception:
        on_exit(server)
        raise
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir)


def refuse_what_could_not_serve(server):
    """A WSGI application under the asyncio worker, or an application that would wait for a
    request body longer than gunicorn does (config/asgi_bridge.py says why). With preload_app
    the application is already loaded; gunicorn prints the RuntimeError's message and exits."""
    application = server.app.wsgi()
    if server.cfg.worker_class_str == worker_class and not is_asgi(application):
        raise RuntimeError(WSGI_UNDER_ASGI.format(app=server.app.app_uri))
    check = getattr(application, "check_worker_timeout", None)
    if check is not None:
        check(server.cfg.timeout)


def child_exit(server, worker):
    """A dead worker's memory leaves the metrics (its counts stay: they happened)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """The metrics' directory goes with the server, unless someone else chose it."""
    if os.environ["PROMETHEUS_MULTIPROC_DIR"] == METRICS_DIR_DEFAULT:
        shutil.rmtree(METRICS_DIR_DEFAULT, ignore_errors=True)


# `gunicorn config.wsgi`, as Heroku's Django guide writes it, would start and then answer every
# request with a 500 (the asyncio worker calls the application with ASGI's three arguments).
# It is refused rather than served by a thread worker, which would bring back what the asyncio
# worker was chosen to prevent (a few slow clients stopping the server: see worker_class above).
WSGI_UNDER_ASGI = (
    "{app} is a WSGI application, and this server runs gunicorn's asyncio worker, which serves "
    "ASGI applications only: start it with `gunicorn config.asgi` (the Procfile's web line). "
    "config.asgi is Django's same application, behind a bridge that reads each request whole "
    "before Django sees it, so slow clients cannot tie up a worker."
)


def is_asgi(application) -> bool:
    """An ASGI application: an async function, or an object whose __call__ is one."""
    return inspect.iscoroutinefunction(application) or inspect.iscoroutinefunction(type(application).__call__)


def post_fork(server, worker):
    """A worker must not share a database connection opened in the master."""
    from django.db import connections

    connections.close_all()
