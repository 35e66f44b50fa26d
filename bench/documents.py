"""What the document cache saves, what a hostile query costs to refuse, and how far the
app's operations are from the limits.

`python -m bench.documents [--repeats 2000]`

In-process, no database. Three parts:
- the home screen's document (tests/operations/home_screen.graphql): a cache miss (lex,
  parse, shape checks, validation, cost plan: `schema.documents.prepare`), graphql-core's
  parse and validate alone, and a cache hit, by query text (its SHA-256 computed, then
  looked up) and by hash alone (an automatic persisted query); medians of --repeats
  runs each, taken in turns;
- the three hostile queries of tests/test_limits.py (30 deep, 5 MB, 100×100×100 pages)
  through the real view (`GraphQLView`, a RequestFactory POST, no token), cold: the
  document cache emptied before each run, as a client varying its text would have it;
- each operation in tests/operations and GraphiQL's introspection query: bytes, tokens,
  depth, aliases and estimated cost (page-size variables at their defaults and at their
  maxima) against the limits.

Writes bench-output/documents.json and prints it.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS_DIR = ROOT / "tests" / "operations"
OUTPUT_FILE = ROOT / "bench-output" / "documents.json"
HOSTILE_RUNS = 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.documents", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2000, help="timed runs per home-screen measurement")
    return parser.parse_args(argv)


def configure_django() -> None:
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    os.environ["DEBUG"] = "0"
    django.setup()


def median_ms(run: Callable[[], Any], repeats: int, before_each: Callable[[], Any] | None = None) -> float:
    """The median wall time of `run`, in milliseconds, the collector off while timing."""
    return interleaved_medians_ms({"run": run}, repeats, before_each)["run"]


def interleaved_medians_ms(
    runs: dict[str, Callable[[], Any]], repeats: int, before_each: Callable[[], Any] | None = None
) -> dict[str, float]:
    """The median wall time of each of `runs`, in milliseconds, taking turns (one run of
    each per round), so that a machine busy with other work weighs on all of them alike."""
    times: dict[str, list[int]] = {name: [] for name in runs}
    gc.disable()
    try:
        for _ in range(repeats):
            for name, run in runs.items():
                if before_each:
                    before_each()
                started = time.perf_counter_ns()
                run()
                times[name].append(time.perf_counter_ns() - started)
    finally:
        gc.enable()
    return {name: statistics.median(values) / 1e6 for name, values in times.items()}


def home_screen_cache(repeats: int) -> dict[str, Any]:
    from graphql import parse, validate

    from schema import persisted_queries
    from schema.documents import document_for, documents, prepare
    from schema.schema import GRAPHQL_SCHEMA
    from schema.validation import VALIDATION_RULES

    query = (OPERATIONS_DIR / "home_screen.graphql").read_text()
    sha256 = persisted_queries.sha256_of(query)
    documents.clear()
    document_for(query, None)  # the one miss that fills the cache
    # Misses and hits timed apart: a hit right after a miss's allocations runs on cold caches.
    figures = interleaved_medians_ms(
        {
            "miss_prepare_ms": lambda: prepare(query),
            "parse_and_validate_ms": lambda: validate(GRAPHQL_SCHEMA, parse(query), VALIDATION_RULES),
            "parse_ms": lambda: parse(query),
        },
        repeats,
    )
    hits = {
        "hit_by_text_ms": lambda: document_for(query, None),
        "hit_by_hash_ms": lambda: document_for(None, sha256),
    }
    figures.update(interleaved_medians_ms(hits, repeats))
    figures["saved_per_request_ms"] = figures["miss_prepare_ms"] - figures["hit_by_text_ms"]
    figures["miss_over_hit"] = round(figures["miss_prepare_ms"] / figures["hit_by_text_ms"])
    return {name: round(value, 4) if isinstance(value, float) else value for name, value in figures.items()}


def hostile_refusals() -> dict[str, Any]:
    from django.test import RequestFactory

    from schema.documents import documents
    from schema.view import GraphQLView
    from tests.test_limits import NESTED_PAGES, friends_chain

    view, factory = GraphQLView.as_view(), RequestFactory()
    queries = {
        "depth_30": friends_chain(30),
        "five_megabytes": "{ viewer { id } }" + " " * (5 * 1024 * 1024),
        "pages_100x100x100": NESTED_PAGES,
    }
    refusals = {}
    for name, query in queries.items():
        body = json.dumps({"query": query, "variables": {}})
        response = view(factory.post("/graphql", body, content_type="application/json"))
        refusals[name] = {
            "status": response.status_code,
            "message": json.loads(response.content)["errors"][0]["message"],
            "median_ms": round(
                median_ms(
                    lambda body=body: view(factory.post("/graphql", body, content_type="application/json")),
                    HOSTILE_RUNS,
                    before_each=documents.clear,
                ),
                3,
            ),
        }
    return refusals


def operations_against_limits() -> dict[str, Any]:
    from django.conf import settings
    from graphql import get_introspection_query
    from graphql.language import Lexer, Source, TokenKind

    from schema import limits
    from schema.documents import prepare

    def token_count(query: str) -> int:
        lexer, count = Lexer(Source(query)), 0
        while lexer.advance().kind is not TokenKind.EOF:
            count += 1
        return count

    sources = {path.stem: path.read_text() for path in sorted(OPERATIONS_DIR.glob("*.graphql"))}
    sources["graphiql_introspection"] = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    table = {}
    for name, query in sources.items():
        prepared = prepare(query)
        [cost] = prepared.costs.values()
        largest_pages = {page_size.variable: 10**9 for page_size in cost.page_sizes if page_size.variable}
        table[name] = {
            "bytes": len(query.encode()),
            "tokens": token_count(query),
            "depth": limits.document_depth(prepared.document),
            "aliases": sum(1 for fields in limits.field_groups(prepared.document) for field in fields if field.alias),
            "cost": cost.estimate({}),
            "cost_at_largest_pages": cost.estimate(largest_pages),
        }
    return {
        "limits": {
            "bytes": settings.GRAPHQL_MAX_QUERY_BYTES,
            "tokens": settings.GRAPHQL_MAX_TOKENS,
            "depth": settings.GRAPHQL_MAX_DEPTH,
            "aliases": settings.GRAPHQL_MAX_ALIASES,
            "cost": settings.GRAPHQL_MAX_COST,
        },
        "operations": table,
    }


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "graphql_core": importlib.metadata.version("graphql-core"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": platform.processor() or platform.machine(),
    }


def print_results(results: dict[str, Any]) -> None:
    cache = results["home_screen_document"]
    print(f"home screen document, medians of {results['repeats']:,} runs:")
    for name, value in cache.items():
        print(f"  {name:24} {value}")
    print("hostile queries refused (cold, through the view):")
    for name, refusal in results["refusals"].items():
        print(f"  {name:18} {refusal['median_ms']:8.3f} ms  {refusal['status']}  {refusal['message']}")
    limits = results["against_limits"]["limits"]
    print(f"operations against the limits {limits}:")
    print(f"  {'operation':28} {'bytes':>6} {'tokens':>6} {'depth':>5} {'aliases':>7} {'cost':>8} {'largest':>8}")
    for name, row in results["against_limits"]["operations"].items():
        print(
            f"  {name:28} {row['bytes']:6} {row['tokens']:6} {row['depth']:5} {row['aliases']:7} "
            f"{row['cost']:8,} {row['cost_at_largest_pages']:8,}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_django()
    results = {
        "environment": environment(),
        "repeats": args.repeats,
        "home_screen_document": home_screen_cache(args.repeats),
        "refusals": hostile_refusals(),
        "against_limits": operations_against_limits(),
    }
    OUTPUT_FILE.parent.mkdir(exist_ok=True)
    OUTPUT_FILE.write_text(json.dumps(results, indent=1) + "\n")
    print_results(results)
    print(f"written to {OUTPUT_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
