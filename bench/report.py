"""`python -m bench.report`: docs/benchmarks.md, docs/benchmarks.png and the README's headline
figures from the bench's output.

Reads bench-output/inprocess.json (`python -m bench`, required) and, when present,
bench-output/http.json (`python -m bench.http_load`), fixed_cost.json (`python -m
bench.fixed_cost`) and profile.json (`python -m bench.profile`), and the "before" of issue 12,
bench/baseline-issue12.json (`python -m bench.baseline`). Every figure in the page comes from
those files, and so does the verdict on each of issue 12's targets: the page is regenerated,
never edited. In README.md, only the block between HEADLINE_START and HEADLINE_END is rewritten.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .operations import OPERATIONS
from .sync import EDITED_TITLES, EXPECTED_CHANGED, EXPECTED_REMOVED

VARIANTS = ("ours", "naive", "floor")
LABELS = {"ours": "ours", "naive": "naive graphene-django", "floor": "one-statement SQL floor"}
COLORS = {"ours": "#1f6fb4", "naive": "#d6452b", "floor": "#2e8b57"}
MARKERS = {"ours": "o", "naive": "s", "floor": "^"}
TITLES = {operation.name: operation.title for operation in OPERATIONS}
CHARTED = ("home_screen", "friends_feed")

# Issue 12's targets: ours ÷ the floor (medians, same run) per operation, at these sizes
# (None: every size measured); the HTTP throughput at RPS_FRIENDS against the floor's endpoint's.
FLOOR_TARGETS = (
    ("home_screen", 3.0, (100, 1000)),
    ("friends_feed", 2.0, None),
    ("event_detail", 3.0, (100, 1000)),
)
MIN_THROUGHPUT_SHARE = 1 / 3
RPS_FRIENDS = 100
MAX_GROWTH_PCT = 5.0
SOAK_REQUESTS = 10_000
# Before → after: the sizes shown, and the sync size compared.
COMPARED_SIZES = (100, 1000)
SYNC_FRIENDS = 1000

MET, MISSED, UNKNOWN = "**met**", "**missed**", "not measured"
REPORTED, NO_BASELINE = "reported", "no baseline"
STALE = "not counted: older than this run"
BASELINE_FILE = Path(__file__).resolve().parent / "baseline-issue12.json"
HEADLINE_START = "<!-- bench:headline: written by `make bench` (bench/report.py); do not edit by hand -->"
HEADLINE_END = "<!-- /bench:headline -->"


# --- reading -------------------------------------------------------------------------


def load_json(path: Path) -> Any:
    """The file's JSON, or None when it is missing (the optional inputs)."""
    if not path.exists():
        return None
    return json.loads(path.read_text())


@dataclass(frozen=True)
class Extra:
    """An optional input (http.json, profile.json): its data, and whether it was written
    before this run's in-process bench, so may describe older code (`make bench` writes
    it after)."""

    data: dict | None
    source: str  # "http.json written <when> UTC", for the page
    stale: bool


def load_extra(path: Path, run: dict[str, Any]) -> Extra:
    data = load_json(path)
    if data is None:
        return Extra(None, "", False)
    when = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    stale = when < dt.datetime.fromisoformat(run["generated_at"])
    source = f"{path.name} written {when:%Y-%m-%d %H:%M} UTC"
    if stale:
        source += ", **before** this run's in-process bench: it may describe older code"
    return Extra(data, source, stale)


class Results:
    """The in-process results, indexed by (operation, friends, variant)."""

    def __init__(self, run: dict[str, Any]) -> None:
        self.run = run
        self.rows = {(r["operation"], r["friends"], r["variant"]): r for r in run["results"]}
        self.sizes = sorted({r["friends"] for r in run["results"]})

    def get(self, operation: str, friends: int, variant: str) -> dict[str, Any] | None:
        return self.rows.get((operation, friends, variant))

    def value(self, operation: str, friends: int, variant: str, key: str) -> Any:
        """A figure (`sql_statements`, `median`, `p90`, ...), or None when not measured."""
        row = self.get(operation, friends, variant)
        if row is None:
            return None
        if key in ("median", "p90"):
            return row["latency_ms"].get(key)
        return row.get(key)

    def ratio(self, operation: str, friends: int, top: str, bottom: str) -> float | None:
        """Median of `top` over median of `bottom`, e.g. ours ÷ floor."""
        a, b = self.value(operation, friends, top, "median"), self.value(operation, friends, bottom, "median")
        return a / b if a is not None and b else None


# --- formatting ----------------------------------------------------------------------


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def times(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}×"


def megabytes(value: float | None, unit: int) -> str:
    return "–" if value is None else f"{value * unit / 2**20:,.1f}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right_from: int = 1) -> list[str]:
    """A Markdown table; columns from `right_from` on are right-aligned (figures)."""
    align = ["---" if i < right_from else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


# --- targets -------------------------------------------------------------------------


def targets(results: Results, http: Extra, baseline: dict | None) -> list[list[str]]:
    """[target, figures, verdict] for each of issue 12's targets."""
    return [
        *(near_floor(results, baseline, operation, limit, sizes) for operation, limit, sizes in FLOOR_TARGETS),
        throughput(http, baseline),
        constant_statements(results),
        statements_not_more(results, baseline),
        memory_growth(http),
        allocation(results, baseline),
        delta_sync(results, baseline),
    ]


def ours_statements(results: Results, operation: str) -> dict[int, int]:
    found = {f: results.value(operation, f, "ours", "sql_statements") for f in results.sizes}
    return {f: n for f, n in found.items() if n is not None}


def sync_statements(run: dict[str, Any]) -> dict[int, tuple[int, ...]]:
    return {sync["friends"]: tuple(sync["full"]["sql_per_page_seen"]) for sync in run.get("sync") or []}


def constant_statements(results: Results) -> list[str]:
    figures, constant = [], True
    for operation in TITLES:
        by_size = ours_statements(results, operation)
        constant &= len(set(by_size.values())) == 1
        figures.append(f"{operation}: " + ", ".join(str(n) for n in by_size.values()))
    per_page = sync_statements(results.run)
    if per_page:
        constant &= len(set(per_page.values())) == 1 and all(len(seen) == 1 for seen in per_page.values())
        figures.append("sync per page: " + ", ".join("/".join(map(str, seen)) for seen in per_page.values()))
    sizes = f"{number(results.sizes[0])} to {number(results.sizes[-1])} friends"
    return [f"SQL statements constant from {sizes}, every operation", "; ".join(figures), verdict(constant)]


def statements_now(results: Results) -> dict[str, int]:
    """The most statements each operation ran at any size, as bench/baseline.py records them."""
    found = {
        operation: max(by_size.values()) for operation in TITLES if (by_size := ours_statements(results, operation))
    }
    syncs = results.run.get("sync") or []
    if syncs:
        found["sync_page"] = max(max(sync["full"]["sql_per_page_seen"]) for sync in syncs)
        found["sync_incremental"] = max(sync["incremental"]["sql"] for sync in syncs)
    return found


def statements_not_more(results: Results, baseline: dict | None) -> list[str]:
    label = "SQL statements: none more than before, every operation"
    now = statements_now(results)
    if not baseline:
        return [label, ", ".join(f"{name} {count}" for name, count in now.items()), NO_BASELINE]
    before = baseline["statements"]
    figures = ", ".join(f"{name} {before.get(name, '–')} → {count}" for name, count in now.items())
    grown = [name for name, count in now.items() if name in before and count > before[name]]
    return [label, figures, verdict(not grown)]


def near_floor(results: Results, baseline: dict | None, operation: str, limit: float, sizes) -> list[str]:
    """Ours ÷ the floor at most `limit` at each of `sizes` (None: every size measured)."""
    where = "at every size" if sizes is None else " and ".join(f"{number(f)}" for f in sizes) + " friends"
    label = f"{TITLES[operation]}: at most {limit:g}× the floor, {where}"
    chosen = results.sizes if sizes is None else [f for f in sizes if f in results.sizes]
    ratios = {f: results.ratio(operation, f, "ours", "floor") for f in chosen}
    ratios = {f: r for f, r in ratios.items() if r is not None}
    if not ratios or (sizes is not None and len(ratios) < len(sizes)):
        return [label, "–", UNKNOWN]
    parts = []
    for friends, ratio in ratios.items():
        ours = results.value(operation, friends, "ours", "median")
        floor = results.value(operation, friends, "floor", "median")
        part = f"{number(friends)}: {number(ours)} vs {number(floor)} ms, **{times(ratio)}**"
        before = baseline_figure(baseline, operation, friends)
        if before and before.get("ours_over_floor"):
            part += f" (before {times(before['ours_over_floor'])})"
        parts.append(part)
    return [label, "; ".join(parts), verdict(max(ratios.values()) <= limit)]


def baseline_figure(baseline: dict | None, operation: str, friends: int) -> dict | None:
    return ((baseline or {}).get("inprocess") or {}).get(operation, {}).get(str(friends))


def http_run(http: dict | None, operation: str, friends: int) -> dict | None:
    return next(
        (
            run
            for run in (http or {}).get("runs") or []
            if run.get("operation") == operation and run["friends"] == friends
        ),
        None,
    )


def throughput(http: Extra, baseline: dict | None) -> list[str]:
    label = (
        f"HTTP: home-screen requests/s at {RPS_FRIENDS} friends at least {share(MIN_THROUGHPUT_SHARE)} of the "
        "floor endpoint's (wrk, concurrency 8), 0 errors"
    )
    run = http_run(http.data, "home_screen", RPS_FRIENDS)
    if run is None or "floor" not in run:
        return [label, "–", UNKNOWN]
    figures = (
        f"{number(run['ours']['rps'])} vs {number(run['floor']['rps'])} requests/s: **{share(run['ratio'])}** "
        f"(median of {plural(run.get('rounds', 1), 'round')}), {run['errors']} errors"
    )
    before = next(
        (b for b in ((baseline or {}).get("http") or {}).get("runs") or []
         if b["operation"] == "home_screen" and b["friends"] == RPS_FRIENDS),
        None,
    )  # fmt: skip
    if before:
        earlier = f"{number(before['ours_rps'])} vs {number(before['floor_rps'])}"
        figures += f" (before {share(before['ours_over_floor'])}: {earlier})"
    if http.stale:
        return [label, figures, STALE]
    return [label, figures, verdict((run["ratio"] or 0) >= MIN_THROUGHPUT_SHARE and not run["errors"])]


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def share(value: float | None) -> str:
    """A fraction as a reader compares it with a third: 0.33 (1/3.0)."""
    if value is None:
        return "–"
    return f"{value:.2f} (1/{1 / value:.1f})" if value else "0"


def memory_growth(http: Extra) -> list[str]:
    label = f"HTTP: worker memory flat (< {MAX_GROWTH_PCT:g}%) over {number(SOAK_REQUESTS)} requests"
    soak = (http.data or {}).get("soak")
    growths = [growth_pct(worker) for worker in (soak or {}).get("workers") or []]
    growths = [g for g in growths if g is not None]
    if not soak or not growths:
        return [label, "–", UNKNOWN]
    requests = soak.get("requests") or 0
    figures = f"{requests:,} requests: " + ", ".join(f"{g:+.1f}%" for g in growths) + " per worker"
    if http.stale:
        return [label, figures, STALE]
    if requests < SOAK_REQUESTS:
        return [label, figures + f" (fewer than {SOAK_REQUESTS:,} requests)", "inconclusive"]
    return [label, figures, verdict(max(growths) < MAX_GROWTH_PCT and not soak.get("errors"))]


def allocation(results: Results, baseline: dict | None) -> list[str]:
    """The peak Python allocation of one request (tracemalloc), before → after."""
    label = "Allocation per request (tracemalloc peak), before → after"
    parts = []
    for operation in TITLES:
        for friends in COMPARED_SIZES:
            now = results.value(operation, friends, "ours", "alloc_peak_bytes")
            if now is None:
                continue
            before = (baseline_figure(baseline, operation, friends) or {}).get("alloc_peak_bytes")
            part = f"{operation} at {number(friends)}: "
            part += f"{megabytes(before, 1)} → {megabytes(now, 1)} MB" if before else f"{megabytes(now, 1)} MB"
            parts.append(part + (f" ({times(now / before)})" if before else ""))
    return [label, "; ".join(parts) or "–", REPORTED if baseline else NO_BASELINE]


def delta_sync(results: Results, baseline: dict | None) -> list[str]:
    label = f"Delta sync at {number(SYNC_FRIENDS)} friends: full first sync and its pages, before → after"
    sync = next((s for s in results.run.get("sync") or [] if s["friends"] == SYNC_FRIENDS), None)
    if sync is None:
        return [label, "–", UNKNOWN]
    full = sync["full"]
    now = {
        "full_sync_s": full["sync_ms"]["median"] / 1000,
        "first_page_ms": (full.get("first_page_ms") or {}).get("median"),
        "page_median_ms": full["page_ms"]["median"],
    }
    before = ((baseline or {}).get("sync") or {}).get(str(SYNC_FRIENDS)) or {}
    names = {"full_sync_s": ("full sync", "s", 2), "first_page_ms": ("first page", "ms", 1),
             "page_median_ms": ("median page", "ms", 1)}  # fmt: skip
    parts = []
    for key, (name, unit, digits) in names.items():
        after, earlier = now[key], before.get(key)
        if after is None:
            continue
        text = (
            f"{name} {number(earlier, digits)} → {number(after, digits)} {unit}"
            if earlier
            else f"{name} {number(after, digits)} {unit}"
        )
        parts.append(text + (f" ({times(after / earlier)})" if earlier else ""))
    figures = f"{number(full['events'])} events in {full['pages']} pages: " + ", ".join(parts)
    return [label, figures, REPORTED if before else NO_BASELINE]


def growth_pct(worker: dict[str, Any]) -> float | None:
    if worker.get("growth_pct") is not None:
        return worker["growth_pct"]
    before, after = worker.get("rss_before_kb"), worker.get("rss_after_kb")
    return 100 * (after - before) / before if before and after else None


def verdict(met: bool, measured: bool = True) -> str:
    if not measured:
        return UNKNOWN
    return MET if met else MISSED


# --- sections ------------------------------------------------------------------------


def header(run: dict[str, Any]) -> list[str]:
    machine = run["machine"]
    when = dt.datetime.fromisoformat(run["generated_at"])
    plan = run["plan"]
    return [
        "# Benchmarks",
        "",
        "<!-- Generated by `make bench` (bench/report.py) from bench-output/*.json: do not edit by hand. -->",
        "",
        f"Measured on {when:%Y-%m-%d} at {when:%H:%M} UTC, commit `{machine.get('commit', '?')}`, on "
        f"{machine['nproc']} cores ({machine['cpu_model']}), {machine.get('memory_gb', '?')} GB of RAM, "
        f"PostgreSQL {machine['postgresql']}, Python {machine['python']}, Django {machine['django']}, "
        f"graphql-core {machine.get('graphql_core', '?')}. Data: `seed_demo --friends N "
        f"--events-per-day {run['seed']['events_per_day']} --days {run['seed']['days']}`; every operation "
        f"asks about {run['day']}. Timed: {plan['repeats']} warm requests per figure "
        f"({plan['naive_repeats']} for naive, which takes seconds each), after {plan['warmups']} warm-up "
        f"request(s). {load_average(run)} Regenerate with `make bench`.",
    ]


def load_average(run: dict[str, Any]) -> str:
    """How busy the machine was: other processes make times noisy."""
    start, end = run.get("load_average_start"), run.get("load_average_end")
    if not start or not end:
        return ""
    return f"1-minute load average {start[0]:.2f} at the start, {end[0]:.2f} at the end."


def targets_section(results: Results, http: Extra, baseline: dict | None) -> list[str]:
    before = (
        f"“Before” figures: {baseline_source(baseline)}."
        if baseline
        else f"No “before” figures ({BASELINE_FILE.name} is missing: `python -m bench.baseline`)."
    )
    return [
        "## Issue 12's targets",
        "",
        "Medians, same run, same data; ours ÷ the floor is the ratio of the two medians. A verdict is computed "
        f"from the figures below. {before}",
        "",
        *table(["target", "measured", "verdict"], targets(results, http, baseline), right_from=3),
    ]


def baseline_source(baseline: dict) -> str:
    """Which code, bench and machine the "before" figures are from, and when."""
    machine = baseline["machine"]
    when = dt.datetime.fromisoformat(baseline["measured_at"])
    load = baseline.get("load_average") or {}
    busy = ""
    if load.get("start") and load.get("end"):
        busy = f", 1-minute load average {load['start'][0]:.2f} → {load['end'][0]:.2f}"
    return (
        f"bench/{BASELINE_FILE.name}, the application at `{baseline['application_commit']}` measured on "
        f"{when:%Y-%m-%d %H:%M} UTC by the bench at `{baseline.get('bench_commit', '?')}`, on {machine['nproc']} cores "
        f"({machine['cpu_model']}), PostgreSQL {machine['postgresql']}{busy}"
    )


def method_section(run: dict[str, Any]) -> list[str]:
    return [
        "## What is measured",
        "",
        "- **ours**: the real view, `schema.view.GraphQLView.as_view()`, called in-process with a "
        "`RequestFactory` POST of the app's own operation (tests/operations/) and a Bearer token: "
        "everything a request does (token lookup included) but the middleware and the socket.",
        "- **naive**: the same view and schema on graphql-core's path (no compiled plans) with loaders "
        "that do not batch (`bench.naive.NaiveGraphQLView`): one query per friend and per event, as a typical "
        "graphene-django project has it. Its answers are checked equal to ours.",
        "- **floor**: one hand-written PostgreSQL statement per operation that builds the same JSON "
        "document in the database (lateral joins, `json_agg`, the same visibility rule and day bounds; "
        "bench/floor.py), timed as execute + fetch of the JSON text; no authentication. Its answers are "
        "checked equal to ours (same document, same numbers of friends, events and attendees).",
        "- **SQL**: statements per request (`connection.execute_wrapper`). **Latency**: wall clock of the "
        "view call (floor: `execute` + `fetchone`), median and p90 of the warm requests.",
        "- **Memory**: *alloc* is the peak Python allocation of one request (tracemalloc, in a separate "
        "untimed request); *RSS* is the peak resident set size of the process that made the measurement "
        "(`ru_maxrss`). Each measurement runs in its own fresh process, so RSS is Python + Django + the app "
        "+ that variant's requests; *base* is the same process's RSS before its first request.",
        "- The floor's response is a little bigger than ours: PostgreSQL writes its JSON with spaces.",
        "- **HTTP**: the Procfile's `web:` process (gunicorn, gunicorn.conf.py, production's settings and "
        "middleware) with the bench's settings (bench/settings.py), which add `POST /bench/floor/<operation>` "
        "(bench/urls.py): the floor's statement answered through the same process, middleware and request log "
        "as `/graphql`, its answer checked equal to ours over HTTP once per server. wrk loads ours and the floor "
        "in alternating rounds; each figure is the median of the rounds, ours ÷ floor the median of the "
        "rounds' ratios.",
        "- **Fixed cost**: the trivial operation `{ __typename }` (bench/fixed_cost.py), in-process through "
        "Django's whole handler, with and without the token, against the floor's trivial statement; and a "
        "timer around each step of the request.",
    ]


def operation_section(results: Results, operation: str) -> list[str]:
    return [
        f"## {TITLES[operation]}",
        "",
        *table(
            [
                "friends",
                "SQL ours",
                "SQL naive",
                "SQL floor",
                "median ms ours",
                "median naive",
                "median floor",
                "p90 ms ours",
                "p90 naive",
                "p90 floor",
                "ours ÷ floor",
                "naive ÷ ours",
            ],
            (latency_row(results, operation, friends) for friends in results.sizes),
        ),
        "",
        *table(
            [
                "friends",
                "response KB",
                "alloc MB ours",
                "alloc naive",
                "alloc floor",
                "RSS MB ours",
                "RSS naive",
                "RSS floor",
                "RSS base",
            ],
            (memory_row(results, operation, friends) for friends in results.sizes),
        ),
    ]


def latency_row(results: Results, operation: str, friends: int) -> list[str]:
    def each(key: str, digits: int = 1) -> list[str]:
        return [number(results.value(operation, friends, v, key), digits) for v in VARIANTS]

    return [
        number(friends),
        *each("sql_statements"),
        *each("median"),
        *each("p90"),
        times(results.ratio(operation, friends, "ours", "floor")),
        times(results.ratio(operation, friends, "naive", "ours")),
    ]


def memory_row(results: Results, operation: str, friends: int) -> list[str]:
    def each(key: str, unit: int) -> list[str]:
        return [megabytes(results.value(operation, friends, v, key), unit) for v in VARIANTS]

    size = results.value(operation, friends, "ours", "response_bytes")
    return [
        number(friends),
        "–" if size is None else f"{size / 1024:,.1f}",
        *each("alloc_peak_bytes", 1),
        *each("rss_peak_kb", 1024),
        megabytes(results.value(operation, friends, "ours", "rss_base_kb"), 1024),
    ]


def sync_section(run: dict[str, Any]) -> list[str]:
    """Delta sync (bench/sync.py), with when and on what it was measured, so the section
    reads the same on its own."""
    syncs = run.get("sync") or []
    lines = ["## Delta sync", ""]
    if not syncs:
        return [*lines, "Not measured in this run (`python -m bench --operations sync`)."]
    machine, when = run["machine"], dt.datetime.fromisoformat(run["generated_at"])
    page_size = syncs[0]["page_size"]
    lines += [
        f"The app's sync operation (tests/operations/sync.graphql: every event field with owner, attendeeCount "
        f"and viewerRsvp) through the real view. **Full sync**: the power user's first sync, every page of "
        f"{page_size} timed ({run['plan'].get('full_syncs', 1)} sync per size); SQL statements include "
        f"authentication. **Incremental**: the next sync after friends retitled {EDITED_TITLES} events, hid one "
        f"and deleted one and the power user answered one ({EXPECTED_CHANGED} events, {EXPECTED_REMOVED} "
        f"removals), {run['plan']['repeats']} timed requests. Devices end up holding exactly "
        f"the sync scope (checked). Measured {when:%Y-%m-%d %H:%M} UTC, commit `{machine.get('commit', '?')}`, "
        f"{machine['nproc']} cores, PostgreSQL {machine['postgresql']}. {load_average(run)}",
        "",
        *table(
            [
                "friends",
                "events synced",
                "pages",
                "SQL per page",
                "first page ms",
                "median ms per page",
                "p90 ms per page",
                "full sync s",
                "incremental SQL",
                "incremental median ms",
                "incremental p90 ms",
            ],
            (sync_row(sync) for sync in syncs),
        ),
    ]
    return lines


def sync_row(sync: dict[str, Any]) -> list[str]:
    full, incremental = sync["full"], sync["incremental"]
    return [
        number(sync["friends"]),
        number(full["events"]),
        number(full["pages"]),
        ", ".join(str(n) for n in full["sql_per_page_seen"]),
        number((full.get("first_page_ms") or {}).get("median")),
        number(full["page_ms"].get("median")),
        number(full["page_ms"].get("p90")),
        number(full["sync_ms"].get("median", 0) / 1000, 2),
        number(incremental["sql"]),
        number(incremental["ms"].get("median")),
        number(incremental["ms"].get("p90")),
    ]


def data_section(run: dict[str, Any]) -> list[str]:
    rows = [
        [
            number(size["friends"]),
            number(size.get("users")),
            number(size.get("events")),
            number(size.get("rsvps")),
            number(size.get("seed_seconds")),
        ]
        for size in run["sizes"]
    ]
    return ["## Data", "", *table(["friends", "users", "events", "RSVPs", "seeding s"], rows)]


def http_section(extra: Extra) -> list[str]:
    http, source = extra.data, extra.source
    lines = ["## HTTP throughput (bench/http_load.py)", ""]
    if not http or not http.get("runs") or "floor" not in http["runs"][0]:
        return [*lines, "Not measured (bench-output/http.json is missing or old): `python -m bench.http_load`."]
    details = http.get("machine_details") or {}
    server = http.get("server") or {}
    wrk = http.get("wrk") or {}
    lines += [
        f"The Procfile's web process on 127.0.0.1 ({server.get('workers', '?')} workers, "
        f"`{server.get('worker_class', '?')}`), wrk with {wrk.get('concurrency', '?')} connections on "
        f"{wrk.get('threads', '?')} threads, ours (`POST /graphql`, Bearer token) and the floor "
        f"(`POST /bench/floor/<operation>`) in {plural(http.get('rounds', 0), 'alternating round')} of "
        f"{wrk.get('duration_s', '?')} s each. {http.get('machine', '')}, commit `{details.get('commit', '?')}`; "
        f"{load_average(http)} From {source}.",
        "",
    ]
    rows = []
    for run in http["runs"]:
        ours, floor = run["ours"], run["floor"]
        rows.append(
            [
                number(run["friends"]),
                "`{ __typename }`" if run["operation"] == "typename" else run["operation"],
                number(ours["rps"]),
                number(floor["rps"]),
                share(run["ratio"]),
                ", ".join(number(r) for r in ours["rounds_rps"]),
                ", ".join(number(r) for r in floor["rounds_rps"]),
                f"{number(ours['latency_ms']['p50'])} / {number(ours['latency_ms']['p99'])}",
                f"{number(floor['latency_ms']['p50'])} / {number(floor['latency_ms']['p99'])}",
                str(run["errors"]),
                workers_cell(run.get("workers") or []),
            ]
        )
    headers = [
        "friends",
        "operation",
        "requests/s ours",
        "floor",
        "ours ÷ floor",
        "rounds ours",
        "rounds floor",
        "p50 / p99 ms ours",
        "floor",
        "errors",
        "worker RSS MB before → after",
    ]
    lines += table(headers, rows, right_from=2)
    checked = http.get("answers_checked") or []
    if checked:
        same = sorted({each["operation"] for each in checked if each["same"]})
        lines += ["", f"Floor answers over HTTP checked equal to ours: {', '.join(same)}."]
    if http.get("soak"):
        lines += ["", "Memory soak (ours, home screen):", "", *soak_table(http["soak"])]
    return lines


def soak_table(soak: dict[str, Any]) -> list[str]:
    rows = [[key, cell(value)] for key, value in soak.items() if key != "workers"]
    rows += [[f"worker {w.get('pid', '?')}", worker_cell(w)] for w in soak.get("workers") or []]
    return table(["", "value"], rows)


def workers_cell(workers: list[dict[str, Any]]) -> str:
    return "; ".join(worker_cell(worker) for worker in workers) or "–"


def worker_cell(worker: dict[str, Any]) -> str:
    before, after = worker.get("rss_before_kb"), worker.get("rss_after_kb")
    text = f"{megabytes(before, 1024)} → {megabytes(after, 1024)}"
    growth = growth_pct(worker)
    return text + (f" ({growth:+.1f}%)" if growth is not None else "")


def cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value).lower()
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def profile_section(extra: Extra) -> list[str]:
    profile, source = extra.data, extra.source
    lines = ["## Where the home screen's time goes (bench/profile.py)", ""]
    if not profile or not profile.get("split_ms"):
        return [*lines, "Not measured (bench-output/profile.json is missing): `python -m bench.profile`."]
    split = profile["split_ms"]
    total = sum(split.values()) or 1
    meaning = profile.get("buckets") or {}
    rows = [
        [
            bucket,
            meaning.get(bucket, "").partition(": ")[2] or meaning.get(bucket, ""),
            number(ms),
            f"{100 * ms / total:.0f}%",
        ]
        for bucket, ms in split.items()
    ]
    real = profile.get("real_ms")
    lines += [
        f"The {profile.get('operation', 'home_screen')} request at {number(profile.get('friends'))} friends "
        f"through Django's whole handler (middleware, request log, view), production settings. Without the "
        f"profiler: **{number(real)} ms** per request (median), of which the garbage collector "
        f"{number(profile.get('gc_ms'))} ms and the SQL statements {number(profile.get('sql_wall_ms'))} ms "
        f"(wall time, round trips included); the floor takes {number(profile.get('floor_ms'))} ms. Under cProfile, "
        f"with the collector off, {number(profile.get('total_ms'))} ms, split below by the file of each function "
        f"(the profiler inflates Python-heavy code: the split matters, not the total). From {source}.",
        "",
        *table(["part", "what", "ms", "share"], rows, right_from=2),
    ]
    top = profile.get("top_functions") or []
    if top:
        lines += ["", "Top functions by own time:", ""]
        lines += table(["function", "ms per request"], ([f"`{name}`", number(ms, 2)] for name, ms in top[:10]))
    by_bucket = profile.get("top_by_bucket") or {}
    if by_bucket:
        lines += ["", "What each part is made of (its functions with most own time, ms per request):", ""]
        lines += table(
            ["part", "functions"],
            (
                [bucket, "; ".join(f"`{name}` {number(ms, 2)}" for name, ms in functions)]
                for bucket, functions in by_bucket.items()
            ),
        )
    unclassified = [entry for entry in profile.get("unclassified_files") or [] if entry[1] >= 0.1]
    if unclassified:
        lines += ["", "Files the buckets do not name (charged to *other*): "
                  + ", ".join(f"`{path}` {number(ms, 2)} ms" for path, ms in unclassified) + "."]  # fmt: skip
    return lines


def fixed_cost_section(extra: Extra) -> list[str]:
    fixed, source = extra.data, extra.source
    lines = ["## The fixed cost of a request (bench/fixed_cost.py)", ""]
    if not fixed:
        return [*lines, "Not measured (bench-output/fixed_cost.json is missing): `python -m bench.fixed_cost`."]
    lines += [
        f"The trivial operation `{{ __typename }}` in-process, each way timed in turn ({fixed['rounds']} rounds of "
        f"{fixed['requests']} requests; medians of the rounds' medians). {load_average(fixed)} From {source}.",
        "",
        *table(["way", "median ms"], ([name, number(f["median_ms"], 3)] for name, f in fixed["totals"].items())),
        "",
        f"Where `{{ __typename }}` with a token goes, step by step (median per request of "
        f"{fixed['steps']['requests']:,}; a step's time includes the steps it calls):",
        "",
        *table(["step", "ms"], ([name, number(ms, 3)] for name, ms in fixed["steps"]["inclusive_ms"].items())),
        "",
        "Each middleware's own time (its time less the next one's):",
        "",
        *table(["middleware", "ms"], ([n, number(ms, 3)] for n, ms in fixed["steps"]["middleware_own_ms"].items())),
    ]
    missing = fixed["steps"].get("missing") or []
    if missing:
        note = "Steps not timed (the code moved: update bench/fixed_cost.py's STEPS): "
        lines += ["", note + "; ".join(missing) + "."]
    return lines


def tracing_section(extra: Extra) -> list[str]:
    tracing, source = extra.data, extra.source
    lines = ["## What tracing costs (bench/tracing_overhead.py)", ""]
    if not tracing:
        missing = "Not measured (bench-output/tracing_overhead.json is missing): `python -m bench.tracing_overhead`."
        return [*lines, missing]
    spans, off = tracing["spans_per_request"], tracing["off"]
    lines += [
        f"The home screen at {number(tracing['friends'])} friends in-process through Django's whole handler, "
        "with OpenTelemetry's tracing (config/tracing.py) off and on; one block of requests of each way in turn "
        f"({tracing['rounds']} rounds of {tracing['requests']} requests; a block's ms per request include exporting "
        "its spans; medians over the rounds, and of each round's ratio to *off*). "
        f"{load_average(tracing)} From {source}.",
        "",
        *table(
            ["tracing", "median ms", "÷ off"],
            ([way, number(f["median_ms"], 2), ratio_of(f)] for way, f in tracing["ways"].items()),
        ),
        "",
        f"On, a home screen makes {spans['all']} spans: {spans['request']} request, {spans['operation']} operation, "
        f"{spans['loader batch']} loader batches, {spans['SQL']} SQL statements. Off, nothing is installed: "
        f"a request's only extra work is {off['hook_checks_per_request']} checks of `tracing.tracer` "
        f"({number(off['check_ns'], 1)} ns each, {off['share_of_request']:.1e} of the request); "
        "*off again* shows the noise between two identical ways.",
    ]
    return lines


def metrics_section(extra: Extra) -> list[str]:
    metrics, source = extra.data, extra.source
    lines = ["## What the metrics cost (bench/metrics_cost.py)", ""]
    if not metrics:
        return [*lines, "Not measured (bench-output/metrics_cost.json is missing): `python -m bench.metrics_cost`."]
    lines += [
        f"The home screen at {number(metrics['friends'])} friends in-process through Django's whole handler, "
        "with the Prometheus metrics' hooks (config/metrics.py, multiprocess mode) recording and as no-ops; "
        f"the two ways alternate request by request ({metrics['rounds']} rounds of {metrics['requests']} pairs; "
        f"medians of the rounds' medians). {load_average(metrics)} From {source}.",
        "",
        *table(["metrics", "median ms"], ([way, number(f["median_ms"], 2)] for way, f in metrics["ways"].items())),
        "",
        f"Recording ÷ no-ops: **{metrics['ratio_on_to_no_ops']:.3f}×**; the median of the pairs' differences "
        f"{metrics['paired_difference_us']:+.0f} µs. The hooks alone, called directly as one home screen calls "
        f"them: {number(metrics['hooks_alone_us'], 1)} µs ({metrics['hooks_share']:.2%} of the request).",
    ]
    return lines


def ratio_of(figures: dict[str, Any]) -> str:
    """A way's ratio to tracing off, to the thousandth: the differences are a few percent."""
    ratio = figures.get("ratio_to_off")
    return "–" if ratio is None else f"{ratio:.3f}×"


def before_after_section(results: Results, http: Extra, baseline: dict | None) -> list[str]:
    """Every figure the baseline keeps against this run's: ours, the floor and their ratio."""
    lines = ["## Before → after (issue 12)", ""]
    if not baseline:
        return [*lines, f"No “before” figures: bench/{BASELINE_FILE.name} is missing (`python -m bench.baseline`)."]
    machine = results.run["machine"]
    lines += [
        f"Before: {baseline_source(baseline)}. After: this run (commit `{machine.get('commit', '?')}`). When the "
        "two were measured on different machines or under different loads, compare the ratios to the floor, "
        "which is measured in the same run as ours.",
        "",
    ]
    rows = []
    for operation in TITLES:
        for friends in results.sizes:
            before = baseline_figure(baseline, operation, friends)
            ours = results.value(operation, friends, "ours", "median")
            if before is None or ours is None:
                continue
            floor = results.value(operation, friends, "floor", "median")
            ratio = results.ratio(operation, friends, "ours", "floor")
            rows.append(
                [
                    operation,
                    number(friends),
                    f"{before['sql']} → {results.value(operation, friends, 'ours', 'sql_statements')}",
                    f"{number(before['ours_ms'])} → {number(ours)}",
                    times(ours / before["ours_ms"]),
                    f"{number(before['floor_ms'])} → {number(floor)}",
                    f"{times(before['ours_over_floor'])} → {times(ratio)}",
                    f"{megabytes(before['alloc_peak_bytes'], 1)} → "
                    f"{megabytes(results.value(operation, friends, 'ours', 'alloc_peak_bytes'), 1)}",
                ]
            )
    headers = ["operation", "friends", "SQL", "ours ms", "after ÷ before", "floor ms", "ours ÷ floor", "alloc MB"]
    lines += table(headers, rows, right_from=1)
    before_http = (baseline.get("http") or {}).get("runs") or []
    if before_http and http.data:
        rows = []
        for before in before_http:
            run = http_run(http.data, before["operation"], before["friends"])
            if run is None:
                continue
            rows.append(
                [
                    before["operation"],
                    number(before["friends"]),
                    f"{number(before['ours_rps'])} → {number(run['ours']['rps'])}",
                    f"{number(before['floor_rps'])} → {number(run['floor']['rps'])}",
                    f"{share(before['ours_over_floor'])} → {share(run['ratio'])}",
                ]
            )
        lines += ["", *table(["HTTP", "friends", "requests/s ours", "floor", "ours ÷ floor"], rows, right_from=1)]
    before_sync = baseline.get("sync") or {}
    rows = []
    for sync in results.run.get("sync") or []:
        before = before_sync.get(str(sync["friends"]))
        if not before:
            continue
        full = sync["full"]
        rows.append(
            [
                number(sync["friends"]),
                f"{number(before['full_sync_s'], 2)} → {number(full['sync_ms']['median'] / 1000, 2)}",
                f"{number(before.get('first_page_ms'))} → {number((full.get('first_page_ms') or {}).get('median'))}",
                f"{number(before['page_median_ms'])} → {number(full['page_ms']['median'])}",
                f"{number(before['incremental_ms'])} → {number(sync['incremental']['ms']['median'])}",
            ]
        )
    if rows:
        headers = ["delta sync, friends", "full sync s", "first page ms", "median page ms", "incremental ms"]
        lines += ["", *table(headers, rows)]
    return lines


def violations_section(run: dict[str, Any]) -> list[str]:
    found = run.get("violations") or []
    if not found:
        return ["All checks passed: SQL counts as expected, naive and floor answers equal to ours."]
    return ["**Checks failed in this run:**", "", *(f"- {violation}" for violation in found)]


@dataclass(frozen=True)
class Inputs:
    """Everything a report is made from."""

    run: dict[str, Any]
    http: Extra
    fixed_cost: Extra
    profile: Extra
    baseline: dict | None
    tracing: Extra = Extra(None, "", False)
    metrics: Extra = Extra(None, "", False)

    @classmethod
    def read(cls, folder: Path, baseline_file: Path) -> Inputs | None:
        run = load_json(folder / "inprocess.json")
        if run is None:
            return None
        return cls(
            run=run,
            http=load_extra(folder / "http.json", run),
            fixed_cost=load_extra(folder / "fixed_cost.json", run),
            profile=load_extra(folder / "profile.json", run),
            baseline=load_json(baseline_file),
            tracing=load_extra(folder / "tracing_overhead.json", run),
            metrics=load_extra(folder / "metrics_cost.json", run),
        )


def render_markdown(inputs: Inputs) -> str:
    run, results = inputs.run, Results(inputs.run)
    sections = [
        header(run),
        targets_section(results, inputs.http, inputs.baseline),
        ["![Latency and SQL statements against friends](benchmarks.png)"],
        before_after_section(results, inputs.http, inputs.baseline),
        *(operation_section(results, operation) for operation in TITLES),
        sync_section(run),
        method_section(run),
        data_section(run),
        http_section(inputs.http),
        fixed_cost_section(inputs.fixed_cost),
        tracing_section(inputs.tracing),
        metrics_section(inputs.metrics),
        profile_section(inputs.profile),
        violations_section(run),
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


# --- the README's headline ----------------------------------------------------------


def readme_headline(inputs: Inputs) -> list[str]:
    """The README's "Performance" figures: the home screen against its baselines, the ratios of
    issue 12's targets, the profile's largest part, HTTP."""
    run, results = inputs.run, Results(inputs.run)
    machine, when = run["machine"], dt.datetime.fromisoformat(run["generated_at"])
    big = 1000 if 1000 in results.sizes else results.sizes[-1]
    shown = (results.get("home_screen", big, "ours") or {}).get("census") or {}
    events = sum(count for path, count in shown.items() if path.endswith("events.edges"))
    naive = results.get("home_screen", big, "naive") is not None
    baselines = (
        "a typical graphene-django server (the same schema on graphql-core's path with loaders that do not batch, "
        "bench/naive.py) and "
        if naive
        else ""
    )
    lines = [
        f"Measured with `make bench` on {when:%Y-%m-%d}, commit `{machine.get('commit', '?')}`, on this project's "
        f"{machine['nproc']}-core machine ({machine['cpu_model']}), PostgreSQL {machine['postgresql'].split()[0]}, "
        f"the demo data at {number(results.sizes[0])} to {number(results.sizes[-1])} friends (10 events a day); "
        f"medians of warm requests, in-process, against baselines measured in the same run: {baselines}one "
        "hand-written SQL statement that builds the whole JSON answer in PostgreSQL (the floor). Full tables, "
        "chart and profile: [docs/benchmarks.md](docs/benchmarks.md).",
        "",
        f"| home screen ({number(min(100, big))} friends shown, ~{number(round(events, -2))} events) "
        "| SQL statements | median |",
        "| --- | ---: | ---: |",
    ]
    labels = {"ours": f"this server, {number(big)} friends", "naive": "naive graphene-django, same schema",
              "floor": "one-statement SQL floor"}  # fmt: skip
    for variant, label in labels.items():
        if results.get("home_screen", big, variant) is not None:
            sql = results.value("home_screen", big, variant, "sql_statements")
            lines.append(
                f"| {label} | {number(sql)} | {number(results.value('home_screen', big, variant, 'median'))} ms |"
            )
    constant = all(len(set(ours_statements(results, operation).values())) == 1 for operation in TITLES)
    sentences = [
        f"SQL statements are {'the same' if constant else '**not** the same'} from {number(results.sizes[0])} to "
        f"{number(results.sizes[-1])} friends for every operation."
    ]
    ratios = {operation: [results.ratio(operation, f, "ours", "floor") for f in results.sizes] for operation in TITLES}
    ratios = {operation: [r for r in found if r is not None] for operation, found in ratios.items()}
    home = {f: results.ratio("home_screen", f, "ours", "floor") for f in (100, 1000) if f in results.sizes}
    if home:
        sentences.append(
            "The home screen is "
            + " and ".join(f"{times(r)} the floor at {number(f)} friends" for f, r in home.items() if r)
            + f" (target: at most {FLOOR_TARGETS[0][1]:g}×)"
            + (
                f"; the flat `friendsEvents` feed {span(ratios['friends_feed'])} (target {FLOOR_TARGETS[1][1]:g}×)"
                if ratios["friends_feed"]
                else ""
            )
            + (f"; event detail {span(ratios['event_detail'])}" if ratios["event_detail"] else "")
            + "."
        )
    profile = inputs.profile.data
    if profile and profile.get("split_ms"):
        split = profile["split_ms"]
        largest = max(split, key=split.get)
        percent = 100 * split[largest] / (sum(split.values()) or 1)
        sentences.append(
            f"In the profile (bench/profile.py), *{largest}* takes {percent:.0f}% of the home screen's time at "
            f"{number(profile.get('friends'))} friends."
        )
    http = inputs.http.data
    run_100 = http_run(http, "home_screen", RPS_FRIENDS)
    if run_100 and "floor" in run_100:
        server = (http or {}).get("server") or {}
        text = (
            f"Over HTTP (the Procfile's web process, {server.get('workers', '?')} workers, "
            f"{(http.get('wrk') or {}).get('concurrency', '?')} concurrent clients) the home screen serves "
            f"{number(run_100['ours']['rps'])} requests/s at {RPS_FRIENDS} friends, {share(run_100['ratio'])} of the "
            f"floor endpoint's {number(run_100['floor']['rps'])}"
        )
        soak = http.get("soak")
        growths = [g for g in (growth_pct(w) for w in (soak or {}).get("workers") or []) if g is not None]
        if growths:
            text += f", and worker memory stays within {max(growths):+.1f}% over {soak['requests']:,} requests"
        sentences.append(text + ".")
    return [wrap(lines[0]), *lines[1:], "", wrap(" ".join(sentences))]


def span(ratios: list[float]) -> str:
    low, high = min(ratios), max(ratios)
    return f"{times(low)} the floor" if f"{low:.1f}" == f"{high:.1f}" else f"{times(low)} to {times(high)} the floor"


def wrap(text: str, width: int = 95) -> str:
    """A paragraph wrapped as the README's are."""
    import textwrap

    return textwrap.fill(text, width=width, break_long_words=False, break_on_hyphens=False)


def update_readme(path: Path, headline: list[str]) -> bool:
    """Rewrite the block between HEADLINE_START and HEADLINE_END in `path`; False if it has none."""
    text = path.read_text()
    before, start, rest = text.partition(HEADLINE_START)
    _, end, after = rest.partition(HEADLINE_END)
    if not start or not end:
        return False
    path.write_text(before + HEADLINE_START + "\n" + "\n".join(headline) + "\n" + HEADLINE_END + after)
    return True


# --- chart ---------------------------------------------------------------------------


def render_chart(run: dict[str, Any], path: Path) -> None:
    """Latency and SQL statements against friends, log scales, ours vs naive vs floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = Results(run)
    figure, axes = plt.subplots(len(CHARTED), 2, figsize=(11, 4.2 * len(CHARTED)), squeeze=False)
    for row, operation in enumerate(CHARTED):
        latency_panel(axes[row][0], results, operation)
        statements_panel(axes[row][1], results, operation)
    machine = run["machine"]
    figure.suptitle(
        f"{machine['nproc']} cores ({machine['cpu_model']}), PostgreSQL {machine['postgresql']}, "
        f"commit {machine.get('commit', '?')}, {run['generated_at'][:10]}",
        fontsize=9,
        color="#555555",
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def series(results: Results, operation: str, variant: str, key: str) -> tuple[list[int], list[float]]:
    points = [(f, results.value(operation, f, variant, key)) for f in results.sizes]
    points = [(f, v) for f, v in points if v is not None]
    return [f for f, _ in points], [v for _, v in points]


def latency_panel(axis, results: Results, operation: str) -> None:
    for variant in VARIANTS:
        sizes, medians = series(results, operation, variant, "median")
        _, p90s = series(results, operation, variant, "p90")
        if not sizes:
            continue
        errors = [[0] * len(medians), [max(p - m, 0) for p, m in zip(p90s, medians, strict=True)]]
        axis.errorbar(
            sizes, medians, yerr=errors, label=LABELS[variant], color=COLORS[variant],
            marker=MARKERS[variant], capsize=3, linewidth=1.8,
        )  # fmt: skip
    sizes, floors = series(results, operation, "floor", "median")
    limit = next((limit for name, limit, _ in FLOOR_TARGETS if name == operation), None)
    if sizes and limit:
        axis.plot(
            sizes, [limit * f for f in floors], linestyle="--", color=COLORS["floor"], alpha=0.6,
            label=f"{limit:g}× floor (target)",
        )  # fmt: skip
    style_axis(axis, f"{TITLES[operation]}: latency", "median ms, bar up to p90")


def statements_panel(axis, results: Results, operation: str) -> None:
    for variant in VARIANTS:
        sizes, counts = series(results, operation, variant, "sql_statements")
        if sizes:
            axis.plot(
                sizes, counts, label=LABELS[variant], color=COLORS[variant],
                marker=MARKERS[variant], linewidth=1.8,
            )  # fmt: skip
            for size, count in zip(sizes, counts, strict=True):
                axis.annotate(f"{count:,}", (size, count), textcoords="offset points", xytext=(0, 6),
                              ha="center", fontsize=7, color=COLORS[variant])  # fmt: skip
    style_axis(axis, f"{TITLES[operation]}: SQL statements per request", "statements")
    low, high = axis.get_ylim()
    axis.set_ylim(low, high * 3)  # room for the labels above the top points


def style_axis(axis, title: str, ylabel: str) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_title(title, fontsize=11)
    axis.set_xlabel("friends of the viewer (log)")
    axis.set_ylabel(f"{ylabel} (log)")
    plain = FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}")
    axis.xaxis.set_major_formatter(plain)
    axis.yaxis.set_major_formatter(plain)
    axis.grid(True, which="major", alpha=0.3)
    axis.grid(True, which="minor", alpha=0.1)
    handles, labels = axis.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: "target" in labels[i])  # the target line last
    axis.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8)


# --- entry point ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("bench-output"), help="the bench's output folder")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where benchmarks.md and .png go")
    parser.add_argument("--readme", type=Path, default=Path("README.md"), help="whose headline block to rewrite")
    parser.add_argument("--baseline", type=Path, default=BASELINE_FILE, help="issue 12's before figures")
    args = parser.parse_args(argv)
    inputs = Inputs.read(args.input, args.baseline)
    if inputs is None:
        parser.error(f"{args.input / 'inprocess.json'} is missing: run `python -m bench` first.")
    args.docs.mkdir(parents=True, exist_ok=True)
    (args.docs / "benchmarks.md").write_text(render_markdown(inputs))
    render_chart(inputs.run, args.docs / "benchmarks.png")
    print(f"Wrote {args.docs / 'benchmarks.md'} and {args.docs / 'benchmarks.png'}.")
    if inputs.run.get("ci"):
        print(f"A CI run: {args.readme} left as it is.")
    elif update_readme(args.readme, readme_headline(inputs)):
        print(f"Rewrote the headline figures in {args.readme}.")
    else:
        print(f"WARNING: {args.readme} has no headline block ({HEADLINE_START} ... {HEADLINE_END}): left as it is.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
