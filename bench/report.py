"""`python -m bench.report`: docs/benchmarks.md and docs/benchmarks.png from the bench's output.

Reads bench-output/inprocess.json (`python -m bench`, required) and, when present,
bench-output/http.json (`python -m bench.http_load`) and bench-output/profile.json
(`python -m bench.profile`). Every figure in the page comes from those files, and so
does the verdict on each target of issue 3: the page is regenerated, never edited.
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

# Issue 3's targets.
HOME_MAX_STATEMENTS = 7
FLOOR_RATIO = 3.0
HOME_RATIO_SIZES = (100, 1000)
MIN_RPS = 40.0
RPS_FRIENDS = 100
MAX_GROWTH_PCT = 5.0
SOAK_REQUESTS = 10_000

MET, MISSED, UNKNOWN = "**met**", "**missed**", "not measured"
STALE = "not counted: older than this run"


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


def targets(results: Results, http: Extra) -> list[list[str]]:
    """[target, figures, verdict] for each of issue 3's targets."""
    return [
        constant_statements(results),
        home_statements(results),
        *[home_near_floor(results, friends) for friends in HOME_RATIO_SIZES],
        feed_near_floor(results),
        throughput(http),
        memory_growth(http),
    ]


def ours_statements(results: Results, operation: str) -> dict[int, int]:
    found = {f: results.value(operation, f, "ours", "sql_statements") for f in results.sizes}
    return {f: n for f, n in found.items() if n is not None}


def constant_statements(results: Results) -> list[str]:
    figures, constant = [], True
    for operation in TITLES:
        by_size = ours_statements(results, operation)
        constant &= len(set(by_size.values())) == 1
        figures.append(f"{operation}: " + ", ".join(str(n) for n in by_size.values()))
    sizes = f"{number(results.sizes[0])} to {number(results.sizes[-1])} friends"
    return [f"SQL statements constant from {sizes}, every operation", "; ".join(figures), verdict(constant)]


def home_statements(results: Results) -> list[str]:
    by_size = ours_statements(results, "home_screen")
    worst = max(by_size.values(), default=None)
    met = worst is not None and worst <= HOME_MAX_STATEMENTS and len(set(by_size.values())) == 1
    figure = "–" if worst is None else f"{worst} (authentication included)"
    return [f"Home screen: at most {HOME_MAX_STATEMENTS} SQL statements", figure, verdict(met, worst is not None)]


def home_near_floor(results: Results, friends: int) -> list[str]:
    label = f"Home screen within {FLOOR_RATIO:g}× of the floor at {number(friends)} friends"
    ratio = results.ratio("home_screen", friends, "ours", "floor")
    if ratio is None:
        return [label, "–", UNKNOWN]
    ours = results.value("home_screen", friends, "ours", "median")
    floor = results.value("home_screen", friends, "floor", "median")
    naive = results.ratio("home_screen", friends, "naive", "ours")
    figures = f"{number(ours)} ms vs {number(floor)} ms: {times(ratio)}"
    if naive is not None:
        figures += f" (naive ÷ ours: {times(naive)})"
    return [label, figures, verdict(ratio <= FLOOR_RATIO)]


def feed_near_floor(results: Results) -> list[str]:
    label = f"Flat feed within {FLOOR_RATIO:g}× of the floor (every size)"
    ratios = {f: results.ratio("friends_feed", f, "ours", "floor") for f in results.sizes}
    ratios = {f: r for f, r in ratios.items() if r is not None}
    if not ratios:
        return [label, "–", UNKNOWN]
    figures = ", ".join(f"{times(r)} at {number(f)}" for f, r in ratios.items())
    return [label, figures, verdict(max(ratios.values()) <= FLOOR_RATIO)]


def throughput(http: Extra) -> list[str]:
    label = f"HTTP: at least {MIN_RPS:g} home-screen requests/s at {RPS_FRIENDS} friends"
    runs = [run for run in (http.data or {}).get("runs") or [] if run and run.get("friends") == RPS_FRIENDS]
    if not runs:
        return [label, "–", UNKNOWN]
    best = max(runs, key=lambda run: run.get("rps") or 0)
    figures = (
        f"{number(best.get('rps'))} requests/s (concurrency {best.get('concurrency', '?')}, "
        f"{best.get('duration_s', '?')} s, {best.get('errors', '?')} errors)"
    )
    if http.stale:
        return [label, figures, STALE]
    return [label, figures, verdict((best.get("rps") or 0) >= MIN_RPS and not best.get("errors"))]


def memory_growth(http: Extra) -> list[str]:
    label = f"HTTP: worker memory grows < {MAX_GROWTH_PCT:g}% over {number(SOAK_REQUESTS)} requests"
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
    return [label, figures, verdict(max(growths) < MAX_GROWTH_PCT)]


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


def targets_section(results: Results, http: Extra) -> list[str]:
    return [
        "## Issue 3's targets",
        "",
        "Medians, same run, same data. A verdict is computed from the figures below.",
        "",
        *table(["target", "measured", "verdict"], targets(results, http), right_from=3),
    ]


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


HTTP_HEADERS = {"duration_s": "duration s", "rps": "requests/s"}


def http_section(extra: Extra) -> list[str]:
    http, source = extra.data, extra.source
    lines = ["## HTTP throughput (bench/http_load.py)", ""]
    if not http or not http.get("runs"):
        return [*lines, "Not measured (bench-output/http.json is missing): `python -m bench.http_load`."]
    machine = http.get("machine") or "machine not given"
    lines += [f"The Procfile's web process on 127.0.0.1 under wrk, home screen ({machine}). From {source}.", ""]
    lines += table(*http_runs_table(http["runs"]))
    if http.get("soak"):
        lines += ["", "Memory soak:", "", *soak_table(http["soak"])]
    return lines


def http_runs_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Every key the runs have: latency percentiles and worker RSS spread into columns."""
    runs = [run for run in runs if run]
    plain = [k for k in dict.fromkeys(k for run in runs for k in run) if k not in ("latency_ms", "workers")]
    percentiles = list(dict.fromkeys(p for run in runs for p in run.get("latency_ms") or {}))
    headers = [*(HTTP_HEADERS.get(k, k) for k in plain), *(f"{p} ms" for p in percentiles)]
    headers.append("worker RSS MB before → after")
    rows = [
        [
            *(cell(run.get(k)) for k in plain),
            *(cell((run.get("latency_ms") or {}).get(p)) for p in percentiles),
            workers_cell(run.get("workers") or []),
        ]
        for run in runs
    ]
    return headers, rows


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
    rows = [[bucket, number(ms), f"{100 * ms / total:.0f}%"] for bucket, ms in split.items()]
    lines += [
        f"cProfile of the {profile.get('operation', 'home_screen')} request at "
        f"{number(profile.get('friends'))} friends, {number(profile.get('total_ms'))} ms per request under "
        f"the profiler (which inflates Python-heavy code: the split matters, not the total). From {source}.",
        "",
        *table(["part", "ms", "share"], rows),
    ]
    top = profile.get("top_functions") or []
    if top:
        lines += ["", "Top functions by own time:", ""]
        lines += table(["function", "ms per request"], ([f"`{name}`", number(ms, 2)] for name, ms in top[:10]))
    return lines


def violations_section(run: dict[str, Any]) -> list[str]:
    found = run.get("violations") or []
    if not found:
        return ["All checks passed: SQL counts as expected, naive and floor answers equal to ours."]
    return ["**Checks failed in this run:**", "", *(f"- {violation}" for violation in found)]


def render_markdown(run: dict[str, Any], inputs: Path) -> str:
    results = Results(run)
    http, profile = load_extra(inputs / "http.json", run), load_extra(inputs / "profile.json", run)
    sections = [
        header(run),
        targets_section(results, http),
        ["![Latency and SQL statements against friends](benchmarks.png)"],
        *(operation_section(results, operation) for operation in TITLES),
        sync_section(run),
        method_section(run),
        data_section(run),
        http_section(http),
        profile_section(profile),
        violations_section(run),
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


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
    if sizes:
        axis.plot(
            sizes, [FLOOR_RATIO * f for f in floors], linestyle="--", color=COLORS["floor"], alpha=0.6,
            label=f"{FLOOR_RATIO:g}× floor (target)",
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
    args = parser.parse_args(argv)
    run = load_json(args.input / "inprocess.json")
    if run is None:
        parser.error(f"{args.input / 'inprocess.json'} is missing: run `python -m bench` first.")
    args.docs.mkdir(parents=True, exist_ok=True)
    (args.docs / "benchmarks.md").write_text(render_markdown(run, args.input))
    render_chart(run, args.docs / "benchmarks.png")
    print(f"Wrote {args.docs / 'benchmarks.md'} and {args.docs / 'benchmarks.png'}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
