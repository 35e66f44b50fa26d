"""`python -m bench.baseline`: keep runs' figures as the "before" of issue 12.

`python -m bench.baseline [--input bench-output] [--input another-run ...]`

Reads the bench's output folders (each with inprocess.json, and http.json, fixed_cost.json,
profile.json where present) and writes bench/baseline-issue12.json, a small committed file:
per operation and size the SQL statements, our median and the floor's, their ratio, the
allocation peak; the HTTP throughput of ours and of the floor's endpoint; delta sync; the
fixed cost; the profile's split; and the statements per operation that no later run may exceed
(bench/report.py checks them). With several folders (repeated runs on a noisy machine), each
figure is the median of the runs' figures, and each ratio the median of the runs' ratios
(never a ratio of medians from different runs). It says which commit of the application was
measured (the last commit that changed anything outside bench/, docs/ and the tests), with
which commit of the bench, on what machine, when, and how busy the machine was.

Run it on the code the figures are to be compared with (issue 12: main before the compiled
plans), right after the runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

from .environment import REPO

DEFAULT_OUTPUT = REPO / "bench" / "baseline-issue12.json"
# What is not the application: a change there does not change what the figures measure (git
# pathspecs; tests/operations/, the operations measured, is the application's).
NOT_THE_APPLICATION = ("bench", "docs", "*.md", "Makefile", "tests/*.py", "tests/snapshots", ".ci")


def load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def application_commit() -> tuple[str, str]:
    """The last commit that changed the application (anything but NOT_THE_APPLICATION): its
    short hash and subject."""
    excluded = [f":(exclude,glob){path}" for path in NOT_THE_APPLICATION]
    commit, _, subject = git("log", "-1", "--format=%h %s", "--", ".", *excluded).partition(" ")
    return commit, subject


def median(values: list[float | None], digits: int = 3) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), digits) if present else None


def inprocess_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """operation -> friends -> figures of ours and the floor, medians over the runs."""
    seen: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        rows = {(r["operation"], r["friends"], r["variant"]): r for r in run["results"]}
        for (operation, friends, variant), ours in rows.items():
            floor = rows.get((operation, friends, "floor"))
            if variant == "ours" and floor is not None:
                seen[(operation, friends)].append({"ours": ours, "floor": floor})
    figures: dict[str, dict[str, Any]] = {}
    for (operation, friends), pairs in sorted(seen.items()):
        ours_ms = [pair["ours"]["latency_ms"]["median"] for pair in pairs]
        floor_ms = [pair["floor"]["latency_ms"]["median"] for pair in pairs]
        figures.setdefault(operation, {})[str(friends)] = {
            "sql": max(pair["ours"]["sql_statements"] for pair in pairs),
            "ours_ms": median(ours_ms),
            "ours_p90_ms": median([pair["ours"]["latency_ms"]["p90"] for pair in pairs]),
            "floor_ms": median(floor_ms),
            "ours_over_floor": median([o / f for o, f in zip(ours_ms, floor_ms, strict=True) if f]),
            "ours_over_floor_runs": [round(o / f, 3) for o, f in zip(ours_ms, floor_ms, strict=True) if f],
            "alloc_peak_bytes": int(median([pair["ours"]["alloc_peak_bytes"] for pair in pairs], 0)),
            "response_bytes": pairs[0]["ours"]["response_bytes"],
        }
    return figures


def sync_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    seen: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        for sync in run.get("sync") or []:
            seen[sync["friends"]].append(sync)
    figures = {}
    for friends, syncs in sorted(seen.items()):
        fulls = [sync["full"] for sync in syncs]
        figures[str(friends)] = {
            "events": fulls[0]["events"],
            "pages": fulls[0]["pages"],
            "sql_per_page": max(max(full["sql_per_page_seen"]) for full in fulls),
            "first_page_ms": median([(full.get("first_page_ms") or {}).get("median") for full in fulls]),
            "page_median_ms": median([full["page_ms"]["median"] for full in fulls]),
            "page_p90_ms": median([full["page_ms"]["p90"] for full in fulls]),
            "full_sync_s": median([full["sync_ms"]["median"] / 1000 for full in fulls]),
            "incremental_sql": max(sync["incremental"]["sql"] for sync in syncs),
            "incremental_ms": median([sync["incremental"]["ms"]["median"] for sync in syncs]),
        }
    return figures


def statements(runs: list[dict[str, Any]]) -> dict[str, int]:
    """The most statements each operation ran at any size in any run (ours), and delta sync's."""
    found: dict[str, int] = {}

    def keep(name: str, count: int) -> None:
        found[name] = max(found.get(name, 0), count)

    for run in runs:
        for row in run["results"]:
            if row["variant"] == "ours":
                keep(row["operation"], row["sql_statements"])
        for sync in run.get("sync") or []:
            keep("sync_page", max(sync["full"]["sql_per_page_seen"]))
            keep("sync_incremental", sync["incremental"]["sql"])
    return found


def http_figures(files: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Each (operation, friends) of the HTTP runs: medians over the files (each already the
    median of its rounds), the ratio the median of the files' ratios."""
    if not files:
        return None
    seen: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for http in files:
        for run in http.get("runs") or []:
            seen[(run["operation"], run["friends"])].append(run)
    return {
        "files": [
            {
                "generated_at": http.get("generated_at"),
                "load_average_start": http.get("load_average_start"),
                "load_average_end": http.get("load_average_end"),
            }
            for http in files
        ],  # fmt: skip
        "machine": files[0].get("machine"),
        "wrk": files[0].get("wrk"),
        "rounds": files[0].get("rounds"),
        "server": files[0].get("server"),
        "runs": [
            {
                "friends": friends,
                "operation": operation,
                "ours_rps": median([run["ours"]["rps"] for run in runs], 2),
                "floor_rps": median([run["floor"]["rps"] for run in runs], 2),
                "ours_over_floor": median([run["ratio"] for run in runs], 4),
                "ours_over_floor_rounds": [ratio for run in runs for ratio in run.get("round_ratios") or []],
                "ours_p50_ms": median([run["ours"]["latency_ms"]["p50"] for run in runs], 2),
                "floor_p50_ms": median([run["floor"]["latency_ms"]["p50"] for run in runs], 2),
                "errors": sum(run["errors"] for run in runs),
            }
            for (operation, friends), runs in seen.items()
        ],
        "soak": next((http["soak"] for http in files if http.get("soak")), None),
    }


def profile_figures(profile: dict[str, Any] | None) -> dict[str, Any] | None:
    if not profile:
        return None
    keys = ("operation", "friends", "real_ms", "gc_ms", "sql_wall_ms", "floor_ms", "total_ms", "split_ms")
    return {key: profile.get(key) for key in keys}


def fixed_cost_figures(fixed: dict[str, Any] | None) -> dict[str, Any] | None:
    if not fixed:
        return None
    return {
        "totals_ms": {name: figures["median_ms"] for name, figures in fixed["totals"].items()},
        "steps_ms": fixed["steps"]["inclusive_ms"],
        "middleware_own_ms": fixed["steps"]["middleware_own_ms"],
    }


def baseline(folders: list[Path]) -> dict[str, Any]:
    runs = [run for folder in folders if (run := load(folder / "inprocess.json")) is not None]
    if not runs or any(run.get("ci") for run in runs):
        raise SystemExit(f"An inprocess.json is missing (or a CI run) in {', '.join(map(str, folders))}.")
    broken = [violation for run in runs for violation in run.get("violations") or []]
    if broken:
        raise SystemExit(f"The runs have violations, not a baseline: {broken}")

    def found(name: str) -> list[dict[str, Any]]:
        return [data for folder in folders if (data := load(folder / name)) is not None]

    machine = runs[0]["machine"]
    commit, subject = application_commit()
    return {
        "what": "Issue 12's 'before': make bench's figures on main before the compiled plans (bench/baseline.py).",
        "application_commit": commit,
        "application_commit_subject": subject,
        "bench_commit": machine.get("commit"),
        "measured_at": runs[0]["generated_at"],
        "machine": machine,
        "load_average": {"start": runs[0].get("load_average_start"), "end": runs[-1].get("load_average_end")},
        "runs": [
            {
                "generated_at": run["generated_at"],
                "commit": run["machine"].get("commit"),
                "plan": run["plan"],
                "load_average_start": run.get("load_average_start"),
                "load_average_end": run.get("load_average_end"),
            }
            for run in runs
        ],  # fmt: skip
        "plan": runs[0]["plan"],
        "statements": statements(runs),
        "inprocess": inprocess_figures(runs),
        "sync": sync_figures(runs),
        "http": http_figures(found("http.json")),
        "fixed_cost": fixed_cost_figures(next(iter(found("fixed_cost.json")), None)),
        "profile": profile_figures(next(iter(found("profile.json")), None)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input", type=Path, action="append", help="a run's output folder (repeat for several; default bench-output)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    figures = baseline(args.input or [Path("bench-output")])
    args.output.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n")
    print(
        f"Wrote {args.output} (application {figures['application_commit']}, {len(figures['runs'])} in-process "
        f"run(s) from {figures['measured_at']})."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
