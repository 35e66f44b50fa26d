"""A delta-sync client as the mobile app has one: a cache of events by id, kept up to
date through the `changes` query of the GraphQL endpoint, and the full fetch of the
sync scope it must end up equal to."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from calendarapp.ids import global_id
from calendarapp.models import Event, Rsvp, User
from schema.scalars import DateTime
from tests.conftest import GraphQLClient

SYNC = """
query Sync($since: String, $first: Int) {
  changes(since: $since, first: $first) {
    cursor hasMore removedEventIds
    events { id title visibility updatedAt attendeeCount viewerRsvp owner { id } }
  }
}
"""


class SyncClient:
    """One device of one user: its cache (global id -> event fields) and its cursor."""

    def __init__(self, gql: GraphQLClient, token: str) -> None:
        self.gql = gql
        self.token = token
        self.cache: dict[str, dict[str, Any]] = {}
        self.cursor: str | None = None

    def fetch_page(self, first: int | None = None) -> dict[str, Any]:
        """One answer of `changes` from the current cursor, applied to the cache."""
        changes = self.gql(SYNC, {"since": self.cursor, "first": first}, token=self.token).ok()["changes"]
        for event in changes["events"]:
            self.cache[event["id"]] = event
        for event_id in changes["removedEventIds"]:
            self.cache.pop(event_id, None)
        self.cursor = changes["cursor"]
        return changes

    def sync(self, first: int | None = None, max_pages: int = 1000) -> list[dict[str, Any]]:
        """Pages until hasMore is false; every answer, in order."""
        answers = [self.fetch_page(first)]
        while answers[-1]["hasMore"]:
            assert len(answers) < max_pages, "the sync does not end"
            answers.append(self.fetch_page(first))
        return answers


def full_fetch(viewer: User) -> dict[str, dict[str, Any]]:
    """What a full fetch of the viewer's sync scope shows, in the cache's shape."""
    going = Count("rsvps", filter=Q(rsvps__status=Rsvp.Status.GOING))
    events = Event.objects.in_sync_scope(viewer).annotate(going=going)
    statuses = dict(Rsvp.objects.filter(user=viewer).values_list("event_id", "status"))
    return {
        global_id("Event", event.pk): {
            "id": global_id("Event", event.pk),
            "title": event.title,
            "visibility": event.visibility,
            "updatedAt": DateTime.serialize(event.updated_at),
            "attendeeCount": event.going,
            "viewerRsvp": statuses.get(event.pk),
            "owner": {"id": global_id("User", event.owner_id)},
        }
        for event in events
    }
