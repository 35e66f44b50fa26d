"""The root Query type."""

from __future__ import annotations

import graphene

from calendarapp.ids import parse_global_id
from loaders.changes import ChangeSetByPositionLoader
from loaders.events import FriendsEventsLoader, VisibleEventByIdLoader
from loaders.exports import VisibleExportJobByIdLoader
from loaders.filters import EventFilter
from loaders.friend_requests import IncomingFriendRequestsLoader, VisibleFriendRequestByIdLoader
from loaders.users import UserByIdLoader, UserByUsernameLoader

from .filters import filters, search_argument
from .ids import pk_from_global_id
from .pagination import connection_field, page_request
from .scalars import Date
from .types import EventConnection, ExportJobType, FriendRequestConnection, UserType
from .types.change_set import changes_field, sync_request
from .types.common import Batched, batched, batched_by, context_only
from .types.node import Node
from .windows import event_window

# The loader that fetches a node of each type, through the type's visibility rule.
NODE_LOADERS = {
    "User": UserByIdLoader,
    "Event": VisibleEventByIdLoader,
    "FriendRequest": VisibleFriendRequestByIdLoader,
    "ExportJob": VisibleExportJobByIdLoader,
}


def feed_arguments(context, date, search=None, first=None, after=None) -> tuple:
    """The loader key of `friendsEvents`: the day's window in the viewer's time zone, the filters, the page."""
    return (*event_window(context.viewer, date), filters(EventFilter, search=search), page_request(first, after))


def export_job_arguments(context, id) -> int:
    return pk_from_global_id(id, "ExportJob", field="id")


class NodeById(Batched):
    """`node(id:)`: the object of the ID's type and key through that type's loader (and so
    its visibility rule); null for an ID that is not one of ours or of no node type."""

    one_loader = False

    def __init__(self) -> None:
        super().__init__(None, parent_key=None, arguments=lambda _, id: parse_global_id(id))

    def locate(self, parent, arguments):
        if arguments is None or arguments[0] not in NODE_LOADERS:
            return None
        type_name, pk = arguments
        return NODE_LOADERS[type_name], pk


class Query(graphene.ObjectType):
    viewer = graphene.Field(UserType, description="The logged-in user; null when not logged in.")
    node = graphene.Field(Node, id=graphene.ID(required=True))
    user = graphene.Field(UserType, username=graphene.String(required=True))
    friends_events = connection_field(
        EventConnection,
        description="The day's events of all the viewer's friends (in the viewer's time zone), by startsAt, then id.",
        date=Date(required=True),
        search=search_argument("the title or the location"),
    )
    changes = changes_field()
    incoming_friend_requests = connection_field(FriendRequestConnection, description="Pending, oldest first.")
    export_job = graphene.Field(
        ExportJobType,
        id=graphene.ID(required=True),
        description="One of the viewer's exports (from requestEventsExport); null if there is none with this ID.",
    )

    @staticmethod
    @context_only
    def resolve_viewer(root, info):
        return info.context.viewer

    resolve_node = staticmethod(batched_by(NodeById()))

    resolve_user = staticmethod(batched(UserByUsernameLoader, parent_key=None, arguments=lambda _, username: username))

    resolve_friends_events = staticmethod(batched(FriendsEventsLoader, parent_key=None, arguments=feed_arguments))
    resolve_changes = staticmethod(batched(ChangeSetByPositionLoader, parent_key=None, arguments=sync_request))
    resolve_incoming_friend_requests = staticmethod(
        batched(IncomingFriendRequestsLoader, parent_key=None, arguments=lambda _, **page: page_request(**page))
    )
    resolve_export_job = staticmethod(
        batched(VisibleExportJobByIdLoader, parent_key=None, arguments=export_job_arguments)
    )
