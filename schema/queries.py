"""The root Query type."""

from __future__ import annotations

import graphene
import graphene_django_optimizer as gql_optimizer

from calendarapp.ids import parse_global_id
from calendarapp.models import User
from loaders.changes import ChangeSetByPositionLoader
from loaders.events import FriendsEventsLoader, VisibleEventByIdLoader
from loaders.exports import VisibleExportJobByIdLoader
from loaders.friend_requests import IncomingFriendRequestsLoader, VisibleFriendRequestByIdLoader
from loaders.users import UserByIdLoader

from .context import require_viewer
from .ids import pk_from_global_id
from .pagination import connection_field, page_request
from .scalars import Date
from .types import EventConnection, ExportJobType, FriendRequestConnection, UserType
from .types.change_set import changes_field, sync_request
from .types.node import Node
from .windows import event_window

# The loader that fetches a node of each type, through the type's visibility rule.
NODE_LOADERS = {
    "User": UserByIdLoader,
    "Event": VisibleEventByIdLoader,
    "FriendRequest": VisibleFriendRequestByIdLoader,
    "ExportJob": VisibleExportJobByIdLoader,
}


class Query(graphene.ObjectType):
    viewer = graphene.Field(UserType, description="The logged-in user; null when not logged in.")
    node = graphene.Field(Node, id=graphene.ID(required=True))
    user = graphene.Field(UserType, username=graphene.String(required=True))
    friends_events = connection_field(
        EventConnection,
        description="The day's events of all the viewer's friends (in the viewer's time zone), by startsAt, then id.",
        date=Date(required=True),
    )
    changes = changes_field()
    incoming_friend_requests = connection_field(FriendRequestConnection, description="Pending, oldest first.")
    export_job = graphene.Field(
        ExportJobType,
        id=graphene.ID(required=True),
        description="One of the viewer's exports (from requestEventsExport); null if there is none with this ID.",
    )

    @staticmethod
    def resolve_viewer(root, info):
        return info.context.viewer

    @staticmethod
    def resolve_node(root, info, id):
        require_viewer(info)
        parsed = parse_global_id(id)
        if parsed is None or parsed[0] not in NODE_LOADERS:
            return None
        type_name, pk = parsed
        return NODE_LOADERS[type_name](info.context).load(pk)

    @staticmethod
    def resolve_user(root, info, username):
        require_viewer(info)
        users = User.objects.named(username)  # in any case, as every lookup by username
        if info.context.optimized:
            users = gql_optimizer.query(users, info)
        return users.first()

    @staticmethod
    def resolve_friends_events(root, info, date, first=None, after=None):
        viewer = require_viewer(info)
        start, end = event_window(viewer, date)
        return FriendsEventsLoader(info.context).load((start, end, page_request(first, after)))

    @staticmethod
    def resolve_changes(root, info, since=None, first=None):
        return ChangeSetByPositionLoader(info.context).load(sync_request(info, since, first))

    @staticmethod
    def resolve_incoming_friend_requests(root, info, first=None, after=None):
        require_viewer(info)
        return IncomingFriendRequestsLoader(info.context).load(page_request(first, after))

    @staticmethod
    def resolve_export_job(root, info, id):
        require_viewer(info)
        return VisibleExportJobByIdLoader(info.context).load(pk_from_global_id(id, "ExportJob", field="id"))
