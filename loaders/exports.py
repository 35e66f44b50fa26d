"""Loaders of export jobs, which only their owner sees."""

from __future__ import annotations

from collections.abc import Sequence

from calendarapp.models import ExportJob

from .base import DataLoader


class VisibleExportJobByIdLoader(DataLoader[int, ExportJob | None]):
    """The export job with each id, or None when it is not the viewer's."""

    def batch_load(self, keys: Sequence[int]) -> list[ExportJob | None]:
        jobs = ExportJob.objects.visible_to(self.viewer).in_bulk(keys)
        return [jobs.get(key) for key in keys]
