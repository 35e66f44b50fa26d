"""Loaders of users and of friendships, relative to the request's viewer."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from django.core.exceptions import PermissionDenied

from calendarapp.models import Friendship, User
from calendarapp.rules import can_list_friends, friend_ids_of
from calendarapp.usernames import username_key

from .aggregates import counts_by
from .base import DataLoader, group_by_arguments
from .filters import Filters
from .pagination import Page, PageRequest, fetch_pages
from .rows import Row, shape_of

NOT_LISTED = "Only this user and their friends may list their friends."


class UserByIdLoader(DataLoader[int, Row | None]):
    """Each user's row (the columns a User shows; nothing else is read of other users), or None."""

    def batch_load(self, keys: Sequence[int]) -> list[Row | None]:
        users = {user.pk: user for user in shape_of(User).rows(User.objects.filter(pk__in=keys))}
        return [users.get(key) for key in keys]


class UserByUsernameLoader(DataLoader[str, Row | None]):
    """The user with each username, in any case or Unicode form (calendarapp.usernames), or None."""

    def batch_load(self, keys: Sequence[str]) -> list[Row | None]:
        wanted = {key: username_key(key) for key in keys}
        shape = shape_of(User)
        found = User.objects.filter(username_key__in=set(wanted.values())).values_list(*shape.columns, "username_key")
        users = {values[-1]: shape.make(values[:-1]) for values in found}
        return [users.get(wanted[key]) for key in keys]


def prime_users(context, users) -> None:
    """Users fetched as part of another query need no query of their own later."""
    loader = UserByIdLoader(context)
    for user in users:
        loader.prime(user.pk, user)


class IsFriendByUserIdLoader(DataLoader[int, bool]):
    """Whether each user is a friend of the viewer (the viewer is not their own friend)."""

    def batch_load(self, keys: Sequence[int]) -> list[bool]:
        others = [key for key in keys if key != self.viewer.pk]
        friends = set()
        if others:
            friends = set(
                Friendship.objects.filter(user=self.viewer, friend_id__in=others).values_list("friend_id", flat=True)
            )
        return [key in friends for key in keys]


class FriendCountByUserIdLoader(DataLoader[int, int]):
    def batch_load(self, keys: Sequence[int]) -> list[int]:
        return counts_by(Friendship.objects.all(), "user_id", keys)


class MutualFriendCountByUserIdLoader(DataLoader[int, int]):
    """How many friends each user shares with the viewer."""

    def batch_load(self, keys: Sequence[int]) -> list[int]:
        shared = Friendship.objects.filter(friend_id__in=friend_ids_of(self.viewer))
        return counts_by(shared, "user_id", keys)


class FriendsByUserIdLoader(DataLoader[tuple[int, Filters, PageRequest], Page]):
    """A page of each user's friends, ordered by display name then id; for a user whose
    friends the viewer may not list (`calendarapp.rules.can_list_friends`), FORBIDDEN.

    Key: (user_id, Filters, PageRequest).
    """

    def batch_load(self, keys: Sequence[tuple[int, Filters, PageRequest]]) -> list[Page | Exception]:
        pages: dict[Hashable, Page | Exception] = {}
        is_friend = IsFriendByUserIdLoader(self.context).values([user_id for user_id, *_ in keys])
        for key, friend in zip(keys, is_friend, strict=True):
            if isinstance(friend, Exception) or not can_list_friends(self.viewer, key[0], friend):
                pages[key] = friend if isinstance(friend, Exception) else PermissionDenied(NOT_LISTED)
        listed = [key for key in keys if key not in pages]
        for (filters, request), user_ids in group_by_arguments(listed).items():
            friendships = filters.apply(Friendship.objects.all())
            found = fetch_pages(
                friendships,
                "user_id",
                user_ids,
                ("friend__display_name", "friend_id"),
                request,
                shape_of(User),
                prefix="friend__",
            )
            for user_id, page in found.items():
                pages[(user_id, filters, request)] = page
                prime_users(self.context, (edge.node for edge in page.edges))
        return [pages[key] for key in keys]
