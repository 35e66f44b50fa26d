"""ASGI entry point for the Procfile's `web:` process (gunicorn's asyncio worker, see
gunicorn.conf.py): Django's WSGI application behind config.asgi_bridge."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from config import tracing
from config.asgi_bridge import BufferedWSGIBridge
from config.runtime import tune_garbage_collector

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
# Before Django's handler loads its middleware: tracing adds the request span's.
tracing.install_from_environment("calendar-api")

application = BufferedWSGIBridge(
    get_wsgi_application(),
    max_body_bytes=settings.MAX_REQUEST_BODY_BYTES,
    body_timeout=settings.REQUEST_BODY_TIMEOUT_SECONDS,
    threads=settings.DJANGO_THREADS,
)
tune_garbage_collector()
