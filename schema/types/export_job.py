from __future__ import annotations

import graphene
from django.urls import reverse
from graphene_django import DjangoObjectType

from calendarapp.ids import global_id
from calendarapp.models import ExportJob

from ..enums import ExportStatus
from ..scalars import Date, DateTime
from .common import context_only
from .node import Node


class ExportJobType(DjangoObjectType):
    """A CSV export of the viewer's events, made in the background: poll it until its
    status is DONE (then download `downloadUrl`) or FAILED (then read `error`)."""

    class Meta:
        model = ExportJob
        name = "ExportJob"
        interfaces = (Node,)
        fields = ("id", "created_at")

    status = ExportStatus(required=True)
    row_count = graphene.Int(description="How many events the file holds; set when DONE.")
    download_url = graphene.String(
        description="Where the owner downloads the CSV (a path on this server, same authentication); set when DONE."
    )
    error = graphene.String(description="Why the export failed, for the user; set when FAILED.")
    from_ = Date(name="from", required=True, source="date_from", description="The first day exported.")
    to = Date(required=True, source="date_to", description="The last day exported (included).")
    created_at = DateTime(required=True)

    @staticmethod
    @context_only
    def resolve_download_url(root: ExportJob, info) -> str | None:
        if root.status != ExportJob.Status.DONE:
            return None
        return reverse("export-download", args=[global_id("ExportJob", root.pk)])

    @staticmethod
    @context_only
    def resolve_error(root: ExportJob, info) -> str | None:
        return root.error or None
