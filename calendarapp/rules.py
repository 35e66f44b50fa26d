"""Who sees what: the visibility rules of docs/api.md, written once.

Every path that reads events or friend requests (types, `node`, connections,
loaders, mutations) starts from these querysets; none repeats the rule.

- The owner sees all their events.
- A friend sees the owner's PUBLIC and FRIENDS events.
- Anyone else sees PUBLIC events only.
- Delta sync (`changes`) keeps the viewer's own events and the friends' events the
  viewer sees: not strangers' PUBLIC events (calendarapp.changes applies SEEN_BY_FRIENDS).
- A friend request is seen by its sender and its recipient.
- An export job (and its file) is seen by its owner only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import apps
from django.db import models

if TYPE_CHECKING:
    from .models import User


def friend_ids_of(user: User | int) -> models.QuerySet:
    """A subquery of the ids of `user`'s friends (no SQL runs until it is used)."""
    friendship = apps.get_model("calendarapp", "Friendship")
    return friendship.objects.filter(user=user).values("friend_id")


def can_list_friends(viewer: User, user_id: int, viewer_is_friend: bool) -> bool:
    """A user's friends are listed to the user and to their friends only."""
    return viewer.pk == user_id or viewer_is_friend


# The rule itself: which visibilities a viewer sees, by relationship to the owner.
# (The owner sees every visibility.)
SEEN_BY_FRIENDS = ("PUBLIC", "FRIENDS")
SEEN_BY_ANYONE = ("PUBLIC",)


def seen_by_friends(visibility: str) -> bool:
    """Whether the owner's friends see an event of this visibility."""
    return visibility in SEEN_BY_FRIENDS


class EventQuerySet(models.QuerySet):
    def visible_to(self, viewer: User) -> EventQuerySet:
        return self.filter(
            models.Q(owner=viewer)
            | models.Q(visibility__in=SEEN_BY_ANYONE)
            | models.Q(visibility__in=SEEN_BY_FRIENDS, owner__in=friend_ids_of(viewer))
        )

    def of_friends_visible_to(self, viewer: User) -> EventQuerySet:
        """`visible_to(viewer)` narrowed to the events of the viewer's friends (the
        viewer's own excluded), the same rule written so that PostgreSQL drives the
        query from the friend list instead of testing every event against an OR."""
        return self.filter(owner__in=friend_ids_of(viewer), visibility__in=SEEN_BY_FRIENDS)

    def in_sync_scope(self, viewer: User) -> EventQuerySet:
        """What delta sync keeps on the viewer's device: the viewer's own events and the
        events of the viewer's friends that the viewer may see."""
        return self.filter(
            models.Q(owner=viewer) | models.Q(owner__in=friend_ids_of(viewer), visibility__in=SEEN_BY_FRIENDS)
        )

    def overlapping(self, start, end) -> EventQuerySet:
        """Events overlapping [start, end); either bound may be None (open)."""
        queryset = self
        if end is not None:
            queryset = queryset.filter(starts_at__lt=end)
        if start is not None:
            queryset = queryset.filter(ends_at__gt=start)
        return queryset


class FriendRequestQuerySet(models.QuerySet):
    def visible_to(self, viewer: User) -> FriendRequestQuerySet:
        return self.filter(models.Q(from_user=viewer) | models.Q(to_user=viewer))


class ExportJobQuerySet(models.QuerySet):
    def visible_to(self, viewer: User) -> ExportJobQuerySet:
        """An export, and the file it makes, are its owner's only."""
        return self.filter(owner=viewer)
