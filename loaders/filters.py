"""What a connection's filter arguments keep (`search:`, `visibility:`), declared as
django-filter FilterSets.

A FilterSet's form checks and cleans a field's arguments once per field and level, touching
no database (`clean_filters`; schema/filters.py answers a refusal with BAD_USER_INPUT). The
cleaned values travel in the loader's key as `Filters`, normalized so that equal filters make
equal keys and share a query. The loader applies them to the queryset of what the viewer may
see (`Event.objects.visible_to`, the friends it may list): a filter only adds conditions to
that query, so it narrows what the viewer sees and the counts with it, never widens it, and
costs no statement of its own.

Case: `search` is `icontains`. PostgreSQL compares both sides in upper case in the database's
character type (C.UTF-8, as the usual locales: "é" finds "Élodie"); SQLite, the development
and test database, folds ASCII letters only ("E" finds "eve", "é" does not find "É").
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from calendarapp.models import Event, Friendship, Visibility

# Longer than any username (150) or display name (100), a search could match nothing; and SQLite
# refuses a LIKE pattern over 50,000 bytes outright.
SEARCH_MAX_LENGTH = 150


class SearchFilter(django_filters.CharFilter):
    """Keeps the rows one of whose `fields` contains the text, in any case. The text is trimmed;
    a blank one keeps every row."""

    def __init__(self, *fields: str, **kwargs: Any) -> None:
        super().__init__(
            max_length=SEARCH_MAX_LENGTH,
            error_messages={
                "max_length": f"search may be at most {SEARCH_MAX_LENGTH} characters.",
                "null_characters_not_allowed": "search may not contain NUL characters.",
            },
            **kwargs,
        )
        self.fields = fields

    def filter(self, queryset: QuerySet, value: str) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(reduce(operator.or_, (Q(**{f"{field}__icontains": value}) for field in self.fields)))


class NonEmptyMultipleChoiceField(django_filters.fields.MultipleChoiceField):
    """A list of choices that may be left out (no filter) but not given empty: an empty list
    would keep nothing, which no client means."""

    def clean(self, value: Any) -> list[str]:
        if value is not None and len(value) == 0:
            raise ValidationError(self.error_messages["empty"], code="empty")
        return super().clean(value)


class ChoicesFilter(django_filters.MultipleChoiceFilter):
    """Keeps the rows whose field is one of the chosen values (an SQL `IN`)."""

    field_class = NonEmptyMultipleChoiceField

    def __init__(self, argument: str, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(
            choices=choices,
            distinct=False,
            error_messages={
                "empty": f"{argument} must list at least one value (leave it out to keep them all).",
                "invalid_choice": f"{argument}: %(value)s is not one of the choices.",
            },
            **kwargs,
        )

    def filter(self, queryset: QuerySet, value: list[str]) -> QuerySet:
        return queryset.filter(**{f"{self.field_name}__in": value}) if value else queryset


class EventFilter(django_filters.FilterSet):
    """`events` and `friendsEvents`: by text in the title or location, and by visibility."""

    search = SearchFilter("title", "location")
    visibility = ChoicesFilter("visibility", Visibility.choices)

    class Meta:
        model = Event
        fields: list[str] = []


class FriendFilter(django_filters.FilterSet):
    """`friends`, over friendships (a user's friends are the `friend` side): by text in the
    friend's display name or username."""

    search = SearchFilter("friend__display_name", "friend__username")

    class Meta:
        model = Friendship
        fields: list[str] = []


@dataclass(frozen=True, slots=True)
class Filters:
    """A FilterSet's cleaned arguments, hashable: (filter name, value) of the filters that keep
    less than everything, values as tuples, sorted."""

    filterset: type[django_filters.FilterSet]
    values: tuple[tuple[str, Any], ...] = ()

    def apply(self, queryset: QuerySet) -> QuerySet:
        """`queryset` (what the viewer may see) narrowed by each filter, in the same statement."""
        filters = self.filterset(queryset=queryset).filters
        for name, value in self.values:
            queryset = filters[name].filter(queryset, value)
        return queryset


def clean_filters(filterset: type[django_filters.FilterSet], arguments: dict[str, Any]) -> Filters:
    """The arguments checked and cleaned by the FilterSet's form (no SQL runs); a refusal is a
    ValidationError keyed by the argument's name."""
    bound = filterset(data=arguments)
    if not bound.is_valid():
        raise ValidationError(bound.form.errors.as_data())
    active = ((name, _normalized(value)) for name, value in bound.form.cleaned_data.items())
    return Filters(filterset, tuple((name, value) for name, value in active if value not in ("", ())))


def _normalized(value: Any) -> Any:
    return tuple(sorted(set(value))) if isinstance(value, list) else value
