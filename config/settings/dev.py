"""Local development: DEBUG on, a throwaway secret key, SQLite by default."""

import os

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]", "testserver"]  # noqa: F405
# `make serve` passes a token of the demo user (manage.py demo_token), which GraphiQL opens with.
GRAPHIQL_TOKEN = os.environ.get("GRAPHIQL_TOKEN", "")
