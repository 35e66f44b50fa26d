"""`GET /exports/<id>/download`: the file of a finished export, to its owner only.

The viewer is found as for /graphql (a Bearer token, else the browser session). Anyone
else, an anonymous request, an unknown or malformed ID and an export not DONE all get
the same 404: whether someone else's export exists is not for them to learn.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from calendarapp import exports
from calendarapp.models import ExportJob

from .auth import viewer_for_request
from .errors import NOT_FOUND, error_body
from .ids import parse_global_id
from .view import json_response


@require_safe
def download_export(request: HttpRequest, job_id: str) -> HttpResponse:
    job = finished_export(request, job_id)
    if job is None:
        return json_response(error_body("Not found.", NOT_FOUND), status=404)
    response = FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=exports.download_name(job),
        content_type="text/csv; charset=utf-8",
    )
    response["Cache-Control"] = "private, no-store"
    return response


def finished_export(request: HttpRequest, job_id: str) -> ExportJob | None:
    """The viewer's DONE export with this global ID, or None."""
    viewer = viewer_for_request(request)  # a GET: no CSRF check to fail
    parsed = parse_global_id(job_id)
    if viewer is None or parsed is None or parsed[0] != "ExportJob":
        return None
    job = ExportJob.objects.visible_to(viewer).filter(pk=parsed[1], status=ExportJob.Status.DONE).first()
    if job is None or not job.file or not job.file.storage.exists(job.file.name):
        return None
    return job
