"""Relay pagination of many parents' lists in one SQL query.

`fetch_pages` numbers each parent's rows with ROW_NUMBER() OVER (PARTITION BY
parent) and counts them with COUNT(*) OVER (PARTITION BY parent), then keeps the
rows of the requested page (plus one, to know whether a next page exists):
100 friends' events, paginated per friend, are one statement.
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Func, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber

from .aggregates import counts_by
from .rows import RowShape

CURSOR_PREFIX = "offset:"


def offset_to_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{offset}".encode()).decode()


def cursor_to_offset(cursor: str) -> int | None:
    """The offset a cursor stands for, or None if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeError):
        return None
    offset = text.removeprefix(CURSOR_PREFIX)
    if offset == text or not re.fullmatch(r"[0-9]{1,12}", offset):
        return None
    return int(offset)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`first` rows after the first `offset` rows (already validated)."""

    first: int
    offset: int = 0


class Edge:
    """A node and its position in the list (its cursor made only if asked for)."""

    __slots__ = ("node", "position")

    def __init__(self, node: Any, position: int) -> None:
        self.node = node
        self.position = position

    @property
    def cursor(self) -> str:
        return offset_to_cursor(self.position)


class PageInfo:
    __slots__ = ("has_next_page", "has_previous_page", "start_cursor", "end_cursor")

    def __init__(self, edges: list[Edge], has_next_page: bool, has_previous_page: bool) -> None:
        self.has_next_page = has_next_page
        self.has_previous_page = has_previous_page
        self.start_cursor = edges[0].cursor if edges else None
        self.end_cursor = edges[-1].cursor if edges else None


class Page:
    """What a connection field resolves to: edges, pageInfo and totalCount."""

    __slots__ = ("edges", "page_info", "total_count")

    def __init__(self, nodes: Sequence[Any], request: PageRequest, total_count: int) -> None:
        more = len(nodes) > request.first
        self.edges = [Edge(node, position) for position, node in enumerate(nodes[: request.first], request.offset + 1)]
        self.page_info = PageInfo(self.edges, has_next_page=more, has_previous_page=request.offset > 0)
        self.total_count = total_count


def fetch_pages(
    queryset: QuerySet,
    parent_field: str | None,
    parent_ids: Iterable[Hashable],
    order_by: Sequence[str],
    request: PageRequest,
    shape: RowShape | None = None,
    prefix: str = "",
) -> dict[Hashable, Page]:
    """One page of `queryset` per parent, in one query.

    `parent_field` names the column that partitions the rows (None: one list).
    `order_by` must end with a unique column so pages are stable. The nodes are rows of
    `shape` (read through the relation `prefix`, e.g. `friend__`), else model instances.
    """
    parent_ids = list(parent_ids)
    ordering = [F(name[1:]).desc() if name.startswith("-") else F(name).asc() for name in order_by]
    if parent_field is None:
        # One list: ORDER BY … LIMIT keeps only the page (a top-N sort), and the total
        # is a scalar subquery PostgreSQL runs once. A COUNT(*) OVER () would make it
        # sort every row of the day first (on disk at 5,000 friends: 3× slower).
        total = Subquery(queryset.order_by().values(n=Func(F("pk"), function="COUNT")))
        rows = _selected(queryset, None, shape, prefix).annotate(page_total=total).order_by(*ordering)
        rows = rows[request.offset : request.offset + request.first + 1]
    else:
        queryset = queryset.filter(**{f"{parent_field}__in": parent_ids})
        partition = [F(parent_field)]
        rows = (
            _selected(queryset, parent_field, shape, prefix)
            .annotate(
                page_row=Window(RowNumber(), partition_by=partition, order_by=ordering),
                page_total=Window(Count("pk"), partition_by=partition),
            )
            .filter(page_row__gt=request.offset, page_row__lte=request.offset + request.first + 1)
            .order_by(parent_field, "page_row")
        )
    grouped: dict[Hashable, list[Any]] = defaultdict(list)
    totals: dict[Hashable, int] = {}
    for node, parent, total in _nodes(rows, parent_field, shape):
        grouped[parent].append(node)
        totals[parent] = total
    if request.offset:
        # A page past the end has no row to carry the total: count those parents.
        missing = [p for p in parent_ids if p not in totals]
        if missing:
            totals.update(_count_by_parent(queryset, parent_field, missing))
    if parent_field is None:
        return {None: Page(grouped[None], request, totals.get(None, 0))}
    return {parent: Page(grouped[parent], request, totals.get(parent, 0)) for parent in parent_ids}


def _selected(queryset: QuerySet, parent_field: str | None, shape: RowShape | None, prefix: str) -> QuerySet:
    """The queryset reading model instances, or (for rows) just the shape's columns and the
    parent's (the page's annotations follow them: values_list must come before annotate)."""
    if shape is None:
        return queryset
    return queryset.values_list(*shape.query_columns(prefix), *([parent_field] if parent_field else []))


def _nodes(rows: QuerySet, parent_field: str | None, shape: RowShape | None):
    """(node, parent, total) for each row of a page query."""
    if shape is None:
        for row in rows:
            yield row, (getattr(row, parent_field) if parent_field else None), row.page_total
        return
    make = shape.row_class._make
    width = len(shape.columns)
    for values in rows:
        yield make(values[:width]), (values[width] if parent_field else None), values[-1]


def _count_by_parent(queryset: QuerySet, parent_field: str | None, parent_ids: list[Hashable]) -> dict[Hashable, int]:
    if parent_field is None:
        return {None: queryset.count()}
    return dict(zip(parent_ids, counts_by(queryset, parent_field, parent_ids), strict=True))
