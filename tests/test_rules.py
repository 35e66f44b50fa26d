"""The visibility rule's two query shapes must select the same events."""

from __future__ import annotations

import itertools

from calendarapp.models import Event, Visibility
from calendarapp.rules import friend_ids_of
from tests.conftest import utc


def test_friends_events_shape_equals_visible_to_narrowed_to_friends(world):
    viewer, friend, other_friend, stranger = (world.user(name) for name in ("viewer", "fay", "fred", "sam"))
    world.befriend(viewer, friend)
    world.befriend(viewer, other_friend)
    world.befriend(friend, stranger)  # a friend of a friend is still a stranger
    for owner, visibility in itertools.product((viewer, friend, other_friend, stranger), Visibility.values):
        world.event(owner, utc(2026, 11, 23, 9), visibility=visibility, title=f"{owner.username} {visibility}")

    narrowed = Event.objects.visible_to(viewer).filter(owner__in=friend_ids_of(viewer))
    shape = Event.objects.of_friends_visible_to(viewer)

    assert set(shape) == set(narrowed)
    assert sorted(shape.values_list("title", flat=True)) == [
        "fay FRIENDS",
        "fay PUBLIC",
        "fred FRIENDS",
        "fred PUBLIC",
    ]
