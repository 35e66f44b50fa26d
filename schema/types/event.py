from __future__ import annotations

import graphene
import graphene_django_optimizer as gql_optimizer
from graphene_django import DjangoObjectType

from calendarapp.models import Event
from loaders.events import AttendeeCountByEventIdLoader, AttendeesByEventIdLoader, ViewerRsvpByEventIdLoader
from loaders.users import UserByIdLoader

from ..context import require_viewer
from ..enums import RsvpStatus, Visibility
from ..pagination import CountableConnection, connection_field, page_request
from ..scalars import DateTime
from .common import loader_field, needs_only_pk, related_or_load
from .node import Node


class EventType(DjangoObjectType):
    class Meta:
        model = Event
        name = "Event"
        interfaces = (Node,)
        fields = ("id", "title", "description", "location", "all_day", "created_at", "updated_at")

    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    created_at = DateTime(required=True)
    updated_at = DateTime(required=True)
    visibility = Visibility(required=True)
    owner = graphene.Field("schema.types.user.UserType", required=True)
    attendees = connection_field("schema.types.user.UserConnection", description="Users whose RSVP is GOING.")
    attendee_count = graphene.Int(required=True, description="Users whose RSVP is GOING.")
    viewer_rsvp = RsvpStatus()

    @staticmethod
    @gql_optimizer.resolver_hints(select_related=("owner",), only=("owner_id",))
    def resolve_owner(root: Event, info):
        return related_or_load(root, "owner", UserByIdLoader, info)

    @staticmethod
    @needs_only_pk
    def resolve_attendees(root: Event, info, first=None, after=None):
        require_viewer(info)
        return AttendeesByEventIdLoader(info.context).load((root.pk, page_request(first, after)))

    resolve_attendee_count = staticmethod(loader_field(AttendeeCountByEventIdLoader))
    resolve_viewer_rsvp = staticmethod(loader_field(ViewerRsvpByEventIdLoader))


class EventConnection(CountableConnection):
    class Meta:
        node = EventType
