"""Rows: what loaders return for users and events instead of Django model instances.

A row is a tuple of exactly the columns an object type can show, read by attribute like a
model instance (`row.title`, `row.owner_id`, `row.pk`): building one is a C-level tuple
allocation, where a model instance costs a Python `__init__` and a state object per row
(a quarter of the home screen's time).

Which columns those are is declared once, by the object types' graphene-django-optimizer
hints (schema/types/rows.py works them out and calls `declare_columns` when the schema is
built); loaders ask `shape_of(model)`.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from django.db.models import Model, QuerySet


class Row(tuple):
    """Base class of every row class: `model` and `columns` say what it holds."""

    __slots__ = ()
    model: type[Model]
    columns: tuple[str, ...]

    if TYPE_CHECKING:
        # What each row class gets from its namedtuple base, made at run time (RowShape).
        pk: Any

        @classmethod
        def _make(cls, values: Iterable[Any]) -> Row: ...

        def __getattr__(self, column: str) -> Any: ...


class RowShape:
    """The row class of one model's shown columns, and how to read such rows from a query
    (`prefix`: the relation they are reached through, e.g. `friend__`)."""

    def __init__(self, model: type[Model], columns: Sequence[str]) -> None:
        pk = model._meta.pk.attname
        columns = (pk, *(column for column in columns if column != pk))
        base = namedtuple(f"{model.__name__}Row", columns)  # type: ignore[misc]  # a class per model, named at run time
        self.row_class: type[Row] = type(
            base.__name__,
            (base, Row),
            {"__slots__": (), "model": model, "columns": columns, "pk": property(itemgetter(0))},
        )
        self.columns = columns
        self.model = model

    def query_columns(self, prefix: str = "") -> list[str]:
        return [prefix + column for column in self.columns]

    def rows(self, queryset: QuerySet, prefix: str = "") -> list[Row]:
        """The queryset's rows (one statement), with just these columns."""
        make = self.row_class._make
        return [make(values) for values in queryset.values_list(*self.query_columns(prefix))]

    def make(self, values: Iterable[Any]) -> Row:
        return self.row_class._make(values)


_shapes: dict[type[Model], RowShape] = {}


def declare_columns(model: type[Model], columns: Sequence[str]) -> None:
    """The columns rows of `model` hold (its object type's shown columns)."""
    _shapes[model] = RowShape(model, columns)


def shape_of(model: type[Model]) -> RowShape:
    try:
        return _shapes[model]
    except KeyError:
        raise LookupError(f"No columns declared for {model.__name__}: is the schema imported?") from None
