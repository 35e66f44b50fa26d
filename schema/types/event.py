from __future__ import annotations

import graphene

from calendarapp.models import Event
from loaders.events import AttendeeCountByEventIdLoader, AttendeesByEventIdLoader, ViewerRsvpByEventIdLoader
from loaders.users import UserByIdLoader

from ..enums import RsvpStatus, Visibility
from ..pagination import CountableConnection, connection_field, page_arguments
from ..scalars import DateTime
from .common import batched, related
from .node import Node
from .rows import RowAwareObjectType


class EventType(RowAwareObjectType):
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

    resolve_owner = staticmethod(related("owner", UserByIdLoader))
    resolve_attendees = staticmethod(batched(AttendeesByEventIdLoader, arguments=page_arguments))
    resolve_attendee_count = staticmethod(batched(AttendeeCountByEventIdLoader))
    resolve_viewer_rsvp = staticmethod(batched(ViewerRsvpByEventIdLoader))


class EventConnection(CountableConnection):
    class Meta:
        node = EventType
