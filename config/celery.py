"""The Celery application: the Procfile's `worker:` process runs it, and the web process
uses it to enqueue tasks. Settings are Django's, those named CELERY_*."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("calendar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
