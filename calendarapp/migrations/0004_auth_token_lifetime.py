"""Tokens that end: when each was last used, when it expires, when it was revoked, and the
device (User-Agent) it was issued to.

Tokens issued before this migration count as used at the migration, so the idle timeout
logs no device out at the deploy; the maximum age still counts from their issue (a token
older than AUTH_TOKEN_MAX_AGE expires at once, as it would have had the rule been there)."""

import datetime as dt

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import F

import calendarapp.models


def set_lifetimes(apps, schema_editor):
    """Every existing token used now, expiring an idle timeout from now or at its maximum age,
    whichever comes first (in two UPDATEs, however many tokens there are)."""
    AuthToken = apps.get_model("calendarapp", "AuthToken")
    now = django.utils.timezone.now()
    idle = dt.timedelta(seconds=settings.AUTH_TOKEN_IDLE_TIMEOUT)
    max_age = dt.timedelta(seconds=settings.AUTH_TOKEN_MAX_AGE)
    AuthToken.objects.update(last_used_at=now, expires_at=now + idle)
    AuthToken.objects.filter(created_at__lt=now + idle - max_age).update(expires_at=F("created_at") + max_age)


class Migration(migrations.Migration):
    dependencies = [
        ("calendarapp", "0003_export_task_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="authtoken",
            name="last_used_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.AddField(
            model_name="authtoken",
            name="expires_at",
            field=models.DateTimeField(default=calendarapp.models.new_token_expiry, editable=False),
        ),
        migrations.AddField(
            model_name="authtoken",
            name="revoked_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="authtoken",
            name="user_agent",
            field=models.CharField(blank=True, editable=False, max_length=200),
        ),
        migrations.AlterField(
            model_name="authtoken",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.AddIndex(
            model_name="authtoken",
            index=models.Index(fields=["expires_at"], name="auth_token_expires"),
        ),
        migrations.RunPython(set_lifetimes, migrations.RunPython.noop),
    ]
