"""Delta sync: a page of changes (calendarapp.changes) with its changed events loaded
through the visibility rule, so their fields (owner, attendeeCount, viewerRsvp) batch
as on every other path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from calendarapp.changes import Position, changes_since
from calendarapp.models import Event

from .base import DataLoader
from .events import VisibleEventByIdLoader
from .rows import Row, shape_of


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What the `changes` field resolves to."""

    cursor: str
    has_more: bool
    events: list[Row]
    removed_ids: list[int]


class ChangeSetByPositionLoader(DataLoader[tuple[Position, int], ChangeSet]):
    """The viewer's changes after a position. Key: (Position, first)."""

    def batch_load(self, keys: Sequence[tuple[Position, int]]) -> list[ChangeSet]:
        return [self._change_set(position, first) for position, first in keys]

    def _change_set(self, position: Position, first: int) -> ChangeSet:
        page = changes_since(self.viewer, position, first)
        visible = Event.objects.visible_to(self.viewer).filter(pk__in=page.changed_ids)
        found = {event.pk: event for event in shape_of(Event).rows(visible)}
        loader = VisibleEventByIdLoader(self.context)
        for event in found.values():
            loader.prime(event.pk, event)
        # An event changed again since the page was read (deleted, hidden) may be gone:
        # that change is numbered after the page, so the next sync reports it.
        events = [found[event_id] for event_id in page.changed_ids if event_id in found]
        return ChangeSet(page.next_position.to_cursor(), page.has_more, events, page.removed_ids)
