"""The Celery application: the Procfile's `worker:` process runs it, and the web process
uses it to enqueue tasks. Settings are Django's, those named CELERY_*."""

import os

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from config import tracing

# Production settings unless told otherwise, as for config/wsgi.py: importing the `config`
# package loads this module first, so a development default here would win over wsgi.py's
# and serve production with DEBUG on. Locally: DJANGO_SETTINGS_MODULE=config.settings.dev.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("calendar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect(weak=False)
def trace_pool_process(**_) -> None:
    """Each pool process traces its tasks (config/tracing.py) when an OTLP endpoint is set:
    installed in the process that runs them, so its export thread is its own."""
    tracing.install_from_environment("calendar-worker")


@worker_process_shutdown.connect(weak=False)
def flush_traces(**_) -> None:
    tracing.flush()
