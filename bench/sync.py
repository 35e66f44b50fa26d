"""The delta-sync page of the bench: what `changes` costs the power user's device.

At each size, in a fresh process (as bench/measure.py does for the other operations):

- **full sync**: the app's first sync (tests/operations/sync.graphql) from no cursor,
  paged with first=500 until hasMore is false, through the real view with a Bearer
  token, `full_syncs` times: each page's time and SQL statements (counted by a wrapper:
  one call per statement, nothing next to a page's milliseconds), and the whole sync's
  time. A full sync at 5,000 friends is hundreds of pages, so its pages are the samples
  and one sync is the default. The device must end up holding exactly
  `Event.objects.in_sync_scope(power)`.
- **incremental sync**: from the full sync's last cursor, after a few edits by friends
  (titles changed, an event hidden, one deleted, an RSVP), `repeats` times (a sync only
  reads: each repeat answers the same), after one warm-up. The device must again hold
  exactly the scope. The edits run in a transaction rolled back at the end, so the bench
  database is left as seeded.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from .environment import configure_django
from .measure import StatementCounter, summary
from .operations import OPERATIONS_DIR

PAGE_SIZE = 500
EDITED_TITLES = 5
# What the incremental sync must hold after edit_a_few_events: the retitled events and
# the one answered; the hidden and the deleted one as removals.
EXPECTED_CHANGED, EXPECTED_REMOVED = EDITED_TITLES + 1, 2


@dataclass(frozen=True)
class SyncSpec:
    database_url: str
    token: str
    full_syncs: int
    repeats: int


@dataclass
class Device:
    """The app's cache of synced events, as ids, and its cursor."""

    cursor: str | None = None
    held: set[str] = field(default_factory=set)

    def apply(self, changes: dict[str, Any]) -> None:
        self.held.update(event["id"] for event in changes["events"])
        self.held.difference_update(changes["removedEventIds"])
        self.cursor = changes["cursor"]


class SyncRunner:
    """POSTs the sync operation to the real view with the power user's token."""

    def __init__(self, token: str) -> None:
        from django.test import RequestFactory

        from schema.view import GraphQLView

        self.view = GraphQLView.as_view()
        self.factory = RequestFactory()
        self.token = token
        self.query = (OPERATIONS_DIR / "sync.graphql").read_text()

    def request(self, cursor: str | None):
        payload = json.dumps({"query": self.query, "variables": {"since": cursor, "first": PAGE_SIZE}})
        return self.factory.post(
            "/graphql", payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {self.token}"
        )

    def answer(self, request) -> dict[str, Any]:
        response = self.view(request)
        document = json.loads(response.content)
        if response.status_code != 200 or document.get("errors"):
            raise RuntimeError(f"sync: HTTP {response.status_code}: {response.content[:2000]!r}")
        return document["data"]["changes"]

    def page(self, device: Device) -> tuple[dict[str, Any], float, int]:
        """One page from the device's cursor, applied: (answer, milliseconds, SQL statements)."""
        from django.db import connection

        counter = StatementCounter()
        request = self.request(device.cursor)
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            changes = self.answer(request)
        elapsed = (time.perf_counter() - started) * 1000
        device.apply(changes)
        return changes, elapsed, counter.count


def measure_sync(spec: SyncSpec) -> dict[str, Any]:
    """Both syncs at the seeded size; runs in a fresh process."""
    configure_django(spec.database_url)
    runner = SyncRunner(spec.token)
    syncs = [full_sync(runner) for _ in range(max(spec.full_syncs, 1))]
    return {
        "page_size": PAGE_SIZE,
        "full": full_figures(syncs),
        "incremental": incremental_sync(runner, syncs[-1]["device"], spec.repeats),
    }


def full_sync(runner: SyncRunner) -> dict[str, Any]:
    device, pages = Device(), []
    while True:
        changes, ms, statements = runner.page(device)
        pages.append({"ms": ms, "sql": statements, "events": len(changes["events"])})
        if not changes["hasMore"]:
            return {"device": device, "pages": pages}


def full_figures(syncs: list[dict[str, Any]]) -> dict[str, Any]:
    pages = [page for sync in syncs for page in sync["pages"]]
    return {
        "syncs": len(syncs),
        "pages": len(syncs[0]["pages"]),
        "events": sum(page["events"] for page in syncs[0]["pages"]),
        "sql_per_page_seen": sorted({page["sql"] for page in pages}),
        "page_ms": summary([page["ms"] for page in pages]),
        # The first page, what a device waits for before it shows anything (the largest scope left).
        "first_page_ms": summary([sync["pages"][0]["ms"] for sync in syncs]),
        "sync_ms": summary([sum(page["ms"] for page in sync["pages"]) for sync in syncs]),
        "holds_scope": all(holds_scope(sync["device"]) for sync in syncs),
    }


def incremental_sync(runner: SyncRunner, synced: Device, repeats: int) -> dict[str, Any]:
    """The sync after a few edits, from where the full sync left `synced`."""
    from django.db import transaction

    with transaction.atomic():
        edit_a_few_events(power_user())
        device = Device(cursor=synced.cursor, held=set(synced.held))
        changes, _, statements = runner.page(device)
        if changes["hasMore"]:
            raise RuntimeError("A few edits should fit in one page.")
        samples = [runner.page(Device(cursor=synced.cursor))[1] for _ in range(repeats + 1)][1:]
        figures = {
            "events": len(changes["events"]),
            "removed": len(changes["removedEventIds"]),
            "sql": statements,
            "ms": summary(samples),
            "holds_scope": holds_scope(device),
        }
        transaction.set_rollback(True)
    return figures


def edit_a_few_events(power) -> None:
    """What friends do between two syncs: retitle a few events, hide one, delete one;
    and the power user answers one."""
    from calendarapp import services
    from calendarapp.models import Event

    events = list(Event.objects.of_friends_visible_to(power).order_by("id")[: EDITED_TITLES + 3])
    for event in events[:EDITED_TITLES]:
        services.update_event(event.owner, event.pk, title=f"{event.title} (moved)")
    hidden, deleted, answered = events[EDITED_TITLES:]
    services.update_event(hidden.owner, hidden.pk, visibility="PRIVATE")
    services.delete_event(deleted.owner, deleted.pk)
    services.set_rsvp(power, answered.pk, "GOING")


def power_user():
    from calendarapp.management.commands.seed_demo import POWER_USERNAME
    from calendarapp.models import User

    return User.objects.get(username=POWER_USERNAME)


def scope_ids(power) -> set[str]:
    from calendarapp.ids import global_id
    from calendarapp.models import Event

    return {global_id("Event", pk) for pk in Event.objects.in_sync_scope(power).values_list("pk", flat=True)}


def holds_scope(device: Device) -> bool:
    """Whether the device holds exactly what a full fetch of the scope shows now."""
    return device.held == scope_ids(power_user())
