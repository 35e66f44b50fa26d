"""Production: DEBUG off, and a SECRET_KEY that must come from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import graphql_introspection

DEBUG = False
# The schema (introspection, "Did you mean" suggestions) is shown to staff only: GraphiQL keeps
# working for them; an attacker gets no map of the API.
GRAPHQL_INTROSPECTION = graphql_introspection("staff")
# Keep a worker's database connection between requests (opening one costs more than
# most queries), and check it before reuse so a restarted PostgreSQL costs one request.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "60"))  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set the SECRET_KEY environment variable for production.")
if not ALLOWED_HOSTS:  # noqa: F405
    raise ImproperlyConfigured(
        "Set ALLOWED_HOSTS (comma-separated host names, e.g. calendar.example.com) for production."
    )

# The platform's router appends the client's address to X-Forwarded-For (the rate limits count by it).
TRUSTED_PROXY_COUNT = env_number("TRUSTED_PROXY_COUNT", 1)  # noqa: F405

# HTTPS: the platform's router terminates TLS and says so in X-Forwarded-Proto. Health probes
# and a Prometheus scraping a worker directly come over plain HTTP from inside the platform,
# so they are not redirected.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)  # noqa: F405
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# HSTS: an hour until the site is known to work over HTTPS only; then raise it (31536000, a
# year). Preloading (browsers' built-in list, hstspreload.org) is the domain owner's decision,
# for the whole domain and hard to undo, so it is off unless asked for; the list refuses a
# site whose header has less than a year or no includeSubDomains, so asking for it with those
# is a start-up error rather than a header that announces what cannot happen.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "3600"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)  # noqa: F405
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)  # noqa: F405
HSTS_PRELOAD_MIN_SECONDS = 31536000
if SECURE_HSTS_PRELOAD and (SECURE_HSTS_SECONDS < HSTS_PRELOAD_MIN_SECONDS or not SECURE_HSTS_INCLUDE_SUBDOMAINS):
    raise ImproperlyConfigured(
        "SECURE_HSTS_PRELOAD needs SECURE_HSTS_SECONDS of at least 31536000 (a year) and "
        f"SECURE_HSTS_INCLUDE_SUBDOMAINS on (now {SECURE_HSTS_SECONDS} and "
        f"{'on' if SECURE_HSTS_INCLUDE_SUBDOMAINS else 'off'}): the browsers' preload list refuses anything less."
    )
if not SECURE_HSTS_PRELOAD:
    # check --deploy's reminder that preloading is off: off is this deployment's choice.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Static files (GraphiQL's assets) are collected at build time (`manage.py collectstatic`, which
# Heroku's Python buildpack runs) with hashed names, and whitenoise serves them with a cache
# lifetime of ten years.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles"  # noqa: F405
WHITENOISE_USE_FINDERS = False
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "config.storage.HashedStaticFilesStorage"},
}
