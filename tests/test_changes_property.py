"""Delta sync as a property: whatever four users do, in whatever order, a client that
applies every answer of `changes` (through the GraphQL endpoint, in pages of 1 to 5)
ends each complete sync holding exactly a full fetch of its scope; and no answer ever
names an event that was never in the viewer's scope (one its owner's friends could not
see while the viewer was one of them): no device of the viewer could have held it.
tests/test_changes_histories.py plays every short history of one event and one
friendship, which these random ones rarely reach.

Hypothesis plays random sequences of creates, edits, visibility changes, deletions,
RSVPs, friendships made and ended (by the viewer and by others), single pages and
complete syncs. Each example runs in a savepoint rolled back at its end, so each starts
from the same four users and the same small world.
"""

from __future__ import annotations

import time

from django.db import reset_queries, transaction
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from calendarapp import services
from calendarapp.ids import parse_global_id
from calendarapp.models import Event, Friendship, User
from tests.conftest import GraphQLClient, World, utc
from tests.sync_client import SyncClient, full_fetch

# 300 examples (hypothesis runs 323 with these settings), measured on the project's 2-core
# machine while others worked on it: 28 s on SQLite, 51 s on PostgreSQL; noting the scope
# after every step added about a tenth (62 s against 56 s, side by side on SQLite).
MAX_EXAMPLES = 300
STEPS_PER_EXAMPLE = 25
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    stateful_step_count=STEPS_PER_EXAMPLE,
    derandomize=True,  # the same examples on every run: CI is deterministic
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

NAMES = ("vera", "fred", "fiona", "stan")  # vera is the viewer
VISIBILITIES = ("PUBLIC", "FRIENDS", "PRIVATE")
TITLES = ("Lunch", "Gym", "Standup")
RSVP_STATUSES = ("GOING", "MAYBE", "DECLINED", None)
NINE = utc(2026, 11, 23, 9)

users = st.integers(min_value=0, max_value=len(NAMES) - 1)
others = st.integers(min_value=1, max_value=len(NAMES) - 1)
picks = st.integers(min_value=0, max_value=1000)  # an existing event, by position
pages = st.integers(min_value=1, max_value=5)


class DeltaSyncMachine(RuleBasedStateMachine):
    examples_run = 0

    def __init__(self, gql: GraphQLClient, people: list[User], token: str) -> None:
        super().__init__()
        self.people = people
        self.person = {user.pk: user for user in people}
        self.viewer = people[0]
        self.client = SyncClient(gql, token)
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()
        self.owner_of: dict[int, int] = {}  # every event of the example, deleted ones too
        self.live: list[int] = []  # the events not deleted, oldest first
        # Every event that was in the viewer's scope after some step: what a device syncing
        # then would have held, so the only ids an answer may ever name.
        self.ever_in_scope: set[int] = set()
        self.start_small_world()

    def start_small_world(self) -> None:
        """vera and fred are friends, and so are fred and fiona; fred has two events, fiona
        and vera one each. Built directly (numbered as the services number their writes)."""
        world = World()
        vera, fred, fiona, _ = self.people
        world.befriend(vera, fred)
        world.befriend(fred, fiona)
        for owner, visibility in ((fred, "FRIENDS"), (fred, "PUBLIC"), (fiona, "FRIENDS"), (vera, "PRIVATE")):
            self.track(world.event(owner, NINE, hours=0, visibility=visibility, title=TITLES[0]))

    def teardown(self) -> None:
        try:
            self.complete_sync(first=5)
        finally:
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)
            reset_queries()  # the test client's query log would fill up over hundreds of examples
            DeltaSyncMachine.examples_run += 1

    # --- writes, each in a savepoint as a mutation runs ---------------------------------

    def live_event(self, pick: int) -> tuple[int, User]:
        """An existing event, by position, and its owner (tracked here, without a query)."""
        event_id = self.live[pick % len(self.live)]
        return event_id, self.person[self.owner_of[event_id]]

    def has_events(self) -> bool:
        return bool(self.live)

    @rule(owner=users, visibility=st.sampled_from(VISIBILITIES), title=st.sampled_from(TITLES))
    def create_event(self, owner, visibility, title):
        with transaction.atomic():
            event = services.create_event(
                self.people[owner], title=title, starts_at=NINE, ends_at=NINE, visibility=visibility
            )
        self.track(event)

    def track(self, event: Event) -> None:
        self.owner_of[event.pk] = event.owner_id
        self.live.append(event.pk)

    @precondition(has_events)
    @rule(pick=picks, title=st.sampled_from(TITLES))
    def edit_title(self, pick, title):
        event_id, owner = self.live_event(pick)
        with transaction.atomic():
            services.update_event(owner, event_id, title=title)

    @precondition(has_events)
    @rule(pick=picks, visibility=st.sampled_from(VISIBILITIES))
    def change_visibility(self, pick, visibility):
        event_id, owner = self.live_event(pick)
        with transaction.atomic():
            services.update_event(owner, event_id, visibility=visibility)

    @precondition(has_events)
    @rule(pick=picks)
    def delete_event(self, pick):
        event_id, owner = self.live_event(pick)
        with transaction.atomic():
            services.delete_event(owner, event_id)
        self.live.remove(event_id)

    @precondition(has_events)
    @rule(who=users, pick=picks, status=st.sampled_from(RSVP_STATUSES))
    def rsvp(self, who, pick, status):
        event_id, _ = self.live_event(pick)
        try:
            with transaction.atomic():
                services.set_rsvp(self.people[who], event_id, status)
        except Event.DoesNotExist:  # an event this user may not see: the mutation refuses it
            pass

    @rule(other=others, viewer_acts=st.booleans())
    def toggle_viewer_friendship(self, other, viewer_acts):
        """The viewer and `other` become friends, or stop being friends; `viewer_acts`
        says which of the two asks (or ends it)."""
        viewer, friend = self.viewer, self.people[other]
        if viewer_acts:
            self.toggle(viewer, friend)
        else:
            self.toggle(friend, viewer)

    @rule(a=others, b=others)
    def toggle_others_friendship(self, a, b):
        if a != b:
            self.toggle(self.people[a], self.people[b])

    def toggle(self, actor: User, other: User) -> None:
        with transaction.atomic():
            if Friendship.objects.filter(user=actor, friend=other).exists():
                services.remove_friend(actor, other.pk)
            else:
                request = services.send_friend_request(actor, other.username)
                services.respond_to_friend_request(other, request.pk, accept=True)

    @invariant()
    def note_the_viewers_scope(self) -> None:
        """After every step (each write is one transaction, so every state a sync can read)."""
        self.ever_in_scope.update(Event.objects.in_sync_scope(self.viewer).values_list("pk", flat=True))

    # --- syncs ------------------------------------------------------------------------

    @rule(first=pages)
    def sync_one_page(self, first):
        self.check_names_only_events_the_viewer_may_hold(self.client.fetch_page(first))

    @rule(first=pages)
    def complete_sync(self, first):
        for answer in self.client.sync(first):
            self.check_names_only_events_the_viewer_may_hold(answer)
        assert self.client.cache == full_fetch(self.viewer)

    def check_names_only_events_the_viewer_may_hold(self, answer: dict) -> None:
        for global_id in [event["id"] for event in answer["events"]] + answer["removedEventIds"]:
            event_id = parse_global_id(global_id)[1]
            assert event_id in self.ever_in_scope, f"event {event_id} was never in the viewer's scope"


def test_every_complete_sync_leaves_the_client_holding_exactly_its_scope(gql, world: World):
    people = [world.user(name) for name in NAMES]
    token = world.token(people[0])
    DeltaSyncMachine.examples_run = 0
    started = time.perf_counter()

    run_state_machine_as_test(lambda: DeltaSyncMachine(gql, people, token), settings=SETTINGS)

    assert DeltaSyncMachine.examples_run >= MAX_EXAMPLES
    print(f"{DeltaSyncMachine.examples_run} examples in {time.perf_counter() - started:.1f} s")
