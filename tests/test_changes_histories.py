"""Delta sync over every short history of one friendship and one event: the cases random
histories (tests/test_changes_property.py) reach too rarely to be relied on.

vera (the viewer) and fred are friends at first, or not; fred has a steady event, and one
shown to friends that he hides and shows again, or deletes and replaces, while the two
become friends and stop being friends, and vera's device takes one page or syncs
completely in between. Every
sequence of up to DEPTH such steps is played (depth first, each step in a savepoint
rolled back before its sibling), and after each one a complete sync from the device's
state must leave it holding exactly a full fetch of its scope, no answer naming an event
that was never in vera's scope. This checks the shown periods of calendarapp.changes: an
event hidden before the friendship began or shown only after it ended is never named,
and one the device may hold always goes, whatever periods came after.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import transaction

from calendarapp import services
from calendarapp.models import Event, Friendship, User
from schema.ids import parse_global_id
from tests.conftest import GraphQLClient, World, utc
from tests.sync_client import SyncClient, full_fetch

# 5 steps to a depth of 4: 781 histories (the empty one included) from each start, measured
# on the project's 2-core machine while others worked on it: 8 s each on SQLite, 17 s each
# on PostgreSQL. A depth of 6 (19,531 from each) passes too, in minutes.
STEPS = ("hide or show again", "replace", "befriend or unfriend", "one page", "complete sync")
DEPTH = 4
NINE = utc(2026, 11, 23, 9)


@contextmanager
def rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


class Histories:
    """The world of one history, and the depth-first walk over all of them."""

    def __init__(self, gql: GraphQLClient, vera: User, fred: User, token: str) -> None:
        self.gql, self.vera, self.fred, self.token = gql, vera, fred, token
        self.device = SyncClient(gql, token)
        self.event = World().event(fred, NINE, hours=0, title="Flipped")
        self.ever_in_scope: set[int] = set()  # every event in vera's scope after some step
        self.played = 0

    def walk(self, history: tuple[str, ...] = ()) -> None:
        self.note_the_scope()
        self.check_a_complete_sync_from_here(history)
        self.played += 1
        if len(history) == DEPTH:
            return
        for step in STEPS:
            saved = (copy.deepcopy(self.device.cache), self.device.cursor, set(self.ever_in_scope), self.event)
            with rolled_back():
                self.play(step, history)
                self.walk((*history, step))
            self.device.cache, self.device.cursor, self.ever_in_scope, self.event = saved

    def play(self, step: str, history: tuple[str, ...]) -> None:
        with transaction.atomic():  # each write in a savepoint, as a mutation runs
            if step == "hide or show again":
                visibility = "FRIENDS" if self.event.visibility == "PRIVATE" else "PRIVATE"
                self.event = services.update_event(self.fred, self.event.pk, visibility=visibility)
            elif step == "replace":
                services.delete_event(self.fred, self.event.pk)
                self.event = services.create_event(
                    self.fred, title="Flipped", starts_at=NINE, ends_at=NINE, visibility="FRIENDS"
                )
            elif step == "befriend or unfriend":
                self.befriend_or_unfriend()
        if step == "one page":
            self.check_names((self.device.fetch_page(first=1),), history)
        elif step == "complete sync":
            self.check_names(self.device.sync(first=1), history)

    def befriend_or_unfriend(self) -> None:
        if Friendship.objects.filter(user=self.vera, friend=self.fred).exists():
            services.remove_friend(self.fred, self.vera.pk)
        else:
            request = services.send_friend_request(self.vera, self.fred.username)
            services.respond_to_friend_request(self.fred, request.pk, accept=True)

    def note_the_scope(self) -> None:
        self.ever_in_scope.update(Event.objects.in_sync_scope(self.vera).values_list("pk", flat=True))

    def check_a_complete_sync_from_here(self, history: tuple[str, ...]) -> None:
        device = SyncClient(self.gql, self.token)
        device.cache, device.cursor = copy.deepcopy(self.device.cache), self.device.cursor
        self.check_names(device.sync(first=1), history)
        assert device.cache == full_fetch(self.vera), f"after {history}"

    def check_names(self, answers: tuple[dict, ...] | list[dict], history: tuple[str, ...]) -> None:
        for answer in answers:
            for global_id in [event["id"] for event in answer["events"]] + answer["removedEventIds"]:
                event_id = parse_global_id(global_id)[1]
                assert event_id in self.ever_in_scope, f"event {event_id} never in scope, after {history}"


@pytest.mark.parametrize("friends_at_first", [True, False], ids=["friends at first", "strangers at first"])
def test_every_short_history_of_one_friendship_and_one_event(gql, world: World, friends_at_first):
    vera, fred = world.user("vera"), world.user("fred")
    if friends_at_first:
        world.befriend(vera, fred)
    world.event(fred, NINE, hours=0, title="Steady")
    histories = Histories(gql, vera, fred, world.token(vera))
    started = time.perf_counter()

    histories.walk()

    assert histories.played == sum(len(STEPS) ** depth for depth in range(DEPTH + 1))
    print(f"{histories.played} histories in {time.perf_counter() - started:.1f} s")
