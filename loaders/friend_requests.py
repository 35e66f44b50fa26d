"""Loaders of friend requests, which only their sender and recipient see."""

from __future__ import annotations

from collections.abc import Sequence

from calendarapp.models import FriendRequest

from .base import DataLoader
from .pagination import Page, PageRequest, fetch_pages


class VisibleFriendRequestByIdLoader(DataLoader[int, FriendRequest | None]):
    def batch_load(self, keys: Sequence[int]) -> list[FriendRequest | None]:
        requests = FriendRequest.objects.visible_to(self.viewer).in_bulk(keys)
        return [requests.get(key) for key in keys]


class IncomingFriendRequestsLoader(DataLoader[PageRequest, Page]):
    """A page of the viewer's pending incoming requests, oldest first. Key: PageRequest."""

    def batch_load(self, keys: Sequence[PageRequest]) -> list[Page]:
        pending = FriendRequest.objects.visible_to(self.viewer).filter(
            to_user=self.viewer, status=FriendRequest.Status.PENDING
        )
        return [fetch_pages(pending, None, [None], ("created_at", "id"), request)[None] for request in keys]
