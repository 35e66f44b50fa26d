"""The test suite: fast password hashing; the database comes from DATABASE_URL
(SQLite when unset), so the same suite runs on SQLite and PostgreSQL."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-secret-key"
# Set, so that a server process a test starts with other settings makes the same IDs.
GLOBAL_ID_KEY = "test-only-key-of-the-apis-ids-0123456789"
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Whatever the environment says: tests of the "staff" setting override it.
GRAPHQL_INTROSPECTION = "everyone"

# Files of one test run, apart from other runs in the same checkout: export files, and the
# SQLite test database as a file (Django's default keeps it in memory), so that a Celery
# worker in another process (tests/test_export_worker.py) shares it. A worker started by
# the tests is given both through EXPORT_ROOT and DATABASE_URL.
TEST_RUN_DIR = Path(tempfile.gettempdir()) / f"calendar-test-{os.getpid()}"
STORAGES["exports"]["OPTIONS"]["location"] = os.environ.get("EXPORT_ROOT", str(TEST_RUN_DIR / "exports"))  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_RUN_DIR / "test-db.sqlite3")}  # noqa: F405
