from __future__ import annotations

import graphene

from calendarapp import exports

from ..scalars import Date
from ..types import ExportJobType
from .base import CalendarMutation


class RequestEventsExport(CalendarMutation):
    """Start a CSV export of the viewer's own events on the days `from` to `to` (both
    included, in the viewer's time zone); poll `exportJob(id:)` for its progress."""

    class Input:
        from_ = Date(name="from", required=True, description="The first day to export.")
        to = Date(required=True, description="The last day to export (included).")

    job = graphene.Field(ExportJobType, required=True)

    @classmethod
    def perform(cls, info, viewer, from_, to):
        return cls(job=exports.request_export(viewer, from_, to))


__all__ = ["RequestEventsExport"]
