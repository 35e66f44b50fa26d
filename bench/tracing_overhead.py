"""What tracing costs the home screen (config/tracing.py).

`python -m bench.tracing_overhead [--friends 100] [--requests 20] [--rounds 7] [--skip-seed]`

In-process through Django's whole handler (bench/handler.py, as bench/fixed_cost.py: tracing's
request span is a middleware's), the home screen with the power user's token, on the bench
database seeded at --friends, four ways; each round runs a short block of --requests requests of
each way in turn (tracing is installed before a block and uninstalled after it, untimed), many
rounds, so that the machine's other work falls on every way alike:

- off: nothing installed, as in production without OTEL_EXPORTER_OTLP_ENDPOINT;
- on, spans dropped: production's set-up (a batch span processor) with an exporter that drops
  what it is given: the cost of making the spans;
- on, OTLP/HTTP: production's set-up exporting to a local receiver in a process of its own
  (bench/otlp_sink.py), as to a collector beside the web process;
- off again: the same as off, later in the round: the noise between two identical ways.

A block's figure is its milliseconds per request, the export of the spans it queued included
(the requests' times plus that of flushing the span processor, which the web process's export
thread does on the same cores). Each way's median over the rounds, and the median of its
per-round ratio to `off`. Off, the only code a request runs that it did not before tracing is
one check of `tracing.tracer` per hook it passes (the request log, each operation, each loader
batch): those checks are also timed alone, and given as a share of the request.

Writes bench-output/tracing_overhead.json (read by bench/report.py) and prints the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .environment import configure_django, ensure_database, machine, seeded_bench_parser, write_json
from .fixed_cost import BENCH_SETTINGS, prepare
from .handler import WholeRequest, log_like_the_web_process, quiet_request_log
from .operations import DAY, OPERATIONS

OFF, DROPPED, OTLP, OFF_AGAIN = "off", "on, spans dropped", "on, OTLP/HTTP to a local receiver", "off again"
WAYS = (OFF, DROPPED, OTLP, OFF_AGAIN)
HOME_SCREEN = next(operation for operation in OPERATIONS if operation.name == "home_screen")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = seeded_bench_parser("python -m bench.tracing_overhead", __doc__.split("\n\n")[0], friends=100)
    parser.add_argument("--requests", type=int, default=5, help="timed requests per way per round")
    parser.add_argument("--rounds", type=int, default=31, help="rounds; figures are medians over the rounds")
    parser.add_argument("--output", type=Path, default=Path("bench-output") / "tracing_overhead.json")
    return parser.parse_args(argv)


@contextmanager
def otlp_receiver() -> Iterator[str]:
    """A local OTLP/HTTP receiver in another process, while the block lasts: its endpoint."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.otlp_sink"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        process.wait(timeout=10)


def exporter_that_drops():
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Dropping(SpanExporter):
        def export(self, spans) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    return Dropping()


@contextmanager
def traced_by(way: str, endpoint: str) -> Iterator[None]:
    """Tracing as `way` has it, while the block lasts."""
    from config import tracing

    if way in (OFF, OFF_AGAIN):
        yield
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = exporter_that_drops() if way == DROPPED else OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")
    tracing.install(BatchSpanProcessor(exporter))
    try:
        yield
    finally:
        tracing.uninstall()


def home_screen_body() -> str:
    return json.dumps({"query": HOME_SCREEN.query, "variables": {"date": DAY}})


def block(requests: int, token: str) -> float:
    """Milliseconds per request of `requests` home screens through a handler built now (with
    tracing's middleware if it is installed), their spans' export included: the requests' times
    and that of exporting what they queued (done by a thread in the web process, on the same
    cores), divided by their number. The answers are checked."""
    from config import tracing

    client, body = WholeRequest(), home_screen_body()
    for _ in range(3):  # warm: the document cache, the connection
        check(client.post("/graphql", body, token))
    tracing.flush()
    total = 0.0
    for _ in range(requests):
        environ = client.environ("/graphql", body, token)
        started = time.perf_counter()
        answer = client.send(environ)
        total += time.perf_counter() - started
        check(answer)
    started = time.perf_counter()
    tracing.flush()
    total += time.perf_counter() - started
    return total * 1000 / requests


def check(answer) -> None:
    if answer.status != 200 or b'"errors"' in answer.content:
        raise SystemExit(f"home screen: HTTP {answer.status}: {answer.content[:500]!r}")


def time_ways(requests: int, rounds: int, token: str, endpoint: str) -> dict[str, Any]:
    per_request: dict[str, list[float]] = {way: [] for way in WAYS}
    ratios: dict[str, list[float]] = {way: [] for way in WAYS if way != OFF}
    for _ in range(rounds):
        for way in WAYS:
            with traced_by(way, endpoint):
                per_request[way].append(block(requests, token))
        for way in ratios:
            ratios[way].append(per_request[way][-1] / per_request[OFF][-1])
    figures: dict[str, Any] = {}
    for way in WAYS:
        figures[way] = {
            "median_ms": round(statistics.median(per_request[way]), 3),
            "rounds_ms": [round(ms, 3) for ms in per_request[way]],
        }
        if way in ratios:
            figures[way]["ratio_to_off"] = round(statistics.median(ratios[way]), 4)
            figures[way]["rounds_ratio"] = [round(ratio, 4) for ratio in ratios[way]]
    return figures


def spans_of_one_request(token: str) -> dict[str, int]:
    """The spans one home screen makes, by kind (the hooks it passes are those of its request,
    operation and loader batches)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from config import tracing

    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    try:
        check(WholeRequest().post("/graphql", home_screen_body(), token))
    finally:
        tracing.uninstall()
    spans = exporter.get_finished_spans()
    counts = {
        "request": sum(span.name.startswith("POST ") for span in spans),
        "operation": sum(span.name.startswith("graphql") for span in spans),
        "loader batch": sum(span.name.startswith("loader ") for span in spans),
        "SQL": sum("db.system" in span.attributes for span in spans),
    }
    return {**counts, "all": len(spans)}


def hook_check_ns() -> float:
    """Nanoseconds of one hook's check when tracing is off (`tracing.tracer is None`), less the
    loop's own cost."""
    setup = "from config import tracing"
    loops = 1_000_000
    checked = min(timeit.repeat("tracing.tracer is None", setup, number=loops, repeat=5))
    empty = min(timeit.repeat("pass", setup, number=loops, repeat=5))
    return max(checked - empty, 0.0) / loops * 1e9


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    log_like_the_web_process()
    # One viewer's home screen hundreds of times a minute, as many users would ask it: the
    # viewer's cost budget (about 1.6 home screens a second) would refuse most of it.
    os.environ["VIEWER_COST_BUDGET"] = str(10**15)
    configure_django(args.database_url, BENCH_SETTINGS)
    quiet_request_log()
    # Each block builds its handler, whose WhiteNoise warns of the static files not collected.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    fixture = prepare(argparse.Namespace(friends=args.friends, skip_seed=args.skip_seed))
    from config.runtime import tune_garbage_collector

    tune_garbage_collector()  # as the web process does once the application is loaded
    spans = spans_of_one_request(fixture.token)
    hooks = spans["request"] + spans["operation"] + spans["loader batch"]
    with otlp_receiver() as endpoint:
        ways = time_ways(args.requests, args.rounds, fixture.token, endpoint)
    check_ns = hook_check_ns()
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": os.getloadavg(),
        "friends": args.friends,
        "requests": args.requests,
        "rounds": args.rounds,
        "spans_per_request": spans,
        "ways": ways,
        "off": {
            "hook_checks_per_request": hooks,
            "check_ns": round(check_ns, 2),
            "share_of_request": check_ns * hooks / (ways[OFF]["median_ms"] * 1e6),
        },
        "load_average_end": os.getloadavg(),
    }
    write_json(args.output, report)
    print_report(report)
    print(f"wrote {args.output}")
    return 0


def print_report(report: dict[str, Any], out: Callable[[str], None] = print) -> None:
    out(
        f"The home screen at {report['friends']} friends, in-process through the whole handler "
        f"(medians over {report['rounds']} rounds of {report['requests']} requests per way):"
    )
    for way, figures in report["ways"].items():
        ratio = f"  {figures['ratio_to_off']:.3f}x off" if "ratio_to_off" in figures else ""
        out(f"  {figures['median_ms']:8.2f} ms  {way}{ratio}")
    spans, off = report["spans_per_request"], report["off"]
    out(f"Spans per request: {spans}")
    out(
        f"Off: {off['hook_checks_per_request']} checks of tracing.tracer per request, {off['check_ns']:.1f} ns each "
        f"({off['share_of_request']:.1e} of the request)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
