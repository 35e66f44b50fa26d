from __future__ import annotations

import graphene

from calendarapp.models import User
from loaders.events import EventCountByOwnerIdLoader, EventsByOwnerIdLoader
from loaders.filters import EventFilter, FriendFilter
from loaders.users import (
    FriendCountByUserIdLoader,
    FriendsByUserIdLoader,
    IsFriendByUserIdLoader,
    MutualFriendCountByUserIdLoader,
)

from ..filters import filters, search_argument, visibility_argument
from ..pagination import CountableConnection, connection_field, page_request
from ..scalars import Date, DateTime
from ..windows import event_window
from .common import batched
from .node import Node
from .rows import RowAwareObjectType


def friends_arguments(context, first=None, after=None, search=None) -> tuple:
    """(Filters, PageRequest) of `friends`."""
    return filters(FriendFilter, search=search), page_request(first, after)


def events_arguments(
    context, date=None, from_=None, to=None, search=None, visibility=None, first=None, after=None
) -> tuple:
    """(start, end, Filters, PageRequest) of `events`: the window in UTC, the filters, the page."""
    window = event_window(context.viewer, date, from_, to)
    return (*window, filters(EventFilter, search=search, visibility=visibility), page_request(first, after))


def event_count_arguments(context, date=None) -> tuple:
    """(start, end) of `eventCount`: the day in the viewer's time zone, or all time."""
    return event_window(context.viewer, date)


class UserType(RowAwareObjectType):
    class Meta:
        model = User
        name = "User"
        interfaces = (Node,)
        fields = ("id", "username", "display_name", "timezone", "avatar_url")

    display_name = graphene.String(required=True)
    timezone = graphene.String(required=True, description='IANA name, e.g. "Europe/Paris".')
    avatar_url = graphene.String()
    is_friend = graphene.Boolean(required=True, description="Is this user a friend of the viewer.")
    friend_count = graphene.Int(required=True)
    mutual_friend_count = graphene.Int(required=True, description="Friends shared with the viewer.")
    friends = connection_field(
        lambda: UserConnection,
        description="Ordered by displayName, then id. Listed to the user and their friends only.",
        search=search_argument("the display name or the username"),
    )
    events = connection_field(
        lambda: EventConnection,
        description="The events the viewer may see, ordered by startsAt, then id.",
        date=Date(description="Events overlapping this day in the viewer's time zone."),
        from_=DateTime(name="from", description="Events overlapping [from, to)."),
        to=DateTime(),
        search=search_argument("the title or the location"),
        visibility=visibility_argument(),
    )
    event_count = graphene.Int(required=True, date=Date())

    resolve_is_friend = staticmethod(batched(IsFriendByUserIdLoader))
    resolve_friend_count = staticmethod(batched(FriendCountByUserIdLoader))
    resolve_mutual_friend_count = staticmethod(batched(MutualFriendCountByUserIdLoader))
    # Listed to the user and their friends only: the loader applies calendarapp.rules.
    resolve_friends = staticmethod(batched(FriendsByUserIdLoader, arguments=friends_arguments))
    resolve_events = staticmethod(batched(EventsByOwnerIdLoader, arguments=events_arguments))
    resolve_event_count = staticmethod(batched(EventCountByOwnerIdLoader, arguments=event_count_arguments))


class UserConnection(CountableConnection):
    class Meta:
        node = UserType


from .event import EventConnection  # noqa: E402  (the two types refer to each other)
