"""The test suite: fast password hashing; the database comes from DATABASE_URL
(SQLite when unset), so the same suite runs on SQLite and PostgreSQL."""

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-secret-key"
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
