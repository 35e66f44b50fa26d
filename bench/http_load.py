"""HTTP throughput and worker memory of the Procfile's web process, against the floor's
(issues 3 and 12).

`python -m bench.http_load [--sizes 100,1000] [--duration 10] [--rounds 3] [--soak-requests 10000] [--quick]`

For each size: seed a dedicated PostgreSQL database as the in-process bench does
(bench/inprocess.py: `seed_demo --friends N --events-per-day 10 --days 3`, VACUUM ANALYZE), start
the `web:` line of the Procfile on 127.0.0.1 with the bench's settings (bench/settings.py:
production's, plus the floor's endpoint `POST /bench/floor/<operation>`, bench/urls.py), log in
as `power`, and check once that every operation's floor answer over HTTP is our /graphql answer
(the same document). Then wrk loads the home screen at a fixed concurrency, ours and the floor
in turn for --rounds rounds of --duration seconds each (alternating, so both see the same
machine), reading each gunicorn worker's RSS before and after; the figures are the medians of
the rounds, and the ratio ours ÷ floor the median of the rounds' ratios. At 100 friends the
trivial operation `{ __typename }` with a token is measured the same way against the floor's
trivial statement (what any request costs: the view, authentication, middleware, request log),
and a soak of --soak-requests home screens follows on the same server, to see whether the
workers' memory grows. Any error (a status but 200, an answer with errors, a socket error)
fails the run.

Writes bench-output/http.json (read by bench/report.py) and prints a summary.
Everything is bounded in time and stays on 127.0.0.1: the server, wrk and every request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.environment import (
    DEFAULT_DATABASE_URL,
    configure_django,
    ensure_database,
    machine as machine_details,
    write_json,
)
from bench.floor import floor_body
from bench.harness import (
    OPENER,
    OUTPUT_DIR,
    ROOT,
    WARMUP_SECONDS,
    WrkResult,
    check_home_screen,
    django_env,
    graphql_request,
    gunicorn_shape,
    home_screen_body,
    login,
    machine,
    rss_by_worker,
    run_wrk,
    web_server,
    write_wrk_script,
)

SOAK_FRIENDS = 100
DEFAULT_MAX_SOAK_SECONDS = 600  # keeps make bench within about 25 minutes on a busy machine


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dedicated database (created if missing)")
    parser.add_argument("--sizes", default="100,1000", help="friends of `power`, comma-separated")
    parser.add_argument("--concurrency", type=int, default=8, help="open connections (wrk -c)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (wrk -t)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each round of load (ours, then the floor)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ours-then-floor per size (medians are kept)")
    parser.add_argument("--soak-requests", type=int, default=10000, help="requests of the memory soak; 0: no soak")
    parser.add_argument(
        "--soak-max-seconds", type=int, default=DEFAULT_MAX_SOAK_SECONDS, help="the soak's time bound (seconds)"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR / "http.json")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 friends, one round of 5 s, no soak")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.duration, args.rounds, args.soak_requests = "100", 5, 1, 0
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    return args


# --- the floor over HTTP ----------------------------------------------------------------------

# The web process's settings in this bench: production's, plus the floor's endpoint (bench/urls.py).
BENCH_SETTINGS = "bench.settings"
# The trivial operation: what any request costs, against the floor's trivial statement.
TRIVIAL_OPERATION = "typename"
TRIVIAL_QUERY = "{ __typename }"


def bench_env(database_url: str) -> dict[str, str]:
    """The web process's environment (django_env) with the bench's settings, so that it serves
    /bench/floor/<operation> beside /graphql; nothing else differs from production's."""
    return {**django_env(database_url), "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS}


def floor_url(graphql_url: str, operation: str) -> str:
    return graphql_url.removesuffix("/graphql") + f"/bench/floor/{operation}"


@dataclass(frozen=True)
class Target:
    """What wrk loads: `name` (ours or floor), the URL, the JSON body and the token (None: none)."""

    name: str
    url: str
    body: bytes
    token: str | None


def targets(operation: str, graphql_url: str, token: str, fixture) -> tuple[Target, Target]:
    """Ours and the floor for `operation`: one of the app's operations (bench/operations.py), with
    the bench's variables, or the trivial one."""
    from bench.operations import OPERATIONS

    if operation == TRIVIAL_OPERATION:
        query, variables = TRIVIAL_QUERY, {}
    else:
        chosen = next(each for each in OPERATIONS if each.name == operation)
        query, variables = chosen.query, chosen.variables(fixture.event_global_id)
    ours = Target("ours", graphql_url, json.dumps({"query": query, "variables": variables}).encode(), token)
    floor = Target("floor", floor_url(graphql_url, operation), floor_body(fixture.floor_input), None)
    return ours, floor


def fetch(target: Target) -> bytes:
    """One POST of the target's body; the answer's bytes (an HTTP error status raises)."""
    with OPENER.open(graphql_request(target.url, target.body, target.token), timeout=60) as response:
        return response.read()


def check_floor_answers(graphql_url: str, token: str, fixture) -> list[dict]:
    """Once per server: every operation's floor answer over HTTP is the same document as ours
    (bench.operations.same_document: PostgreSQL writes date-times with fewer digits, and its
    JSON with spaces), with the same numbers of friends, events and attendees."""
    from bench.floor import STATEMENTS
    from bench.operations import census, first_difference, same_document

    checked = []
    for operation in STATEMENTS:
        ours, floor = (fetch(target) for target in targets(operation, graphql_url, token, fixture))
        ours_document, floor_document = json.loads(ours), json.loads(floor)
        if ours_document.get("errors") or ours_document.get("data") is None:
            raise SystemExit(f"{operation}: our answer has errors: {str(ours_document)[:2000]}")
        same = same_document(ours_document, floor_document) and census(ours_document) == census(floor_document)
        if not same:
            difference = first_difference(ours_document, floor_document)
            raise SystemExit(f"{operation}: the floor's answer over HTTP differs from ours: {difference}")
        checked.append({"operation": operation, "same": same, "ours_bytes": len(ours), "floor_bytes": len(floor)})
    print("floor over HTTP: " + ", ".join(f"{each['operation']} same as ours" for each in checked))
    return checked


# --- the measurements -------------------------------------------------------------------------


def wrk_figures(results: list[WrkResult]) -> dict:
    """Rounds of one target: the median rate, every round's, and the median round's latency."""
    middle = sorted(results, key=lambda result: result.rps)[(len(results) - 1) // 2]
    return {
        "rps": round(statistics.median(result.rps for result in results), 2),
        "rounds_rps": [result.rps for result in results],
        "requests": sum(result.requests for result in results),
        "errors": sum(result.errors for result in results),
        "latency_ms": middle.latency_ms,
    }


def workers_report(before: dict[int, int | None], after: dict[int, int | None], growth: bool) -> list[dict]:
    """Before/after RSS per worker present before the load (None after if it was replaced)."""
    rows = []
    for pid, rss_before in before.items():
        row = {"pid": pid, "rss_before_kb": rss_before, "rss_after_kb": after.get(pid)}
        if growth:
            row["growth_pct"] = (
                round(100 * (row["rss_after_kb"] - rss_before) / rss_before, 2)
                if rss_before and row["rss_after_kb"]
                else None
            )
        rows.append(row)
    return rows


def measure(
    operation: str, pair: tuple[Target, Target], master: int, args: argparse.Namespace, directory: Path, friends: int
) -> dict:
    """Warm both up (wrk for a few seconds each, so every worker has served), then --rounds rounds
    of ours and the floor, in alternating order; each worker's RSS before and after."""
    scripts = {
        target.name: write_wrk_script(directory, target.token, target.body, f"{operation}-{target.name}")
        for target in pair
    }
    by_name = {target.name: target for target in pair}
    for target in pair:
        run_wrk(target.url, scripts[target.name], args, WARMUP_SECONDS)
    before = rss_by_worker(master)
    results: dict[str, list[WrkResult]] = {"ours": [], "floor": []}
    for turn in range(args.rounds):
        for name in ("ours", "floor") if turn % 2 == 0 else ("floor", "ours"):
            results[name].append(run_wrk(by_name[name].url, scripts[name], args, args.duration))
    after = rss_by_worker(master)
    ratios = [ours.rps / floor.rps for ours, floor in zip(results["ours"], results["floor"], strict=True) if floor.rps]
    ours, floor = wrk_figures(results["ours"]), wrk_figures(results["floor"])
    return {
        "friends": friends,
        "operation": operation,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "ours": ours,
        "floor": floor,
        "round_ratios": [round(ratio, 4) for ratio in ratios],
        "ratio": round(statistics.median(ratios), 4) if ratios else None,
        "errors": ours["errors"] + floor["errors"],
        "workers": workers_report(before, after, growth=False),
    }


def soak(url: str, master: int, script: Path, args: argparse.Namespace, rps: float) -> dict:
    """Load long enough for --soak-requests requests at the measured rate (at most --soak-max-seconds)."""
    seconds = min(args.soak_max_seconds, math.ceil(args.soak_requests / max(rps, 0.1) * 1.15) + 2)
    print(f"soak: {seconds} s for {args.soak_requests} requests at ~{rps:.1f} requests/s")
    before = rss_by_worker(master)
    result = run_wrk(url, script, args, seconds)
    after = rss_by_worker(master)
    if result.requests < args.soak_requests:
        print(f"WARNING: the soak served {result.requests} requests, fewer than {args.soak_requests}")
    return {
        "friends": SOAK_FRIENDS,
        "requests": result.requests,
        "duration_s": round(result.seconds, 1),
        "rps": result.rps,
        "errors": result.errors,
        "workers": workers_report(before, after, growth=True),
    }


@dataclass
class Session:
    """What one server at one size measured."""

    runs: list[dict]
    soak: dict | None
    checked: list[dict]
    shape: dict


def session(args: argparse.Namespace, friends: int, operations: tuple[str, ...], soaked: bool) -> Session:
    """Seed `friends` (as the in-process bench does), serve, check the floor's answers, then
    measure `operations` against the floor and/or soak, on that one server."""
    from django.db import connection

    from bench.inprocess import prepare_size

    fixture = prepare_size(friends)
    connection.close()  # this process only seeded: nothing of it stays open under the load
    env = bench_env(args.database_url)
    log = OUTPUT_DIR / f"gunicorn-{friends}.log"
    with web_server(env, log) as (url, master), tempfile.TemporaryDirectory() as tmp:
        token = login(url)
        check_home_screen(url, token, friends)
        checked = [{"friends": friends, **each} for each in check_floor_answers(url, token, fixture)]
        runs = []
        for operation in operations:
            runs.append(measure(operation, targets(operation, url, token, fixture), master, args, Path(tmp), friends))
            print_run(runs[-1])
        soaked_result = None
        if soaked:
            script = write_wrk_script(Path(tmp), token, home_screen_body(), "soak")
            home = next((run for run in runs if run["operation"] == "home_screen"), None)
            rps = home["ours"]["rps"] if home else run_wrk(url, script, args, 5).rps
            soaked_result = soak(url, master, script, args, rps)
    return Session(runs, soaked_result, checked, gunicorn_shape(env))


def print_run(run: dict) -> None:
    ours, floor = run["ours"], run["floor"]
    ratio = "–" if run["ratio"] is None else f"{run['ratio']:.3f}"
    print(
        f"{run['friends']:>5} friends, {run['operation']}: ours {ours['rps']:7.1f} requests/s "
        f"(rounds {', '.join(f'{rps:.1f}' for rps in ours['rounds_rps'])}; p50 {ours['latency_ms']['p50']} ms), "
        f"floor {floor['rps']:7.1f} (rounds {', '.join(f'{rps:.1f}' for rps in floor['rounds_rps'])}; "
        f"p50 {floor['latency_ms']['p50']} ms); ours ÷ floor {ratio}; {run['errors']} errors",
        flush=True,
    )
    for worker in run["workers"]:
        print(f"        worker {worker['pid']}: RSS {worker['rss_before_kb']} kB -> {worker['rss_after_kb']} kB")


def print_soak(result: dict) -> None:
    print(
        f"soak at {result['friends']} friends: {result['requests']} requests in {result['duration_s']} s "
        f"({result['rps']} requests/s), {result['errors']} errors"
    )
    for worker in result["workers"]:
        print(
            f"        worker {worker['pid']}: RSS {worker['rss_before_kb']} kB -> {worker['rss_after_kb']} kB "
            f"({worker['growth_pct']:+}%)"
        )


def errors_of(report: dict) -> list[str]:
    """Every figure measured with errors: the bench asserts none."""
    found = [
        f"{run['operation']} at {run['friends']} friends: {run['ours']['errors']} errors (ours), "
        f"{run['floor']['errors']} (floor)"
        for run in report["runs"]
        if run["errors"]
    ]
    if report["soak"] and report["soak"]["errors"]:
        found.append(f"soak: {report['soak']['errors']} errors")
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    configure_django(args.database_url)  # this process seeds and picks the floor's input
    wants_soak = args.soak_requests > 0
    report: dict = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "machine_details": machine_details(),
        "load_average_start": os.getloadavg(),
        "wrk": {"concurrency": args.concurrency, "threads": args.threads, "duration_s": args.duration},
        "rounds": args.rounds,
        "runs": [],
        "answers_checked": [],
        "soak": None,
    }
    for index, friends in enumerate(args.sizes):
        # The trivial operation depends on no size: measured once, on the first server.
        operations = ("home_screen", TRIVIAL_OPERATION) if index == 0 else ("home_screen",)
        measured = session(args, friends, operations, soaked=wants_soak and friends == SOAK_FRIENDS)
        report["runs"] += measured.runs
        report["answers_checked"] += measured.checked
        report["soak"] = measured.soak or report["soak"]
        report["server"] = measured.shape
    if wants_soak and SOAK_FRIENDS not in args.sizes:
        report["soak"] = session(args, SOAK_FRIENDS, (), soaked=True).soak
    report["load_average_end"] = os.getloadavg()
    report["errors"] = errors_of(report)
    write_json(args.output, report)
    shape = f"c={args.concurrency}, t={args.threads}, {args.rounds} x {args.duration} s per target"
    print(f"\n{report['machine']}; {shape}")
    for run in report["runs"]:
        print_run(run)
    if report["soak"]:
        print_soak(report["soak"])
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    for error in report["errors"]:
        print(f"ERROR: {error}", file=sys.stderr)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
