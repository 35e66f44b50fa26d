"""Where an operation's time goes (issues 3 and 12): a cProfile split into buckets that keep
their meaning whichever executor runs the operation (graphql-core's or a compiled plan).

`python -m bench.profile [--operation home_screen] [--friends 1000] [--requests 10] [--skip-seed]`

Seeds the bench database as the in-process bench does (bench/inprocess.py), then sends the
operation (tests/operations/<operation>.graphql, or `typename`: `{ __typename }`) with the power
user's Bearer token through Django's whole handler (bench/handler.py: middleware, request log,
signals, view), with production's settings: a few warm-up requests, --requests timed ones
without the profiler, then --requests under cProfile.

Each function's own time (tottime) is charged to one bucket (BUCKETS) by its file and, for
Django's ORM, its name (`bucket_of`). C builtins (isinstance, dict.get, ...), code without a
file (`<string>`, `<frozen ...>`) and general helpers (the standard library but json, logging
and uuid; asgiref) go to the bucket their name says (psycopg2's cursor methods, orjson) or else
to their callers' buckets, in proportion to the time cProfile recorded per caller. The
profiled requests run with the garbage collector off, so that its pauses are not charged to
whichever function allocated last; the collector's own time is measured on the unprofiled
requests (gc.callbacks) and reported apart. A module the map does not know lands in `other`,
and the files with most time there are listed, so a stale map shows.

cProfile inflates times (most for code making many small Python calls), and on a busy machine a
process descheduled mid-function has the wait charged to that function: so total_ms is not the
request's real latency and a single function's figure can jump; the buckets' split is what
matters. Measured without the profiler: real_ms (median), gc_ms, sql_wall_ms (the statements'
wall time, round trips included) and floor_ms, the one-statement floor's (bench/floor.py) for
the same operation, where it has one.
Writes bench-output/profile.json (profile-<operation>.json for another operation) and prints it.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from .environment import REPO, configure_django, ensure_database, machine, seeded_bench_parser, write_json
from .handler import WholeRequest, log_like_the_web_process, quiet_request_log

# The buckets, in the report's order, and what each holds.
BUCKETS = {
    "sql": "SQL and driver: psycopg2, Django's database backend, waiting for PostgreSQL",
    "rows": "row building: model instances or value rows from fetched rows, reading their columns",
    "orm": "ORM: building and compiling querysets (calendarapp's visibility rules included)",
    "loaders": "loaders/: batching, keys, futures, pages cut from rows",
    "execution": "execution: graphql-core, graphene, the executor or the plan, resolvers, IDs (schema/)",
    "serialization": "serialization: orjson, json",
    "document": "document: the pipeline's stages before execution: variables, documents, limits, budget",
    "request": "request: Django's handler, middleware, URLs, the view, authentication, the request log",
    "other": "other: anything the map does not name (see the unclassified files)",
}
# First component of a path under site-packages -> bucket (django/ and its db/ apart, below).
PACKAGE_BUCKETS = {
    "psycopg2": "sql",
    "graphql": "execution",
    "graphene": "execution",
    "graphene_django": "execution",
    "graphene_django_optimizer": "execution",
    "graphql_relay": "execution",
    "promise": "execution",
    "cryptography": "execution",  # the IDs' AES
    "orjson": "serialization",
    "whitenoise": "request",
    "django_redis": "document",
    "redis": "document",
}
# Files of this project -> bucket, by path prefix; the first that matches wins. A module
# of schema/ that is not named here is execution (the executor, the plan, types, resolvers).
PROJECT_BUCKETS = (
    ("loaders/", "loaders"),
    ("schema/view.py", "request"),
    ("schema/auth.py", "request"),
    ("schema/context.py", "request"),
    ("schema/instrumentation.py", "request"),
    ("schema/pipeline.py", "document"),
    ("schema/documents.py", "document"),
    ("schema/validation.py", "document"),
    ("schema/variables.py", "document"),
    ("schema/limits.py", "document"),
    ("schema/persisted_queries.py", "document"),
    ("schema/trusted_documents.py", "document"),
    ("schema/introspection.py", "document"),
    ("schema/", "execution"),
    ("throttling/", "document"),
    ("calendarapp/ids.py", "execution"),
    ("calendarapp/tokens.py", "request"),
    ("calendarapp/rules.py", "orm"),
    ("calendarapp/models.py", "orm"),
    ("calendarapp/timezones.py", "execution"),
    ("config/", "request"),
)
# Django's ORM: these functions turn fetched rows into objects; the rest of django/db/models
# builds and compiles queries. (file under django/db/models/, function name)
ROW_FUNCTIONS = {
    ("sql/compiler.py", "results_iter"),
    ("sql/compiler.py", "apply_converters"),
    ("sql/compiler.py", "get_converters"),
    ("query.py", "__iter__"),  # ModelIterable, ValuesIterable, ValuesListIterable, ...
    ("query.py", "populate"),  # RelatedPopulator: select_related objects
    ("query.py", "get_related_populators"),
    ("query.py", "_fetch_all"),
    ("query_utils.py", "__get__"),  # DeferredAttribute: reading a column
    ("fields/related_descriptors.py", "__get__"),  # reading a foreign key's cached object
}
# Substrings of a C builtin's name that say where it belongs, whoever calls it.
BUILTIN_BUCKETS = {"psycopg2": "sql", "orjson": "serialization", "_json": "serialization"}
# Modules of the standard library -> bucket. The rest of it (inspect, enum, copy, base64, ...)
# is charged to its callers, as builtins are, and so are these helper packages.
STDLIB_BUCKETS = {"json": "serialization", "logging": "request", "uuid": "request"}
HELPER_PACKAGES = ("asgiref", "typing_extensions")
TRIVIAL_OPERATION = "typename"
TOP = 15

FuncKey = tuple[str, int, str]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from .operations import OPERATION_NAMES

    parser = seeded_bench_parser("python -m bench.profile", __doc__.split("\n\n")[0], friends=1000)
    parser.add_argument("--operation", default="home_screen", choices=(*OPERATION_NAMES, TRIVIAL_OPERATION))
    parser.add_argument("--requests", type=int, default=10, help="timed requests, then as many profiled")
    parser.add_argument("--warmup", type=int, default=3, help="requests before any timing")
    parser.add_argument("--output", type=Path, help="default bench-output/profile.json (home screen)")
    args = parser.parse_args(argv)
    if args.output is None:
        name = "profile.json" if args.operation == "home_screen" else f"profile-{args.operation}.json"
        args.output = Path("bench-output") / name
    return args


# --- the requests ------------------------------------------------------------------------------


def request_body(operation: str, fixture) -> str:
    from .operations import OPERATIONS

    if operation == TRIVIAL_OPERATION:
        return json.dumps({"query": "{ __typename }"})
    chosen = next(each for each in OPERATIONS if each.name == operation)
    return json.dumps({"query": chosen.query, "variables": chosen.variables(fixture.event_global_id)})


def check(answer: Any, operation: str) -> None:
    document = json.loads(answer.content)
    if answer.status != 200 or document.get("errors") or document.get("data") is None:
        raise SystemExit(f"{operation} failed ({answer.status}): {str(document)[:2000]}")


class GcTimer:
    """The garbage collector's pauses, timed by gc.callbacks while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


class SqlTimer:
    """Statements and their wall time (round trips, PostgreSQL's work), as a `connection.execute_wrapper`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def unprofiled(client: WholeRequest, path: str, body: str, token: str, count: int) -> dict[str, float]:
    """Median wall time of `count` requests without the profiler; the collector's pauses and the
    SQL statements' wall time per request (the statements Django runs: not the connection's
    health check)."""
    from django.db import connection

    times, statements = [], SqlTimer()
    with GcTimer() as collector, connection.execute_wrapper(statements):
        for _ in range(count):
            environ = client.environ(path, body, token)
            began = time.perf_counter()
            client.send(environ)
            times.append(1000 * (time.perf_counter() - began))
    return {
        "real_ms": round(statistics.median(times), 2),
        "gc_ms": round(1000 * collector.seconds / count, 2),
        "gc_collections": round(collector.collections / count, 2),
        "sql_wall_ms": round(1000 * statements.seconds / count, 2),
        "sql_statements": round(statements.count / count, 2),
    }


def profile_requests(client: WholeRequest, path: str, body: str, token: str, count: int) -> pstats.Stats:
    """Profile `count` requests, the collector off; only the handler's work is inside the profile."""
    profiler = cProfile.Profile()
    gc.disable()
    try:
        for _ in range(count):
            environ = client.environ(path, body, token)
            profiler.enable()
            client.send(environ)
            profiler.disable()
    finally:
        gc.enable()
    return pstats.Stats(profiler)


def floor_ms(operation: str, fixture, count: int) -> float | None:
    """The floor statement's median time for the operation (execute + fetch), or None."""
    from .floor import STATEMENTS
    from .measure import floor_runner, timed

    if operation not in STATEMENTS:
        return None
    runner = floor_runner(operation, fixture.floor_input)
    for _ in range(3):
        runner.run(None)
    return round(statistics.median(timed(runner) for _ in range(count)), 2)


# --- the split ---------------------------------------------------------------------------------


def bucket_of(filename: str, function: str) -> str:
    """The bucket of a Python function, from its source file's path (and, in Django's ORM, its name)."""
    path = Path(filename).resolve().as_posix() if filename.startswith("/") else filename
    if "/site-packages/" in path:
        return _package_bucket(path.rpartition("/site-packages/")[2], function)
    root = REPO.as_posix() + "/"
    if path.startswith(root):
        inside = path.removeprefix(root)
        return next((bucket for prefix, bucket in PROJECT_BUCKETS if inside.startswith(prefix)), "other")
    return stdlib_bucket(path) or "other"


def stdlib_bucket(path: str) -> str | None:
    """The bucket of a module of the standard library by its name (or its package's), if it has one."""
    module = Path(path).parent.name if Path(path).name == "__init__.py" else Path(path).stem
    return STDLIB_BUCKETS.get(module) or STDLIB_BUCKETS.get(Path(path).parent.name)


def _package_bucket(inside: str, function: str) -> str:
    if inside.startswith("django/db/backends/"):
        return "sql"
    if inside.startswith("django/db/models/"):
        if inside == "django/db/models/sql/compiler.py" and function == "execute_sql":
            return "sql"
        if inside == "django/db/models/base.py":
            return "rows"
        return "rows" if (inside.removeprefix("django/db/models/"), function) in ROW_FUNCTIONS else "orm"
    if inside.startswith("django/db/"):
        return "sql"  # connections, transactions, utils
    if inside.startswith("django/"):
        return "request"
    return PACKAGE_BUCKETS.get(inside.split("/")[0], "other")


def follows_callers(key: FuncKey) -> bool:
    """Whether `key`'s time is charged to its callers: C builtins ("~"), Python code without a
    source file (namedtuple's `<string>`, frozen importlib), general helpers (the standard
    library but the modules STDLIB_BUCKETS names; HELPER_PACKAGES)."""
    filename = key[0]
    if filename == "~" or filename.startswith("<"):
        return True
    if "/site-packages/" in filename:
        return filename.rpartition("/site-packages/")[2].split("/")[0] in HELPER_PACKAGES
    if filename.startswith(REPO.as_posix() + "/"):
        return False
    return stdlib_bucket(filename) is None


def charge(key: FuncKey, seconds: float, stats: dict, split: dict[str, float], depth: int = 0) -> None:
    """Add `seconds` of `key`'s own time to the split; builtins and helpers follow their callers
    (up to 3 levels; then `other`)."""
    if not follows_callers(key):
        split[bucket_of(key[0], key[2])] += seconds
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


def short_path(filename: str) -> str:
    path = Path(filename).as_posix()
    if "/site-packages/" in path:
        return path.rpartition("/site-packages/")[2]
    return path.removeprefix(REPO.as_posix() + "/")


def function_name(key: FuncKey) -> str:
    filename, line, name = key
    return name if filename == "~" else f"{short_path(filename)}:{line}({name})"


def top_functions(stats: pstats.Stats, requests: int) -> list[list[Any]]:
    ranked = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:TOP]
    return [[function_name(key), round(1000 * row[2] / requests, 2)] for key, row in ranked]


def top_by_bucket(stats: pstats.Stats, requests: int, count: int = 5) -> dict[str, list[list[Any]]]:
    """Each bucket's functions with most own time (builtins and helpers, which follow their
    callers, left out): what a bucket's figure is made of."""
    by_bucket: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for key, row in stats.stats.items():
        if not follows_callers(key):
            by_bucket[bucket_of(key[0], key[2])].append((row[2], function_name(key)))
    return {
        bucket: [[name, round(1000 * seconds / requests, 2)] for seconds, name in sorted(found, reverse=True)[:count]]
        for bucket in BUCKETS
        if (found := by_bucket.get(bucket))
    }


def unclassified_files(stats: pstats.Stats, requests: int) -> list[list[Any]]:
    """The files whose own time landed in `other`, most first: what the map may be missing."""
    by_file: dict[str, float] = defaultdict(float)
    for (filename, _line, name), row in stats.stats.items():
        if not follows_callers((filename, _line, name)) and bucket_of(filename, name) == "other":
            by_file[short_path(filename)] += row[2]
    ranked = sorted(by_file.items(), key=lambda item: item[1], reverse=True)[:8]
    return [[path, round(1000 * seconds / requests, 3)] for path, seconds in ranked]


# --- entry point -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    ensure_database(args.database_url)
    log_like_the_web_process()
    configure_django(args.database_url)
    quiet_request_log()
    from config.runtime import tune_garbage_collector

    from .inprocess import build_fixture, prepare_size

    fixture = build_fixture(args.friends, {}) if args.skip_seed else prepare_size(args.friends)
    client = WholeRequest()
    body = request_body(args.operation, fixture)
    for _ in range(max(1, args.warmup)):
        check(client.post("/graphql", body, fixture.token), args.operation)
    tune_garbage_collector()  # as the web process has it (config/asgi.py)
    timing = unprofiled(client, "/graphql", body, fixture.token, args.requests)
    stats = profile_requests(client, "/graphql", body, fixture.token, args.requests)
    split = split_ms(stats, args.requests)
    report = {
        "friends": args.friends,
        "operation": args.operation,
        "requests": args.requests,
        "machine": machine(),
        "path": "Django's whole handler (middleware, request log, signals, view), production settings",
        **timing,
        "floor_ms": floor_ms(args.operation, fixture, args.requests),
        "total_ms": round(1000 * stats.total_tt / args.requests, 2),
        "buckets": BUCKETS,
        "split_ms": split,
        "top_functions": top_functions(stats, args.requests),
        "top_by_bucket": top_by_bucket(stats, args.requests),
        "unclassified_files": unclassified_files(stats, args.requests),
    }
    write_json(args.output, report)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    total = sum(split.values()) or 1
    shares = ", ".join(f"{bucket} {100 * ms / total:.0f}%" for bucket, ms in split.items())
    print(
        f"\nper request: {timing['real_ms']} ms unprofiled (median of {args.requests}; GC {timing['gc_ms']} ms, "
        f"{timing['sql_statements']:g} SQL statements {timing['sql_wall_ms']} ms), "
        f"floor {report['floor_ms']} ms; {report['total_ms']} ms profiled with the GC off"
    )
    print(f"split: {shares}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
