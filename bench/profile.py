"""Where the home screen's time goes at 1,000 friends (issue 3): a cProfile split.

`python -m bench.profile [--friends 1000] [--requests 10] [--skip-seed]`

Seeds the bench database (as bench.http_load does), then runs the home-screen request
in-process through `GraphQLView.as_view()` with a Bearer token: a few warm-up requests,
then --requests requests under cProfile. Each function's own time (tottime) is charged to
one bucket by its file: `sql` (django/db/, psycopg2), `loaders` (loaders/,
graphql_sync_dataloaders), `graphql` (graphql-core, graphene, graphene-django, graphql-relay, the optimizer,
schema/ but view.py), `serialization` (orjson, json, schema/view.py), `other` (the rest).
C builtins (isinstance, dict.get, ...) and code without a file (`<string>`, `<frozen ...>`)
go to the bucket their name says (psycopg2's cursor methods, orjson) or else to their callers'
buckets, in proportion to the time cProfile recorded per caller.

cProfile inflates times (most for code making many small Python calls, i.e. GraphQL
execution), so total_ms is not the request's real latency: the split is what matters.
Writes bench-output/profile.json and prints it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.http_load import DEFAULT_DATABASE_URL, OPERATION_FILE, OUTPUT_DIR, ROOT, VARIABLES, prepare_database

BUCKETS = ("sql", "loaders", "graphql", "serialization", "other")
# First component of a path under site-packages (or the stdlib) -> bucket.
PACKAGE_BUCKETS = {
    "psycopg2": "sql",
    "psycopg": "sql",
    "graphql_sync_dataloaders": "loaders",
    "graphql": "graphql",
    "graphene": "graphql",
    "graphene_django": "graphql",
    "graphene_django_optimizer": "graphql",
    "graphql_relay": "graphql",
    "orjson": "serialization",
    "json": "serialization",
}
# Substrings of a C builtin's name that say where it belongs, whoever calls it.
BUILTIN_BUCKETS = {"psycopg2": "sql", "orjson": "serialization", "_json": "serialization"}
TOP = 15

FuncKey = tuple[str, int, str]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dedicated database (created if missing)")
    parser.add_argument("--friends", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=10, help="profiled requests")
    parser.add_argument("--warmup", type=int, default=3, help="unprofiled requests first")
    parser.add_argument("--skip-seed", action="store_true", help="reuse the data already in the database")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR / "profile.json")
    return parser.parse_args(argv)


def setup_django(database_url: str) -> None:
    """Test settings (DEBUG off, no SQL recording) against the bench database."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()


def home_screen() -> tuple[Any, Any]:
    """The view and a function building one home-screen request for it (with a fresh token)."""
    from django.test import RequestFactory

    from calendarapp.models import AuthToken, User
    from schema.view import GraphQLView

    token = AuthToken.issue(User.objects.get(username="power"))
    body = json.dumps({"query": OPERATION_FILE.read_text(), "variables": VARIABLES})
    view = GraphQLView.as_view()
    factory = RequestFactory()

    def make_request() -> Any:
        return factory.post(
            "/graphql", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )

    return view, make_request


def check(response: Any, friends: int) -> None:
    answer = json.loads(response.content)
    if response.status_code != 200 or answer.get("errors"):
        raise SystemExit(f"The home screen failed ({response.status_code}): {answer.get('errors')}")
    page = answer["data"]["viewer"]["friends"]
    if page["totalCount"] != friends or len(page["edges"]) != min(100, friends):
        raise SystemExit(f"Expected 100 of {friends} friends, got {len(page['edges'])} of {page['totalCount']}")


def profile_requests(view: Any, make_request: Any, count: int) -> pstats.Stats:
    """Profile `count` requests; only the view's work is inside the profile, not building requests."""
    profiler = cProfile.Profile()
    for _ in range(count):
        request = make_request()
        profiler.enable()
        view(request)
        profiler.disable()
    return pstats.Stats(profiler)


def bucket_of_file(filename: str) -> str:
    """The bucket of a Python function, from its source file's path."""
    path = Path(filename).resolve().as_posix() if filename.startswith("/") else filename
    if "/site-packages/" in path:
        inside = path.rpartition("/site-packages/")[2]
        if inside.startswith("django/db/"):
            return "sql"
        return PACKAGE_BUCKETS.get(inside.split("/")[0], "other")
    root = ROOT.as_posix() + "/"
    if path.startswith(root):
        inside = path.removeprefix(root)
        if inside == "schema/view.py":
            return "serialization"
        if inside.startswith("schema/"):
            return "graphql"
        return "loaders" if inside.startswith("loaders/") else "other"
    return "serialization" if "/json/" in path else "other"  # the stdlib


def is_builtin(key: FuncKey) -> bool:
    """C builtins ("~"), and Python code without a source file (namedtuple's `<string>`, frozen importlib)."""
    return key[0] == "~" or key[0].startswith("<")


def charge(key: FuncKey, seconds: float, stats: dict, split: dict[str, float], depth: int = 0) -> None:
    """Add `seconds` of `key`'s own time to the split; builtins follow their callers (3 levels)."""
    if not is_builtin(key):
        split[bucket_of_file(key[0])] += seconds
        return
    named = next((bucket for part, bucket in BUILTIN_BUCKETS.items() if part in key[2]), None)
    callers = stats[key][4]
    caller_time = sum(entry[2] for entry in callers.values())
    if named or depth >= 3 or not callers or caller_time <= 0:
        split[named or "other"] += seconds
        return
    for caller, entry in callers.items():
        charge(caller, seconds * entry[2] / caller_time, stats, split, depth + 1)


def split_ms(stats: pstats.Stats, requests: int) -> dict[str, float]:
    split: dict[str, float] = defaultdict(float)
    for key, (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        charge(key, tottime, stats.stats, split)
    return {bucket: round(1000 * split[bucket] / requests, 2) for bucket in BUCKETS}


def function_name(key: FuncKey) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    path = Path(filename).as_posix()
    if "/site-packages/" in path:
        path = path.rpartition("/site-packages/")[2]
    elif path.startswith(ROOT.as_posix() + "/"):
        path = path.removeprefix(ROOT.as_posix() + "/")
    return f"{path}:{line}({name})"


def top_functions(stats: pstats.Stats, requests: int) -> list[list[Any]]:
    ranked = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:TOP]
    return [[function_name(key), round(1000 * row[2] / requests, 2)] for key, row in ranked]


def unprofiled_ms(view: Any, make_request: Any, count: int) -> float:
    """Median wall time of `count` requests without the profiler, for scale."""
    times = []
    for _ in range(count):
        request = make_request()
        began = time.perf_counter()
        view(request)
        times.append(1000 * (time.perf_counter() - began))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.skip_seed:
        prepare_database(args.database_url, args.friends)
    setup_django(args.database_url)
    view, make_request = home_screen()
    for _ in range(max(1, args.warmup)):
        check(view(make_request()), args.friends)
    from config.runtime import tune_garbage_collector

    tune_garbage_collector()  # as the web process has it (config/wsgi.py)
    real_ms = unprofiled_ms(view, make_request, args.requests)
    stats = profile_requests(view, make_request, args.requests)
    split = split_ms(stats, args.requests)
    report = {
        "friends": args.friends,
        "operation": "home_screen",
        "requests": args.requests,
        "total_ms": round(1000 * stats.total_tt / args.requests, 2),
        "split_ms": split,
        "top_functions": top_functions(stats, args.requests),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    total = sum(split.values()) or 1
    shares = ", ".join(f"{bucket} {100 * ms / total:.0f}%" for bucket, ms in split.items())
    print(f"\nper request: {real_ms:.1f} ms unprofiled (median of {args.requests}), {report['total_ms']} ms profiled")
    print(f"split: {shares}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
