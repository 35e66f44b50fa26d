"""Connections' filter arguments: declared for the schema, and checked by the FilterSets of
loaders/filters.py (a refusal is BAD_USER_INPUT naming the argument)."""

from __future__ import annotations

from typing import Any

import django_filters
import graphene
from django.core.exceptions import ValidationError

from loaders.filters import SEARCH_MAX_LENGTH, Filters, clean_filters

from .enums import Visibility
from .errors import BadUserInput, camel_case


def search_argument(what: str) -> graphene.String:
    return graphene.String(
        description=f"Keeps what contains this text in {what}, in any case; blank is no filter; "
        f"at most {SEARCH_MAX_LENGTH} characters."
    )


def visibility_argument() -> graphene.List:
    return graphene.List(
        graphene.NonNull(Visibility),
        description="Keeps the events of these visibilities (of those the viewer may see); not empty.",
    )


def filters(filterset: type[django_filters.FilterSet], **arguments: Any) -> Filters:
    """The loader key's Filters of a field's filter arguments (None: not given)."""
    try:
        return clean_filters(filterset, arguments)
    except ValidationError as error:
        name, messages = next(iter(error.message_dict.items()))
        raise BadUserInput(" ".join(messages), field=camel_case(name)) from None
