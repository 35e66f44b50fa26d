"""Loaders of users and of friendships, relative to the request's viewer."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from django.db.models import Q

from calendarapp.models import Friendship, User
from calendarapp.rules import friend_ids_of

from .aggregates import counts_by
from .base import DataLoader, group_by_arguments
from .pagination import PageRequest, fetch_pages

# The columns a User object type can show; nothing else is read for other users.
USER_COLUMNS = ("id", "username", "display_name", "timezone", "avatar_url")


def friend_columns(relation: str) -> list[str]:
    return [f"{relation}__{column}" for column in USER_COLUMNS]


class UserByIdLoader(DataLoader):
    def batch_load(self, keys: Sequence[int]) -> list[User | None]:
        users = User.objects.only(*USER_COLUMNS).in_bulk(keys)
        return [users.get(key) for key in keys]


def prime_users(context, users) -> None:
    """Users fetched as part of another query need no query of their own later."""
    loader = UserByIdLoader(context)
    for user in users:
        loader.prime(user.pk, user)


class IsFriendByUserIdLoader(DataLoader):
    """Whether each user is a friend of the viewer (the viewer is not their own friend)."""

    def batch_load(self, keys: Sequence[int]) -> list[bool]:
        others = [key for key in keys if key != self.viewer.pk]
        friends = set()
        if others:
            friends = set(
                Friendship.objects.filter(user=self.viewer, friend_id__in=others).values_list("friend_id", flat=True)
            )
        return [key in friends for key in keys]


class FriendCountByUserIdLoader(DataLoader):
    def batch_load(self, keys: Sequence[int]) -> list[int]:
        return counts_by(Friendship.objects.all(), "user_id", keys)


class MutualFriendCountByUserIdLoader(DataLoader):
    """How many friends each user shares with the viewer."""

    def batch_load(self, keys: Sequence[int]) -> list[int]:
        shared = Friendship.objects.filter(friend_id__in=friend_ids_of(self.viewer))
        return counts_by(shared, "user_id", keys)


class FriendsByUserIdLoader(DataLoader):
    """A page of each user's friends, ordered by display name then id.

    Key: (user_id, search, PageRequest). Whether the viewer may list them is
    decided by the caller (`calendarapp.rules.can_list_friends`).
    """

    def batch_load(self, keys: Sequence[tuple[int, str | None, PageRequest]]) -> list:
        pages: dict[Hashable, object] = {}
        for (search, request), user_ids in group_by_arguments(keys).items():
            friendships = Friendship.objects.select_related("friend").only("user_id", *friend_columns("friend"))
            if search:
                friendships = friendships.filter(
                    Q(friend__display_name__icontains=search) | Q(friend__username__icontains=search)
                )
            found = fetch_pages(
                friendships,
                "user_id",
                user_ids,
                ("friend__display_name", "friend_id"),
                request,
                node_of=lambda friendship: friendship.friend,
            )
            for user_id, page in found.items():
                pages[(user_id, search, request)] = page
                prime_users(self.context, (edge.node for edge in page.edges))
        return [pages[key] for key in keys]
