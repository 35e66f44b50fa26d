"""WSGI entry point for gunicorn (see the Procfile)."""

import os

from django.core.wsgi import get_wsgi_application

from config import tracing
from config.runtime import tune_garbage_collector

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
# Before Django's handler loads its middleware: tracing adds the request span's.
tracing.install_from_environment("calendar-api")

application = get_wsgi_application()
tune_garbage_collector()
