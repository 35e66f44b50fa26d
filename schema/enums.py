import graphene

from calendarapp.models import Rsvp, Visibility as VisibilityChoices

Visibility = graphene.Enum.from_enum(VisibilityChoices, name="Visibility")
RsvpStatus = graphene.Enum.from_enum(Rsvp.Status, name="RsvpStatus")
