"""Loaders of events and RSVPs. Every event query starts from
`Event.objects.visible_to(viewer)`: the one visibility rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from calendarapp.models import Event, Rsvp

from .aggregates import counts_by
from .base import DataLoader, group_by_arguments
from .pagination import Page, PageRequest, fetch_pages
from .users import friend_columns, prime_users

EVENT_ORDER = ("starts_at", "id")
Window = tuple[dt.datetime | None, dt.datetime | None]  # [start, end) in UTC; None is open


class VisibleEventByIdLoader(DataLoader):
    """The event with each id, or None when the viewer may not see it."""

    def batch_load(self, keys: Sequence[int]) -> list[Event | None]:
        events = Event.objects.visible_to(self.viewer).in_bulk(keys)
        return [events.get(key) for key in keys]


class EventsByOwnerIdLoader(DataLoader):
    """A page of each owner's visible events overlapping a window. Key: (owner_id, start, end, PageRequest)."""

    def batch_load(self, keys: Sequence[tuple]) -> list[Page]:
        pages = {}
        for (start, end, request), owner_ids in group_by_arguments(keys).items():
            events = Event.objects.visible_to(self.viewer).overlapping(start, end)
            for owner_id, page in fetch_pages(events, "owner_id", owner_ids, EVENT_ORDER, request).items():
                pages[(owner_id, start, end, request)] = page
        return [pages[key] for key in keys]


class EventCountByOwnerIdLoader(DataLoader):
    """How many of each owner's events the viewer sees in a window. Key: (owner_id, start, end)."""

    def batch_load(self, keys: Sequence[tuple]) -> list[int]:
        counts = {}
        for (start, end), owner_ids in group_by_arguments(keys).items():
            events = Event.objects.visible_to(self.viewer).overlapping(start, end)
            for owner_id, count in zip(owner_ids, counts_by(events, "owner_id", owner_ids), strict=True):
                counts[(owner_id, start, end)] = count
        return [counts[key] for key in keys]


class FriendsEventsLoader(DataLoader):
    """The home screen's feed: a page of all the viewer's friends' visible events
    overlapping a window. Key: (start, end, PageRequest)."""

    def batch_load(self, keys: Sequence[tuple]) -> list[Page]:
        return [self._page(start, end, request) for start, end, request in keys]

    def _page(self, start, end, request: PageRequest) -> Page:
        events = Event.objects.of_friends_visible_to(self.viewer).overlapping(start, end)
        return fetch_pages(events, None, [None], EVENT_ORDER, request)[None]


class AttendeeCountByEventIdLoader(DataLoader):
    """How many users are GOING to each event."""

    def batch_load(self, keys: Sequence[int]) -> list[int]:
        return counts_by(Rsvp.objects.filter(status=Rsvp.Status.GOING), "event_id", keys)


class AttendeesByEventIdLoader(DataLoader):
    """A page of the users GOING to each event. Key: (event_id, PageRequest)."""

    def batch_load(self, keys: Sequence[tuple]) -> list[Page]:
        pages = {}
        for (request,), event_ids in group_by_arguments(keys).items():
            rsvps = (
                Rsvp.objects.filter(status=Rsvp.Status.GOING)
                .select_related("user")
                .only("event_id", *friend_columns("user"))
            )
            found = fetch_pages(rsvps, "event_id", event_ids, ("user__display_name", "user_id"), request, _rsvp_user)
            for event_id, page in found.items():
                pages[(event_id, request)] = page
                prime_users(self.context, (edge.node for edge in page.edges))
        return [pages[key] for key in keys]


def _rsvp_user(rsvp: Rsvp):
    return rsvp.user


class ViewerRsvpByEventIdLoader(DataLoader):
    """The viewer's RSVP status for each event, or None."""

    def batch_load(self, keys: Sequence[int]) -> list[str | None]:
        statuses = dict(Rsvp.objects.filter(user=self.viewer, event_id__in=keys).values_list("event_id", "status"))
        return [statuses.get(key) for key in keys]
