"""Background tasks, run by the Procfile's `worker:` process (in-process and at once when
no REDIS_URL is set).

A task is acknowledged only once it has finished (acks_late), and given back to the
broker if its worker dies (reject_on_worker_lost): a killed worker's export runs again
on another worker, which writes the file from scratch (`calendarapp.exports.run_export`).
"""

from __future__ import annotations

from celery import shared_task

from . import exports, tokens


@shared_task(
    bind=True, name="calendarapp.export_events", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def export_events(self, job_id: int) -> None:
    """Write the CSV of export job `job_id` and record how it went on the job."""
    exports.run_export(job_id, self.request.id)


@shared_task(name="calendarapp.sweep_exports", ignore_result=True)
def sweep_exports() -> None:
    """Send again the exports whose task was lost (calendarapp.exports.sweep)."""
    exports.sweep()


@shared_task(name="calendarapp.sweep_auth_tokens", ignore_result=True)
def sweep_auth_tokens() -> None:
    """Delete the expired and revoked Bearer tokens (calendarapp.tokens.sweep)."""
    tokens.sweep()
