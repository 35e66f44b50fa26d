import graphene

from calendarapp.models import ExportJob, Rsvp, Visibility as VisibilityChoices

Visibility = graphene.Enum.from_enum(VisibilityChoices, name="Visibility")
RsvpStatus = graphene.Enum.from_enum(Rsvp.Status, name="RsvpStatus")
ExportStatus = graphene.Enum.from_enum(ExportJob.Status, name="ExportStatus")
