"""Counting many parents' rows in one GROUP BY query."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from django.db.models import Count, QuerySet


def counts_by(queryset: QuerySet, parent_field: str, parent_ids: Sequence[Hashable]) -> list[int]:
    """How many rows of `queryset` each parent has, in the order of `parent_ids` (0 for none)."""
    rows = (
        queryset.filter(**{f"{parent_field}__in": parent_ids})
        .values(parent_field)
        .annotate(n=Count("pk"))
        .order_by()
        .values_list(parent_field, "n")
    )
    found = dict(rows)
    return [found.get(parent_id, 0) for parent_id in parent_ids]
