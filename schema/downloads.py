"""`GET /exports/<id>/download`: the file of a finished export, to its owner only.

The viewer is found as for /graphql (a Bearer token, else the browser session). Anyone
else, an anonymous request, an unknown or malformed ID and an export not DONE all get
the same 404: whether someone else's export exists is not for them to learn. A token that
does not authenticate is also told so (`WWW-Authenticate`, as on /graphql).
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe

from calendarapp import exports
from calendarapp.ids import parse_global_id
from calendarapp.models import ExportJob, User

from .auth import authenticate, challenge
from .errors import NOT_FOUND, error_body
from .view import json_response


@require_safe
def download_export(request: HttpRequest, job_id: str) -> HttpResponseBase:
    credentials = authenticate(request)  # a GET: no CSRF check to fail
    job = finished_export(credentials.viewer, job_id)
    if job is None:
        return challenge(json_response(error_body("Not found.", NOT_FOUND), status=404), credentials.refusal)
    response = FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=exports.download_name(job),
        content_type="text/csv; charset=utf-8",
    )
    response["Cache-Control"] = "private, no-store"
    return response


def finished_export(viewer: User | None, job_id: str) -> ExportJob | None:
    """The viewer's DONE export with this global ID, or None."""
    parsed = parse_global_id(job_id)
    if viewer is None or parsed is None or parsed[0] != "ExportJob":
        return None
    job = ExportJob.objects.visible_to(viewer).filter(pk=parsed[1], status=ExportJob.Status.DONE).first()
    if job is None or not job.file or not job.file.storage.exists(job.file.name):
        return None
    return job
