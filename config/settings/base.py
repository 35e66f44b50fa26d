"""Settings shared by every environment. Values that differ between
deployments come from the environment (12-factor)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.log_format import log_format

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


Number = TypeVar("Number", int, float)


def env_number(name: str, default: Number, kind: Callable[[str], Number] = int, minimum: float = 0) -> Number:
    """A number from the environment, at least `minimum`; a clear start-up error otherwise."""
    raw = os.environ.get(name, "").strip()
    try:
        value = kind(raw) if raw else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "graphene_django",
    "graphene_django_graphiql_static",
    "calendarapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise, so static files are not logged; before the rest, so it times them.
    "config.request_log.RequestLogMiddleware",
    # /healthz and /readyz, answered before CommonMiddleware checks the Host header: a probe
    # from inside the platform may name the process by an address ALLOWED_HOSTS does not list.
    "config.health.HealthProbeMiddleware",
    # After the request log, whose request id its warning names.
    "config.deadline.RequestDeadlineMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
# A failed CSRF check answers the API's JSON outside the admin (config/error_views.py).
CSRF_FAILURE_VIEW = "config.error_views.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "schema" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite in the project folder unless DATABASE_URL names another database.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
# PostgreSQL cancels any statement running longer than this (milliseconds; 0 = never), so a
# runaway query ends as an error and frees its thread. The request deadline (below) is checked
# between statements, never inside one, so the two together bound a request: 25 s + 4 s, under
# the router's 30 s. The Procfile gives the worker (exports) a longer one and the release phase
# (migrations) none.
DATABASE_STATEMENT_TIMEOUT_MS = env_number("DATABASE_STATEMENT_TIMEOUT_MS", 4000)
# Behind PgBouncer in transaction mode: no server-side cursors (a cursor would outlive the
# transaction's server connection) and no connection startup options (PgBouncer refuses
# them): set the statement timeout on the role instead (README, "Production").
DATABASE_PGBOUNCER = env_bool("DATABASE_PGBOUNCER", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    if DATABASE_PGBOUNCER:
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    elif DATABASE_STATEMENT_TIMEOUT_MS:
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
            f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS}"
        )

AUTH_USER_MODEL = "calendarapp.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id at OWASP's minimum (m=19 MiB, t=2, p=1), chosen by measurement: about 20 ms of
# CPU and 19 MiB per check, against 230 ms for PBKDF2 (docs/production.md, "Passwords").
# The rest verify the hashes Django's default list could have stored (PBKDF2 until now):
# each is rehashed with the first at its user's next successful login. Django's own
# Argon2PasswordHasher is left out: it shares the "argon2" name with ours and would take
# its place for verifying and for deciding which hashes to upgrade.
PASSWORD_HASHERS = [
    "calendarapp.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    # A password too like the account's own names is the first thing an attacker tries.
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "display_name", "first_name", "last_name", "email")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# Serve static files (GraphiQL's assets) straight from the apps outside production,
# where `collectstatic` fills STATIC_ROOT instead.
WHITENOISE_USE_FINDERS = True
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Finished CSV exports, served to their owner only (never from a public URL).
    "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ.get("EXPORT_ROOT", str(BASE_DIR / "var" / "exports"))},
    },
}

# Redis, when REDIS_URL is set: Celery's broker and result store, and the shared cache
# (persisted queries, rate-limit counts) unless REDIS_CACHE_URL gives the cache a Redis of its
# own — recommended, so that what clients make the cache hold can never fill the broker's
# memory: the cache's Redis evicts (allkeys-lru), the broker's must not (noeviction);
# docs/production.md, "Redis". Without REDIS_URL the embedded default keeps everything in the
# one process: a local-memory cache, and background tasks run in-process, eagerly.
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_CACHE_URL = os.environ.get("REDIS_CACHE_URL", REDIS_URL)
if REDIS_CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_CACHE_URL,
            "OPTIONS": {
                # Redis down or slow must not fail or stall a request: a cache error reads as
                # a miss (logged by django-redis), and no call waits longer than a second.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
# A task is acknowledged when it has finished, not when a worker took it: a worker that
# dies mid-export leaves the message in the broker and another worker runs the task again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# How long Redis waits before handing an unacknowledged task to another worker: a worker
# killed outright (over its memory, a crashed host) delays its export by up to this much
# (scripts/fault_check.py). Every task must end well within it, or a slow export would be
# handed out a second time while still running: EXPORT_TIME_LIMIT stops it before then.
CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "600"))
EXPORT_TIME_LIMIT = int(os.environ.get("EXPORT_TIME_LIMIT", "300"))
# The soft limit raises inside the task, which marks the job FAILED with a reason; the hard
# limit, a little later, kills a task that ignored it.
CELERY_TASK_SOFT_TIME_LIMIT = EXPORT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = EXPORT_TIME_LIMIT + 30
# The sweep (calendarapp.exports.sweep) sends again the exports whose task Redis lost or never
# took: PENDING ones untouched for EXPORT_REQUEUE_AFTER seconds; those still PENDING
# EXPORT_QUEUE_GIVE_UP seconds after they were requested end FAILED. The worker's embedded
# beat (`-B` in the Procfile) runs it every EXPORT_SWEEP_INTERVAL seconds.
EXPORT_REQUEUE_AFTER = int(os.environ.get("EXPORT_REQUEUE_AFTER", "120"))
EXPORT_QUEUE_GIVE_UP = int(os.environ.get("EXPORT_QUEUE_GIVE_UP", "3600"))
EXPORT_SWEEP_INTERVAL = int(os.environ.get("EXPORT_SWEEP_INTERVAL", "60"))
# How many exports one user may have in progress (PENDING or RUNNING) at once.
EXPORT_MAX_UNFINISHED = int(os.environ.get("EXPORT_MAX_UNFINISHED", "3"))
# The sweep also deletes finished exports, and their files, this long after they finished.
EXPORT_RETENTION = int(os.environ.get("EXPORT_RETENTION", str(7 * 24 * 3600)))
CELERY_BEAT_SCHEDULE = {
    "sweep-exports": {"task": "calendarapp.sweep_exports", "schedule": float(EXPORT_SWEEP_INTERVAL)},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Workers look for the tasks of dead workers every 10 s at most, or sooner with a short
    # visibility timeout (kombu's own sweep runs every 100 s only).
    "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT // 2)),
    "unacked_restore_throttle": 1,
    # An unreachable Redis fails the enqueue within seconds instead of hanging the request.
    "socket_connect_timeout": 5,
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# CSV exports (calendarapp.exports): the longest range of days one export may cover.
EXPORT_MAX_DAYS = int(os.environ.get("EXPORT_MAX_DAYS", "1096"))  # three years, a leap day included
if EXPORT_MAX_DAYS < 1:
    raise ImproperlyConfigured(f"EXPORT_MAX_DAYS must be a positive number of days, not {EXPORT_MAX_DAYS}.")

# Seconds after a friend request is declined before its sender may send it again
# (RATE_LIMITED until then); 0 allows it at once.
FRIEND_REQUEST_COOLDOWN = env_number("FRIEND_REQUEST_COOLDOWN", 7 * 24 * 3600)

# Bearer tokens (calendarapp/tokens.py): a token expires AUTH_TOKEN_IDLE_TIMEOUT seconds after
# its last recorded use (recorded at most once a day), and AUTH_TOKEN_MAX_AGE seconds after it
# was issued whatever its use. The sweep deletes expired and revoked tokens every
# AUTH_TOKEN_SWEEP_INTERVAL seconds.
AUTH_TOKEN_IDLE_TIMEOUT = env_number("AUTH_TOKEN_IDLE_TIMEOUT", 30 * 24 * 3600, minimum=1)
AUTH_TOKEN_MAX_AGE = env_number("AUTH_TOKEN_MAX_AGE", 365 * 24 * 3600, minimum=1)
if AUTH_TOKEN_IDLE_TIMEOUT > AUTH_TOKEN_MAX_AGE:
    raise ImproperlyConfigured(
        f"AUTH_TOKEN_IDLE_TIMEOUT ({AUTH_TOKEN_IDLE_TIMEOUT} s) must not exceed AUTH_TOKEN_MAX_AGE "
        f"({AUTH_TOKEN_MAX_AGE} s): a token never outlives its maximum age."
    )
AUTH_TOKEN_SWEEP_INTERVAL = env_number("AUTH_TOKEN_SWEEP_INTERVAL", 60 * 60, minimum=1)
CELERY_BEAT_SCHEDULE["sweep-auth-tokens"] = {
    "task": "calendarapp.sweep_auth_tokens",
    "schedule": float(AUTH_TOKEN_SWEEP_INTERVAL),
}

GRAPHENE = {"SCHEMA": "schema.schema.schema"}

# The secret the API's IDs are encrypted with (calendarapp/ids.py). Unset, it is derived from
# SECRET_KEY. Changing it changes every ID (clients then sync again from nothing), so
# production sets it apart from SECRET_KEY, which can then rotate.
GLOBAL_ID_KEY = os.environ.get("GLOBAL_ID_KEY", "")
if GLOBAL_ID_KEY and len(GLOBAL_ID_KEY) < 32:
    raise ImproperlyConfigured("GLOBAL_ID_KEY must be a random secret of at least 32 characters.")

# The GraphQL endpoint's limits (see docs/api.md).
GRAPHQL_MAX_BATCH = 20
GRAPHQL_MAX_PAGE_SIZE = 100
GRAPHQL_DEFAULT_PAGE_SIZE = 20
# Delta sync (`changes`): changes per answer.
GRAPHQL_SYNC_MAX_PAGE_SIZE = 500
GRAPHQL_SYNC_DEFAULT_PAGE_SIZE = 100
# What one operation may ask for, checked before it runs (schema/limits.py; QUERY_TOO_COMPLEX).
# The app's largest operation, the home screen, has depth 9 and cost about 31,000.
GRAPHQL_MAX_QUERY_BYTES = 64 * 1024  # the query text, checked before hashing or parsing
GRAPHQL_MAX_TOKENS = 1_000  # checked before parsing; GraphiQL's introspection query has 180
GRAPHQL_MAX_DEPTH = 12  # nested fields, through fragments; introspection has graphql-core's own rule
GRAPHQL_MAX_ALIASES = 20
GRAPHQL_MAX_FIELD_REPEATS = 10  # one field in one selection: validation is quadratic in repeats
GRAPHQL_MAX_COST = 100_000  # each field, times the page sizes of the connections around it
# Parsed and validated documents each process keeps, by the query's SHA-256.
GRAPHQL_DOCUMENT_CACHE_SIZE = 512
# Queries run by their compiled plan (schema/plans); False: every operation through graphql-core's
# path (the reference the differential tests compare the plans with; an escape hatch in production).
GRAPHQL_COMPILED_PLANS = env_bool("GRAPHQL_COMPILED_PLANS", True)
# Who may see the schema (schema/introspection.py): introspection (__schema, __type) and
# graphql-core's "Did you mean ...?" suggestions in error messages. "everyone", or "staff"
# (users with is_staff, by session in GraphiQL or by token), production's default.
GRAPHQL_INTROSPECTION_CHOICES = ("everyone", "staff")


def graphql_introspection(default: str) -> str:
    value = os.environ.get("GRAPHQL_INTROSPECTION", "").strip().lower() or default
    if value not in GRAPHQL_INTROSPECTION_CHOICES:
        raise ImproperlyConfigured(
            f"GRAPHQL_INTROSPECTION must be one of {', '.join(GRAPHQL_INTROSPECTION_CHOICES)}, not {value!r}."
        )
    return value


GRAPHQL_INTROSPECTION = graphql_introspection("everyone")
# How long the cache keeps an automatic persisted query after it was last sent in full. A
# client that finds it gone sends the query again (one more round trip); a day keeps that
# rare while queries anyone registered (APQ stores any valid query) do not pile up.
GRAPHQL_PERSISTED_QUERY_TIMEOUT = 24 * 60 * 60
# What registering persisted queries may store (schema/persisted_queries.py): a query's size,
# registrations per client (viewer, else address) an hour, and bytes from everyone a day.
# The app's largest operation is under 1 KB and it has fewer than 20.
GRAPHQL_PERSISTED_QUERY_MAX_BYTES = env_number("GRAPHQL_PERSISTED_QUERY_MAX_BYTES", 16 * 1024, minimum=1)
GRAPHQL_PERSISTED_QUERY_REGISTRATIONS = env_number("GRAPHQL_PERSISTED_QUERY_REGISTRATIONS", 100, minimum=1)
GRAPHQL_PERSISTED_QUERY_BYTES_PER_DAY = env_number("GRAPHQL_PERSISTED_QUERY_BYTES_PER_DAY", 16 * 1024 * 1024, minimum=1)
# Trusted documents (schema/trusted_documents.py): the path of the manifest of the app's
# operations, written by `manage.py trusted_documents` from GRAPHQL_OPERATIONS_DIR. When set,
# non-staff clients may run only those operations; unset (the default), any valid operation.
# A relative path is taken from the project's folder (bin/post_compile writes
# var/trusted-documents.json at build time).
GRAPHQL_TRUSTED_DOCUMENTS = os.environ.get("GRAPHQL_TRUSTED_DOCUMENTS", "")
if GRAPHQL_TRUSTED_DOCUMENTS:
    GRAPHQL_TRUSTED_DOCUMENTS = str(BASE_DIR / GRAPHQL_TRUSTED_DOCUMENTS)
GRAPHQL_OPERATIONS_DIR = BASE_DIR / "tests" / "operations"
# A token GraphiQL puts in its Headers editor, in DEBUG only (schema/graphiql.py): the dev
# settings read it from the environment, where `make serve` sets the demo user's.
GRAPHIQL_TOKEN = ""
# Log every SQL statement the GraphQL endpoint runs to the console.
GRAPHQL_LOG_SQL = env_bool("GRAPHQL_LOG_SQL", False)

# Rate limits (throttling/, docs/api.md's RATE_LIMITED). The counts live in Redis when
# RATE_LIMIT_REDIS_URL is set (by default the cache's Redis, shared by every worker and dyno),
# else in each process; when Redis fails, each process counts on its own for
# RATE_LIMIT_REDIS_RETRY seconds before trying Redis again (and logs it).
RATE_LIMIT_REDIS_URL = os.environ.get("RATE_LIMIT_REDIS_URL", REDIS_CACHE_URL)
RATE_LIMIT_REDIS_TIMEOUT = env_number("RATE_LIMIT_REDIS_TIMEOUT", 0.5, float, minimum=0.01)
RATE_LIMIT_REDIS_RETRY = env_number("RATE_LIMIT_REDIS_RETRY", 5.0, float)
# Logins: after this many failures for one username, or from one address, within the window
# (seconds), every login for it is refused until the window has passed.
LOGIN_FAILURES_PER_USERNAME = env_number("LOGIN_FAILURES_PER_USERNAME", 10, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = env_number("LOGIN_FAILURES_PER_ADDRESS", 100, minimum=1)
LOGIN_FAILURE_WINDOW = env_number("LOGIN_FAILURE_WINDOW", 15 * 60, minimum=1)
# Signups tried from one address per window (seconds).
SIGNUPS_PER_ADDRESS = env_number("SIGNUPS_PER_ADDRESS", 20, minimum=1)
SIGNUP_WINDOW = env_number("SIGNUP_WINDOW", 60 * 60, minimum=1)
# Password checks in one process: one at a time, and together at most this share of one
# core over time (a credit of up to PASSWORD_CHECK_BURST_SECONDS of checking).
PASSWORD_CHECK_CPU_SHARE = env_number("PASSWORD_CHECK_CPU_SHARE", 0.25, float, minimum=0.01)
PASSWORD_CHECK_BURST_SECONDS = env_number("PASSWORD_CHECK_BURST_SECONDS", 2.0, float, minimum=0.01)
if PASSWORD_CHECK_CPU_SHARE > 1:
    raise ImproperlyConfigured(
        f"PASSWORD_CHECK_CPU_SHARE is a share of one core, at most 1, not {PASSWORD_CHECK_CPU_SHARE}."
    )
# Each viewer's budget of estimated query cost (schema/limits.py) per period (seconds).
VIEWER_COST_BUDGET = env_number("VIEWER_COST_BUDGET", 3_000_000, minimum=1)
VIEWER_COST_PERIOD = env_number("VIEWER_COST_PERIOD", 60, minimum=1)
if VIEWER_COST_BUDGET < GRAPHQL_MAX_COST:
    raise ImproperlyConfigured(
        f"VIEWER_COST_BUDGET ({VIEWER_COST_BUDGET:,}) must be at least GRAPHQL_MAX_COST ({GRAPHQL_MAX_COST:,}), "
        "or an operation within the limits could never run."
    )
# Seconds the web process holds back an answer that says RATE_LIMITED (on its event loop: no
# thread, no CPU), so that a client flooding the server with refused attempts gets few answers.
RATE_LIMITED_ANSWER_DELAY = env_number("RATE_LIMITED_ANSWER_DELAY", 1.0, float)
# How many proxies in front of the app append to X-Forwarded-For (the platform's router: 1).
# The client's address is the entry the farthest trusted proxy appended; 0 ignores the header.
TRUSTED_PROXY_COUNT = env_number("TRUSTED_PROXY_COUNT", 0)

# The web process (config/asgi_bridge.py) refuses a request body larger than this (413), or
# one that has not arrived whole after this long (408), before Django sees it. The body timeout
# must be under gunicorn's timeout (GUNICORN_TIMEOUT, 25 s), which otherwise ends the wait
# first with a plain-text 500: gunicorn.conf.py refuses to start when it is not.
MAX_REQUEST_BODY_BYTES = int(os.environ.get("MAX_REQUEST_BODY_BYTES", str(10 * 1024 * 1024)))
REQUEST_BODY_TIMEOUT_SECONDS = env_number("REQUEST_BODY_TIMEOUT_SECONDS", 10.0, float, minimum=0.001)
# No request works past this many seconds, counted from when the web process received its
# headers (config/deadline.py): what is left is answered with an error, so every answer leaves
# before the platform's router gives up at 30 s. 0: no deadline.
REQUEST_DEADLINE_SECONDS = env_number("REQUEST_DEADLINE_SECONDS", 25.0, float)
# Threads running Django in each web worker (config/asgi_bridge.py): a request waiting (on the
# database, on a password check) holds one of them, not the whole worker. Each thread keeps
# its own database connection.
DJANGO_THREADS = env_number("DJANGO_THREADS", 2, minimum=1)
# GET /metrics (config/metrics.py, docs/production.md "Metrics and alerts"): with a token set,
# only a scraper sending it as `Authorization: Bearer <token>`; unset, only a loopback or
# private address, not through a proxy.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_TOKEN_MIN_LENGTH = 32
if METRICS_TOKEN and len(METRICS_TOKEN) < METRICS_TOKEN_MIN_LENGTH:
    raise ImproperlyConfigured(
        f"METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} characters, not {len(METRICS_TOKEN)}: "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one."
    )
# The request log (config/request_log.py) lists the slowest SQL of requests slower than this.
REQUEST_LOG_SLOW_MS = float(os.environ.get("REQUEST_LOG_SLOW_MS", "1000"))
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "calendar.cache"

# One line per event on stderr: JSON for log collectors, text on a terminal (LOG_FORMAT).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.log_format.JsonFormatter"},
        "text": {"()": "config.log_format.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format()}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "calendar": {"handlers": ["console"], "level": "DEBUG" if GRAPHQL_LOG_SQL else "INFO", "propagate": False},
    },
}
