"""Connection arguments (`first`, `after`) checked against the API's limits."""

from __future__ import annotations

import graphene
from django.conf import settings

from loaders.pagination import PageRequest, cursor_to_offset

from .errors import BadUserInput


def connection_field(connection, description: str | None = None, **arguments) -> graphene.Field:
    """A required connection field taking `first` and `after` besides `arguments`."""
    return graphene.Field(
        connection,
        required=True,
        description=description,
        first=graphene.Int(
            description=f"At most {settings.GRAPHQL_MAX_PAGE_SIZE}; default {settings.GRAPHQL_DEFAULT_PAGE_SIZE}."
        ),
        after=graphene.String(),
        **arguments,
    )


def page_request(first: int | None = None, after: str | None = None) -> PageRequest:
    if first is None:
        first = settings.GRAPHQL_DEFAULT_PAGE_SIZE
    if first < 0:
        raise BadUserInput("first must not be negative.", field="first")
    if first > settings.GRAPHQL_MAX_PAGE_SIZE:
        raise BadUserInput(f"first may be at most {settings.GRAPHQL_MAX_PAGE_SIZE}, got {first}.", field="first")
    offset = 0 if after is None else cursor_to_offset(after)
    if offset is None:
        raise BadUserInput("after is not a cursor of this connection.", field="after")
    return PageRequest(first=first, offset=offset)


def page_arguments(context, first: int | None = None, after: str | None = None) -> tuple[PageRequest]:
    """The loader-key arguments of a connection field taking only `first` and `after`."""
    return (page_request(first, after),)


class CountableConnection(graphene.relay.Connection):
    """A Relay connection with `totalCount`: what the viewer may see in all, not just this page."""

    class Meta:
        abstract = True

    total_count = graphene.Int(required=True)
