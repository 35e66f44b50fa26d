"""`ChangeSet`, the answer of delta sync (`changes(since:, first:)`), and its arguments."""

from __future__ import annotations

import graphene
from django.conf import settings

from calendarapp.changes import Position, StaleCursor
from calendarapp.ids import global_id
from loaders.changes import ChangeSet

from ..errors import BadUserInput
from .common import context_only
from .event import EventType


class ChangeSetType(graphene.ObjectType):
    class Meta:
        name = "ChangeSet"
        description = "Changes to the viewer's synced events after a cursor, in the order they happened."

    cursor = graphene.String(required=True, description="Pass as `since` to get the changes after these.")
    has_more = graphene.Boolean(required=True, description="More changes are waiting: ask again at once.")
    events = graphene.List(graphene.NonNull(EventType), required=True, description="Created or changed.")
    removed_event_ids = graphene.List(
        graphene.NonNull(graphene.ID), required=True, description="No longer in the synced events: drop them."
    )

    @staticmethod
    @context_only
    def resolve_removed_event_ids(root: ChangeSet, info) -> list[str]:
        return [global_id("Event", pk) for pk in root.removed_ids]


def changes_field() -> graphene.Field:
    return graphene.Field(
        ChangeSetType,
        required=True,
        description="Delta sync of the viewer's own events and of the friends' events the viewer sees.",
        since=graphene.String(description="The cursor of the previous answer; none to start from nothing."),
        first=graphene.Int(
            description=f"At most {settings.GRAPHQL_SYNC_MAX_PAGE_SIZE} changes; "
            f"default {settings.GRAPHQL_SYNC_DEFAULT_PAGE_SIZE}."
        ),
    )


def sync_request(context, since: str | None = None, first: int | None = None) -> tuple[Position, int]:
    """The loader key of a `changes` call, its arguments checked."""
    if first is None:
        first = settings.GRAPHQL_SYNC_DEFAULT_PAGE_SIZE
    if not 1 <= first <= settings.GRAPHQL_SYNC_MAX_PAGE_SIZE:
        limit = settings.GRAPHQL_SYNC_MAX_PAGE_SIZE
        raise BadUserInput(f"first must be from 1 to {limit}, got {first}.", field="first")
    if since is None:
        return Position.start(), first
    try:
        position = Position.from_cursor(since)
    except StaleCursor:
        raise BadUserInput(
            "since was made with IDs this server no longer uses: sync again from the start, without since.",
            field="since",
        ) from None
    if position is None:
        raise BadUserInput("since is not a cursor of changes.", field="since")
    return position, first
