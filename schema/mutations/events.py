from __future__ import annotations

import graphene

from calendarapp import services

from ..enums import RsvpStatus, Visibility
from ..ids import pk_from_global_id
from ..scalars import DateTime
from ..types import EventType
from .base import CalendarMutation


class EventPayloadMixin:
    event = graphene.Field(EventType, required=True)


class CreateEvent(EventPayloadMixin, CalendarMutation):
    class Input:
        title = graphene.String(required=True)
        starts_at = DateTime(required=True)
        ends_at = DateTime(required=True)
        # Optional, but never null: leaving one out takes its default.
        description = graphene.String(required=True, default_value="")
        location = graphene.String(required=True, default_value="")
        all_day = graphene.Boolean(required=True, default_value=False)
        visibility = Visibility(required=True, default_value=Visibility.FRIENDS.value)

    @classmethod
    def perform(cls, info, viewer, **fields):
        fields = {name: value for name, value in fields.items() if name in services.EVENT_FIELDS}
        return cls(event=services.create_event(viewer, **fields))


class UpdateEvent(EventPayloadMixin, CalendarMutation):
    class Input:
        id = graphene.ID(required=True)
        title = graphene.String()
        starts_at = DateTime()
        ends_at = DateTime()
        description = graphene.String()
        location = graphene.String()
        all_day = graphene.Boolean()
        visibility = Visibility()

    @classmethod
    def perform(cls, info, viewer, id, **fields):
        event_id = pk_from_global_id(id, "Event", field="id")
        fields = {name: value for name, value in fields.items() if name in services.EVENT_FIELDS}
        return cls(event=services.update_event(viewer, event_id, **fields))


class DeleteEvent(CalendarMutation):
    class Input:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID(required=True)

    @classmethod
    def perform(cls, info, viewer, id):
        services.delete_event(viewer, pk_from_global_id(id, "Event", field="id"))
        return cls(deleted_id=id)


# The `rsvp` mutation, named apart from the Rsvp model. No docstring: graphene would publish
# it as the payload's description. Its types keep the names clients know: graphene derives
# RsvpInput and RsvpPayload from Meta.name, not from the class's name.
class SetRsvp(EventPayloadMixin, CalendarMutation):
    class Meta:
        name = "RsvpPayload"

    class Input:
        event_id = graphene.ID(required=True)
        status = RsvpStatus(description="null clears the viewer's RSVP.")

    @classmethod
    def perform(cls, info, viewer, event_id, status=None):
        pk = pk_from_global_id(event_id, "Event", field="eventId")
        return cls(event=services.set_rsvp(viewer, pk, status))


__all__ = ["CreateEvent", "DeleteEvent", "SetRsvp", "UpdateEvent"]
