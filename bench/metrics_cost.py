"""What the Prometheus metrics (config/metrics.py) cost a request: the home screen in-process,
through Django's whole handler (bench/handler.py), with the metrics' hooks recording and with
them no-ops, in prometheus-client's multiprocess mode as under gunicorn (every figure written to
a memory-mapped file).

`python -m bench.metrics_cost [--friends 100] [--requests 200] [--rounds 9] [--skip-seed]`

The two ways alternate request by request (each pair's order reversed from the last's); the
figures are each way's median of its rounds' medians, their ratio, the median of the pairs'
differences, and the hooks' own time called directly. Writes bench-output/metrics_cost.json
(read by bench/report.py) and prints the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from .environment import configure_django, ensure_database, machine, seeded_bench_parser, write_json
from .handler import WholeRequest, log_like_the_web_process, quiet_request_log
from .harness import OPERATION_FILE, VARIABLES

DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/calendar_bench_metrics"
HOOKS = ("request_finished", "loader_batch", "count_errors")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = seeded_bench_parser(
        "python -m bench.metrics_cost", __doc__.split("\n\n")[0], friends=100, database_url=DEFAULT_DATABASE_URL
    )
    parser.add_argument("--requests", type=int, default=200, help="home screens per way per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--output", type=Path, default=Path("bench-output") / "metrics_cost.json")
    return parser.parse_args(argv)


@contextmanager
def hooks_off():
    """The metrics' hooks do nothing (each call site still makes its call)."""
    from config import metrics

    with mock.patch.multiple(metrics, **{hook: lambda *arguments: None for hook in HOOKS}):
        yield


@contextmanager
def hooks_on():
    yield


def timed(request: WholeRequest, body: str, token: str) -> float:
    environ = request.environ("/graphql", body, token)
    started = time.perf_counter()
    answer = request.send(environ)
    seconds = time.perf_counter() - started
    assert answer.status == 200 and b'"errors"' not in answer.content, answer.content[:500]
    return seconds


def hooks_alone(calls: int = 2000) -> float:
    """Seconds the hooks of one home screen take, called directly: the request's figures, its
    six loader batches, its answer's errors (none)."""
    from django.test import RequestFactory

    from config import metrics

    request = RequestFactory().post("/graphql")
    request.graphql_operation_names = ["HomeScreen"]
    loaders = [type(f"Loader{number}", (), {}) for number in range(6)]
    answer = {"data": {}}
    started = time.perf_counter()
    for _ in range(calls):
        metrics.request_finished(request, 0.03, 4, 100_000)
        for loader in loaders:
            metrics.loader_batch(loader, 100)
        metrics.count_errors(answer)
    return (time.perf_counter() - started) / calls


def main(argv: list[str] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="calendar-metrics-bench-") as metrics_dir:
        # Before prometheus-client is imported: it picks its mode then, as in the web process.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        return measure(parse_args(argv))


def measure(args: argparse.Namespace) -> int:
    # One viewer's thousands of home screens, as the HTTP bench sends them (bench/harness.py).
    os.environ["VIEWER_COST_BUDGET"] = str(10**15)
    log_like_the_web_process()
    ensure_database(args.database_url)
    configure_django(args.database_url)
    from django.core.management import call_command

    from calendarapp.management.commands.seed_demo import POWER_USERNAME
    from calendarapp.models import AuthToken, User

    load_average_start = os.getloadavg()
    call_command("migrate", interactive=False, verbosity=0)
    if not args.skip_seed:
        call_command("seed_demo", friends=args.friends, events_per_day=10, days=3, reset=True, verbosity=0)
    quiet_request_log()
    token = AuthToken.issue(User.objects.get(username=POWER_USERNAME))
    body = json.dumps({"query": OPERATION_FILE.read_text(), "variables": VARIABLES})
    request = WholeRequest()
    ways = {"metrics on": hooks_on, "hooks no-ops": hooks_off}
    for way in ways.values():  # warm both: the document cache, the connection, the files
        with way():
            for _ in range(20):
                timed(request, body, token)
    # Request by request, the two ways in turn (each pair's order alternating), so that both
    # see the same load from whatever else runs on the machine.
    times: dict[str, list[float]] = {name: [] for name in ways}
    for pair in range(args.rounds * args.requests):
        for name in list(ways) if pair % 2 == 0 else list(reversed(ways)):
            with ways[name]():
                times[name].append(timed(request, body, token))
    rounds = {
        name: [
            statistics.median(values[start : start + args.requests]) for start in range(0, len(values), args.requests)
        ]
        for name, values in times.items()
    }
    on, off = (statistics.median(rounds[name]) for name in ways)
    paired = statistics.median(a - b for a, b in zip(*times.values(), strict=True))
    alone = hooks_alone()
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": load_average_start,
        "friends": args.friends,
        "requests": args.requests,
        "rounds": args.rounds,
        "ways": {name: {"median_ms": round(statistics.median(rounds[name]) * 1000, 3)} for name in ways},
        "ratio_on_to_no_ops": round(on / off, 4),
        "paired_difference_us": round(paired * 1e6, 1),
        "hooks_alone_us": round(alone * 1e6, 1),
        "hooks_share": alone / off,
        "load_average_end": os.getloadavg(),
    }
    write_json(args.output, report)
    print(f"home screen, {args.friends} friends, {args.rounds} rounds x {args.requests} pairs of requests")
    for name in ways:
        medians = " ".join(f"{m * 1000:.2f}" for m in rounds[name])
        print(f"  {name:13} median of the rounds' medians {statistics.median(rounds[name]) * 1000:.3f} ms ({medians})")
    print(f"  ratio on / no-ops: {on / off:.4f}; median of the pairs' differences {paired * 1e6:+.0f} µs")
    print(f"  the hooks alone: {alone * 1e6:.1f} µs a home screen, {alone / off:.2%} of its median")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
