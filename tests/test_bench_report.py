"""bench/report.py's verdicts on issue 12's targets are computed from the figures, against the
"before" of bench/baseline-issue12.json; the README's headline block is rewritten, nothing else."""

from __future__ import annotations

from pathlib import Path

from bench import report
from bench.report import HEADLINE_END, HEADLINE_START, MET, MISSED, Extra, Inputs, Results

SIZES = (10, 100, 1000, 5000)


def result(operation: str, friends: int, variant: str, median: float, sql: int, alloc: int = 2**20) -> dict:
    return {
        "operation": operation,
        "friends": friends,
        "variant": variant,
        "sql_statements": sql,
        "sql_statements_seen": [sql],
        "latency_ms": {"median": median, "p90": median * 1.1},
        "alloc_peak_bytes": alloc,
        "response_bytes": 1000,
        "rss_peak_kb": 90_000,
        "rss_base_kb": 80_000,
    }


def run(home_ratio: float = 2.5, feed_ratio: float = 1.5, home_sql: int = 5) -> dict:
    """A run where ours takes `ratio` times the floor's 10 ms at every size."""
    ratios = {"home_screen": home_ratio, "friends_feed": feed_ratio, "event_detail": 2.0}
    sql = {"home_screen": home_sql, "friends_feed": 5, "event_detail": 8}
    results = []
    for friends in SIZES:
        for operation, ratio in ratios.items():
            results.append(result(operation, friends, "ours", 10 * ratio, sql[operation]))
            results.append(result(operation, friends, "floor", 10.0, 1))
    return {
        "generated_at": "2026-12-07T18:00:00+00:00",
        "machine": {
            "commit": "abc1234",
            "nproc": 2,
            "cpu_model": "CPU",
            "postgresql": "15.20",
            "python": "3.11",
            "django": "5.2",
            "memory_gb": 8,
        },  # fmt: skip
        "plan": {"repeats": 30, "naive_repeats": 3, "warmups": 3},
        "seed": {"events_per_day": 10, "days": 3},
        "day": "2026-11-23",
        "sizes": [],
        "results": results,
        "sync": [],
        "violations": [],
    }


def http(ours_rps: float, floor_rps: float, errors: int = 0) -> Extra:
    figures = {"rps": 0.0, "rounds_rps": [], "latency_ms": {"p50": 1.0, "p99": 2.0}, "errors": 0}
    runs = [
        {
            "friends": 100,
            "operation": "home_screen",
            "rounds": 3,
            "ours": {**figures, "rps": ours_rps},
            "floor": {**figures, "rps": floor_rps},
            "ratio": ours_rps / floor_rps,
            "errors": errors,
        }
    ]
    return Extra({"runs": runs, "soak": None}, "http.json", False)


def baseline(home_sql: int = 5) -> dict:
    figures = {"sql": home_sql, "ours_ms": 90.0, "floor_ms": 10.0, "ours_over_floor": 9.0, "alloc_peak_bytes": 2**21}
    return {
        "application_commit": "48aae15",
        "bench_commit": "48aae15",
        "measured_at": "2026-12-07T17:00:00+00:00",
        "machine": {"nproc": 2, "cpu_model": "CPU", "postgresql": "15.20"},
        "statements": {"home_screen": home_sql, "friends_feed": 5, "event_detail": 8},
        "inprocess": {"home_screen": {"100": figures, "1000": figures}},
        "sync": {},
        "http": {
            "runs": [
                {"friends": 100, "operation": "home_screen", "ours_rps": 30, "floor_rps": 300, "ours_over_floor": 0.1}
            ]
        },  # fmt: skip
    }


def verdicts(targets: list[list[str]]) -> dict[str, str]:
    return {target: verdict for target, _figures, verdict in targets}


def test_verdicts_follow_the_figures():
    found = verdicts(report.targets(Results(run()), http(110, 300), baseline()))
    assert found["Home screen (nested): at most 3× the floor, 100 and 1,000 friends"] == MET
    assert found["Flat feed (friendsEvents): at most 2× the floor, at every size"] == MET
    throughput = next(name for name in found if name.startswith("HTTP: home-screen"))
    assert found[throughput] == MET
    assert found["SQL statements: none more than before, every operation"] == MET

    found = verdicts(
        report.targets(Results(run(home_ratio=3.2, feed_ratio=2.1, home_sql=6)), http(90, 300), baseline())
    )
    assert found["Home screen (nested): at most 3× the floor, 100 and 1,000 friends"] == MISSED
    assert found["Flat feed (friendsEvents): at most 2× the floor, at every size"] == MISSED
    assert found[throughput] == MISSED  # 0.30 of the floor's, under a third
    assert found["SQL statements: none more than before, every operation"] == MISSED


def test_errors_fail_the_throughput_target():
    found = verdicts(report.targets(Results(run()), http(200, 300, errors=1), baseline()))
    assert found[next(name for name in found if name.startswith("HTTP: home-screen"))] == MISSED


def test_the_before_figures_are_shown_beside_the_after():
    figures = {target: measured for target, measured, _ in report.targets(Results(run()), http(110, 300), baseline())}
    assert "(before 9.0×)" in figures["Home screen (nested): at most 3× the floor, 100 and 1,000 friends"]


def test_only_the_readmes_headline_block_is_rewritten(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nBefore.\n\n{HEADLINE_START}\nold figures\n{HEADLINE_END}\n\nAfter.\n")
    inputs = Inputs(run(), http(110, 300), Extra(None, "", False), Extra(None, "", False), baseline())
    assert report.update_readme(readme, report.readme_headline(inputs))
    text = readme.read_text()
    assert text.startswith("# Title\n\nBefore.\n\n") and text.endswith(f"{HEADLINE_END}\n\nAfter.\n")
    assert "old figures" not in text and "commit `abc1234`" in text and "2.5× the floor at 100 friends" in text
    readme.write_text("no block\n")
    assert not report.update_readme(readme, ["x"])


def test_the_tracing_section_gives_each_way_against_tracing_off():
    figures = {
        "generated_at": "2026-12-07T00:00:00+00:00",
        "friends": 100,
        "requests": 10,
        "rounds": 9,
        "spans_per_request": {"request": 1, "operation": 1, "loader batch": 6, "SQL": 5, "all": 13},
        "ways": {
            "off": {"median_ms": 40.0},
            "on, spans dropped": {"median_ms": 42.0, "ratio_to_off": 1.05},
            "off again": {"median_ms": 40.2, "ratio_to_off": 1.005},
        },
        "off": {"hook_checks_per_request": 8, "check_ns": 13.2, "share_of_request": 2.6e-06},
    }
    lines = report.tracing_section(Extra(figures, "tracing_overhead.json written then", False))
    assert "| on, spans dropped | 42.00 | 1.050× |" in lines
    assert "| off again | 40.20 | 1.005× |" in lines
    assert "a home screen makes 13 spans: 1 request, 1 operation, 6 loader batches, 5 SQL statements" in " ".join(lines)
    assert "8 checks of `tracing.tracer` (13.2 ns each, 2.6e-06 of the request)" in " ".join(lines)
    assert report.tracing_section(Extra(None, "", False))[-1].startswith("Not measured")


def test_the_metrics_section_gives_both_ways_and_the_hooks_own_time():
    figures = {
        "friends": 100,
        "requests": 200,
        "rounds": 9,
        "ways": {"metrics on": {"median_ms": 19.64}, "hooks no-ops": {"median_ms": 19.62}},
        "ratio_on_to_no_ops": 1.001,
        "paired_difference_us": 90.0,
        "hooks_alone_us": 23.4,
        "hooks_share": 0.0012,
    }
    lines = report.metrics_section(Extra(figures, "metrics_cost.json written then", False))
    assert "| metrics on | 19.64 |" in lines and "| hooks no-ops | 19.62 |" in lines
    text = " ".join(lines)
    assert "Recording ÷ no-ops: **1.001×**; the median of the pairs' differences +90 µs" in text
    assert "23.4 µs (0.12% of the request)" in text
    assert report.metrics_section(Extra(None, "", False))[-1].startswith("Not measured")
