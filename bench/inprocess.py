"""`python -m bench`: the in-process benchmark of issue 3.

For each size (friends of the power user), it migrates and reseeds the bench database
(`seed_demo --friends N --events-per-day 10 --days 3 --reset`, then VACUUM ANALYZE so
every size is measured with fresh statistics and no dead rows), then measures each of
the app's main operations three ways, on the same data:

- ours: the real view (`GraphQLView.as_view()`);
- naive: the same schema on graphql-core's path with loaders that do not batch
  (`bench.naive.NaiveGraphQLView`), as a typical graphene-django project;
- floor: one hand-written SQL statement that builds the same JSON (bench/floor.py).

Then, at each size, delta sync (bench/sync.py): a full first sync paged with first=500
and an incremental sync after a few edits, ours only (there is no naive or floor sync).

It checks that the three answers are the same document, records SQL statements per
request, median and p90 latency over warm requests, response bytes, the peak Python
allocation of one request (tracemalloc) and the peak RSS of the process (ru_maxrss),
prints a table as it goes and writes everything to bench-output/inprocess.json.

Each measurement runs in a fresh process forked from a small fork server, so its peak
RSS is that of Python + Django + the app + its own requests, not of seeding or of the
other variants (a child started by fork+exec would inherit the parent's peak).

`--ci` is the small run of `.ci/run`: 10 and 100 friends, 3 repeats, naive at 10 only,
no report. It asserts SQL counts and answers, never times, and
exits 1 on a violation. `--operations` measures only some (e.g. `--operations sync`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import checks
from .environment import DEFAULT_DATABASE_URL, configure_django, ensure_database, machine
from .floor import FloorInput
from .measure import VARIANTS, Spec, measure
from .operations import DAY, OPERATION_NAMES, OPERATIONS, Operation, census, first_difference, same_document
from .sync import SyncSpec, measure_sync

FULL_SIZES = (10, 100, 1000, 5000)
SYNC = "sync"
MEASURABLE = (*OPERATION_NAMES, SYNC)
CI_SIZES = (10, 100)
EVENTS_PER_DAY = 10
DAYS = 3


@dataclass(frozen=True)
class Plan:
    """What to measure, from the command line."""

    sizes: tuple[int, ...]
    naive_sizes: tuple[int, ...]
    repeats: int
    naive_repeats: int
    warmups: int
    full_syncs: int
    operations: tuple[str, ...]
    database_url: str
    out: Path
    ci: bool

    @property
    def output_file(self) -> Path:
        # The CI run never overwrites the published run's figures.
        return self.out / ("inprocess-ci.json" if self.ci else "inprocess.json")

    def variants_at(self, friends: int) -> tuple[str, ...]:
        return tuple(v for v in VARIANTS if v != "naive" or friends in self.naive_sizes)

    def repeats_of(self, variant: str) -> tuple[int, int]:
        """(warm-up requests, timed requests) of a variant: naive is seconds per request."""
        if variant == "naive":
            return min(self.warmups, 1), self.naive_repeats
        return self.warmups, self.repeats


@dataclass(frozen=True)
class Fixture:
    """One seeded size: who asks, with what token, about which event."""

    friends: int
    token: str
    event_global_id: str
    floor_input: FloorInput
    seed: dict[str, Any]


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 10,100,1000, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be whole numbers >= 1")
    return sizes


def parse_operations(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in MEASURABLE]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(MEASURABLE)}, got {text!r}")
    return names


def parse_args(argv: list[str] | None) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, help="friends of the power user (default 10,100,1000,5000)")
    parser.add_argument("--naive-sizes", type=parse_sizes, help="sizes at which to run naive (default: all)")
    parser.add_argument("--repeats", type=int, help="timed requests for ours, floor and incremental sync (default 30)")
    parser.add_argument("--naive-repeats", type=int, help="timed requests for naive (default 3)")
    parser.add_argument("--warmups", type=int, help="warm-up requests before timing (default 3; naive 1)")
    parser.add_argument("--full-syncs", type=int, default=1, help="full syncs per size, every page timed (default 1)")
    parser.add_argument(
        "--operations", type=parse_operations, default=MEASURABLE, help=f"default {','.join(MEASURABLE)}"
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help=f"default {DEFAULT_DATABASE_URL}")
    parser.add_argument("--out", type=Path, default=Path("bench-output"), help="output folder (default bench-output)")
    parser.add_argument("--ci", action="store_true", help="small run for CI: asserts SQL counts, never times")
    args = parser.parse_args(argv)
    sizes = args.sizes or (CI_SIZES if args.ci else FULL_SIZES)
    naive_sizes = args.naive_sizes or ((min(sizes),) if args.ci else sizes)
    return Plan(
        sizes=sizes,
        naive_sizes=naive_sizes,
        repeats=args.repeats if args.repeats is not None else (3 if args.ci else 30),
        naive_repeats=args.naive_repeats if args.naive_repeats is not None else 3,
        warmups=args.warmups if args.warmups is not None else (1 if args.ci else 3),
        full_syncs=args.full_syncs,
        operations=args.operations,
        database_url=args.database_url,
        out=args.out,
        ci=args.ci,
    )


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    if ensure_database(plan.database_url):
        print(f"Created the bench database ({plan.database_url}).")
    configure_django(plan.database_url)
    run = new_run(plan)
    print_header()
    for friends in plan.sizes:
        fixture = prepare_size(friends)
        run["sizes"].append({"friends": friends, **fixture.seed, "event_detail_id": fixture.event_global_id})
        for operation in OPERATIONS:
            if operation.name in plan.operations:
                run["results"].extend(measure_operation(plan, fixture, operation))
        run["violations"].extend(data_changed(fixture))
        if SYNC in plan.operations:
            run["sync"].append(measure_delta_sync(plan, fixture))
    run["violations"] += checks.violations(run["results"]) + checks.sync_violations(run["sync"])
    run["load_average_end"] = os.getloadavg()
    write_output(plan.output_file, run)
    return report_violations(run["violations"])


def new_run(plan: Plan) -> dict[str, Any]:
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        # Other processes on the machine make times noisy: say how busy it was.
        "load_average_start": os.getloadavg(),
        "ci": plan.ci,
        "day": DAY,
        "seed": {"events_per_day": EVENTS_PER_DAY, "days": DAYS},
        "plan": {
            "sizes": list(plan.sizes),
            "naive_sizes": list(plan.naive_sizes),
            "repeats": plan.repeats,
            "naive_repeats": plan.naive_repeats,
            "warmups": plan.warmups,
            "full_syncs": plan.full_syncs,
            "operations": list(plan.operations),
        },
        "how": {
            "ours": "schema.view.GraphQLView.as_view(), RequestFactory POST with a Bearer token (auth included)",
            "naive": "bench.naive.NaiveGraphQLView.as_view(): graphql-core's path, loaders that do not batch",
            "floor": "one hand-written SQL statement building the same JSON (bench/floor.py); no auth",
            "latency": "wall clock of the view call (or execute + fetchone), warm, in one fresh process",
            "alloc_peak_bytes": "tracemalloc peak of one request, in a separate untimed pass",
            "rss_peak_kb": "ru_maxrss of the measuring process after its timed requests (lifetime peak)",
            "rss_base_kb": "ru_maxrss of the same process before its first request (Python + Django + app)",
            "sync": "bench/sync.py: a full first sync paged with first=500, and an incremental sync after a few edits",
        },
        "sizes": [],
        "results": [],
        "sync": [],
        "violations": [],
    }


def prepare_size(friends: int) -> Fixture:
    """Migrate, reseed at `friends` friends, refresh statistics; pick the viewer and event."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    enable_pgcrypto()
    started = time.perf_counter()
    output = io.StringIO()
    call_command("seed_demo", friends=friends, events_per_day=EVENTS_PER_DAY, days=DAYS, reset=True, stdout=output)
    seed_seconds = time.perf_counter() - started
    vacuum_analyze()
    fixture = build_fixture(friends, {"seed_seconds": round(seed_seconds, 1), "seed_output": output.getvalue().strip()})
    print(f"-- {friends} friends: {fixture.seed['seed_output']} (+ VACUUM ANALYZE)", flush=True)
    return fixture


def enable_pgcrypto() -> None:
    """The floor seals IDs with pgcrypto's AES, as the server does with Python's."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")


def vacuum_analyze() -> None:
    """Drop the previous size's dead rows and refresh the planner's statistics
    (a production database would have them; freshly bulk-loaded tables do not)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def build_fixture(friends: int, seed: dict[str, Any]) -> Fixture:
    from calendarapp.ids import current_key, global_id
    from calendarapp.management.commands.seed_demo import POWER_USERNAME
    from calendarapp.models import AuthToken, User
    from calendarapp.timezones import day_bounds

    power = User.objects.get(username=POWER_USERNAME)
    day_start, day_end = day_bounds(dt.date.fromisoformat(DAY), power.timezone)
    event_id = chosen_event_id(power, friends, day_start, day_end)
    seed = {**seed, **counts()}
    return Fixture(
        friends=friends,
        token=AuthToken.issue(power),
        event_global_id=global_id("Event", event_id),
        floor_input=FloorInput(power.pk, day_start, day_end, event_id, current_key()),
        seed=seed,
    )


def chosen_event_id(power, friends: int, day_start: dt.datetime, day_end: dt.datetime) -> int:
    """The event of the detail screen, the same at every run: of the first friend's
    events of the day that the power user may see, the one with most attendees."""
    from django.db.models import Count, Q

    from calendarapp.management.commands.seed_demo import friend_username
    from calendarapp.models import Event

    going = Count("rsvps", filter=Q(rsvps__status="GOING"))
    event = (
        Event.objects.visible_to(power)
        .filter(owner__username=friend_username(1, friends))
        .overlapping(day_start, day_end)
        .annotate(going=going)
        .order_by("-going", "starts_at", "id")
        .first()
    )
    if event is None:
        raise SystemExit("The first friend has no visible event on the bench's day: is seed_demo's --start changed?")
    return event.pk


def counts() -> dict[str, int]:
    from calendarapp.models import Event, Friendship, Rsvp, User

    return {
        "users": User.objects.count(),
        "friendship_rows": Friendship.objects.count(),
        "events": Event.objects.count(),
        "rsvps": Rsvp.objects.count(),
    }


def data_changed(fixture: Fixture) -> list[str]:
    """The bench database is shared with bench.http_load and bench.profile: if one of
    them reseeded it during this size's measurements, its figures are worthless."""
    now = counts()
    before = {key: fixture.seed[key] for key in now}
    if now == before:
        return []
    return [f"the bench database changed while measuring {fixture.friends} friends: {before} -> {now}"]


def measure_operation(plan: Plan, fixture: Fixture, operation: Operation) -> list[dict[str, Any]]:
    """Every variant of one operation at one size, each compared with ours."""
    answers: dict[str, Any] = {}
    results = []
    for variant in plan.variants_at(fixture.friends):
        warmups, repeats = plan.repeats_of(variant)
        spec = Spec(
            database_url=plan.database_url,
            operation=operation,
            variant=variant,
            variables=operation.variables(fixture.event_global_id),
            token=fixture.token,
            floor_input=fixture.floor_input,
            warmups=warmups,
            repeats=repeats,
        )
        figures = in_fresh_process(spec)
        answers[variant] = json.loads(figures.pop("body"))
        result = {"friends": fixture.friends, "operation": operation.name, "variant": variant, **figures}
        result.update(compare_with_ours(answers, variant))
        print_row(result)
        results.append(result)
    return results


def in_fresh_process(spec: Spec | SyncSpec, function=measure) -> dict[str, Any]:
    """`function(spec)` in a new process forked from the fork server (see the module doc)."""
    with multiprocessing.get_context("forkserver").Pool(1) as pool:
        return pool.apply(function, (spec,))


def measure_delta_sync(plan: Plan, fixture: Fixture) -> dict[str, Any]:
    spec = SyncSpec(plan.database_url, fixture.token, full_syncs=plan.full_syncs, repeats=plan.repeats)
    result = {"friends": fixture.friends, **in_fresh_process(spec, measure_sync)}
    print_sync(result)
    return result


def print_sync(result: dict[str, Any]) -> None:
    full, incremental = result["full"], result["incremental"]
    print(
        f"{result['friends']:>7} sync: full {full['events']:,} events in {full['pages']} pages of "
        f"{result['page_size']}, SQL per page {full['sql_per_page_seen']}, median {full['page_ms']['median']:.1f} ms "
        f"per page, {full['sync_ms']['median'] / 1000:.2f} s in all; incremental {incremental['events']} events + "
        f"{incremental['removed']} removed, SQL {incremental['sql']}, median {incremental['ms']['median']:.1f} ms",
        flush=True,
    )


def compare_with_ours(answers: dict[str, Any], variant: str) -> dict[str, Any]:
    """Whether this variant's answer is ours: the same document, the same census."""
    if variant == "ours":
        return {"census": census(answers["ours"])}
    ours, theirs = answers["ours"], answers[variant]
    return {
        "same_as_ours": same_document(ours, theirs),
        "census_as_ours": census(ours) == census(theirs),
        "difference": first_difference(ours, theirs),
    }


COLUMNS = (
    ("friends", 7),
    ("operation", 13),
    ("variant", 7),
    ("SQL", 5),
    ("median ms", 10),
    ("p90 ms", 9),
    ("KB", 8),
    ("alloc MB", 9),
    ("RSS MB", 7),
    ("same", 5),
)


def print_header() -> None:
    print(" ".join(name.rjust(width) for name, width in COLUMNS), flush=True)


def print_row(result: dict[str, Any]) -> None:
    latency = result["latency_ms"]
    same = result.get("same_as_ours")
    cells = (
        result["friends"],
        result["operation"],
        result["variant"],
        result["sql_statements"],
        f"{latency.get('median', float('nan')):.1f}",
        f"{latency.get('p90', float('nan')):.1f}",
        f"{result['response_bytes'] / 1024:.1f}",
        f"{result['alloc_peak_bytes'] / 2**20:.1f}",
        f"{result['rss_peak_kb'] / 1024:.0f}",
        "-" if same is None else ("yes" if same else "NO"),
    )
    print(" ".join(str(cell).rjust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True)), flush=True)


def write_output(path: Path, run: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run, indent=1, ensure_ascii=False) + "\n")
    print(f"Wrote {path}.")


def report_violations(violations: list[str]) -> int:
    if not violations:
        print("Checks passed: SQL counts and answers as expected.")
        return 0
    print(f"{len(violations)} violation(s):", file=sys.stderr)
    for violation in violations:
        print(f"  - {violation}", file=sys.stderr)
    return 1
