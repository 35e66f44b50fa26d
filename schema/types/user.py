from __future__ import annotations

import graphene
from graphene_django import DjangoObjectType

from calendarapp.models import User
from calendarapp.rules import can_list_friends
from loaders.base import then
from loaders.events import EventCountByOwnerIdLoader, EventsByOwnerIdLoader
from loaders.users import (
    FriendCountByUserIdLoader,
    FriendsByUserIdLoader,
    IsFriendByUserIdLoader,
    MutualFriendCountByUserIdLoader,
)

from ..context import require_viewer
from ..errors import BadUserInput, Forbidden
from ..pagination import CountableConnection, connection_field, page_request
from ..scalars import Date, DateTime
from ..windows import event_window
from .common import loader_field, needs_only_pk
from .node import Node

# Longer than any username (150) or display name (100), a search could match nothing; and SQLite
# refuses a LIKE pattern over 50,000 bytes outright.
SEARCH_MAX_LENGTH = 150


class UserType(DjangoObjectType):
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
        search=graphene.String(description="Part of a display name or username, any case."),
    )
    events = connection_field(
        lambda: EventConnection,
        description="The events the viewer may see, ordered by startsAt, then id.",
        date=Date(description="Events overlapping this day in the viewer's time zone."),
        from_=DateTime(name="from", description="Events overlapping [from, to)."),
        to=DateTime(),
    )
    event_count = graphene.Int(required=True, date=Date())

    resolve_is_friend = staticmethod(loader_field(IsFriendByUserIdLoader))
    resolve_friend_count = staticmethod(loader_field(FriendCountByUserIdLoader))
    resolve_mutual_friend_count = staticmethod(loader_field(MutualFriendCountByUserIdLoader))

    @staticmethod
    @needs_only_pk
    def resolve_friends(root: User, info, first=None, after=None, search=None):
        viewer = require_viewer(info)
        search = (search or "").strip() or None
        if search is not None and len(search) > SEARCH_MAX_LENGTH:
            raise BadUserInput(f"search may be at most {SEARCH_MAX_LENGTH} characters.", field="search")
        key = (root.pk, search, page_request(first, after))

        def load_if_allowed(is_friend: bool):
            if not can_list_friends(viewer, root.pk, is_friend):
                raise Forbidden("Only this user and their friends may list their friends.")
            return FriendsByUserIdLoader(info.context).load(key)

        return then(IsFriendByUserIdLoader(info.context).load(root.pk), load_if_allowed)

    @staticmethod
    @needs_only_pk
    def resolve_events(root: User, info, date=None, from_=None, to=None, first=None, after=None):
        viewer = require_viewer(info)
        start, end = event_window(viewer, date, from_, to)
        return EventsByOwnerIdLoader(info.context).load((root.pk, start, end, page_request(first, after)))

    @staticmethod
    @needs_only_pk
    def resolve_event_count(root: User, info, date=None):
        viewer = require_viewer(info)
        start, end = event_window(viewer, date)
        return EventCountByOwnerIdLoader(info.context).load((root.pk, start, end))


class UserConnection(CountableConnection):
    class Meta:
        node = UserType


from .event import EventConnection  # noqa: E402  (the two types refer to each other)
