"""`python -m bench.baseline`: keep a run's figures as the "before" of issue 12.

Reads bench-output/*.json (a whole `make bench`) and writes bench/baseline-issue12.json, a small
committed file: per operation and size the SQL statements, our median and the floor's, the
allocation peak; the HTTP throughput of ours and of the floor's endpoint; delta sync; the
fixed cost; the profile's split; and the statements per operation that no later run may exceed
(bench/report.py checks them). It says which commit of the application was measured (the last
commit that changed anything outside bench/ and docs/), with which commit of the bench, on
what machine, when, and how busy the machine was.

Run it once, on the code the figures are to be compared with (issue 12: main before the
compiled plans), right after `make bench`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
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


def inprocess_figures(run: dict[str, Any]) -> dict[str, Any]:
    """operation -> friends -> figures, for ours and the floor."""
    rows = {(r["operation"], r["friends"], r["variant"]): r for r in run["results"]}
    figures: dict[str, dict[str, Any]] = {}
    for (operation, friends, variant), row in sorted(rows.items()):
        if variant != "ours":
            continue
        floor = rows.get((operation, friends, "floor"))
        ours_ms, floor_ms = row["latency_ms"]["median"], floor["latency_ms"]["median"] if floor else None
        figures.setdefault(operation, {})[str(friends)] = {
            "sql": row["sql_statements"],
            "ours_ms": ours_ms,
            "ours_p90_ms": row["latency_ms"]["p90"],
            "floor_ms": floor_ms,
            "ours_over_floor": round(ours_ms / floor_ms, 3) if floor_ms else None,
            "alloc_peak_bytes": row["alloc_peak_bytes"],
            "response_bytes": row["response_bytes"],
        }
    return figures


def sync_figures(run: dict[str, Any]) -> dict[str, Any]:
    figures = {}
    for sync in run.get("sync") or []:
        full, incremental = sync["full"], sync["incremental"]
        figures[str(sync["friends"])] = {
            "events": full["events"],
            "pages": full["pages"],
            "sql_per_page": max(full["sql_per_page_seen"]),
            "first_page_ms": (full.get("first_page_ms") or {}).get("median"),
            "page_median_ms": full["page_ms"]["median"],
            "page_p90_ms": full["page_ms"]["p90"],
            "full_sync_s": round(full["sync_ms"]["median"] / 1000, 3),
            "incremental_sql": incremental["sql"],
            "incremental_ms": incremental["ms"]["median"],
        }
    return figures


def statements(run: dict[str, Any]) -> dict[str, int]:
    """The most statements each operation ran at any size (ours), and delta sync's per page."""
    found: dict[str, int] = {}
    for row in run["results"]:
        if row["variant"] == "ours":
            found[row["operation"]] = max(found.get(row["operation"], 0), row["sql_statements"])
    for sync in run.get("sync") or []:
        found["sync_page"] = max(found.get("sync_page", 0), *sync["full"]["sql_per_page_seen"])
        found["sync_incremental"] = max(found.get("sync_incremental", 0), sync["incremental"]["sql"])
    return found


def http_figures(http: dict[str, Any] | None) -> dict[str, Any] | None:
    if not http:
        return None
    return {
        "generated_at": http.get("generated_at"),
        "machine": http.get("machine"),
        "wrk": http.get("wrk"),
        "rounds": http.get("rounds"),
        "server": http.get("server"),
        "runs": [
            {
                "friends": run["friends"],
                "operation": run["operation"],
                "ours_rps": run["ours"]["rps"],
                "floor_rps": run["floor"]["rps"],
                "ours_over_floor": run["ratio"],
                "ours_p50_ms": run["ours"]["latency_ms"]["p50"],
                "floor_p50_ms": run["floor"]["latency_ms"]["p50"],
                "errors": run["errors"],
            }
            for run in http.get("runs") or []
        ],
        "soak": http.get("soak"),
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


def baseline(inputs: Path) -> dict[str, Any]:
    run = load(inputs / "inprocess.json")
    if run is None or run.get("ci"):
        raise SystemExit(f"{inputs / 'inprocess.json'} is missing (or a CI run): run `make bench` first.")
    if run.get("violations"):
        raise SystemExit(f"The run has violations, not a baseline: {run['violations']}")
    machine = run["machine"]
    commit, subject = application_commit()
    return {
        "what": "Issue 12's 'before': `make bench` on main before the compiled plans (bench/baseline.py).",
        "application_commit": commit,
        "application_commit_subject": subject,
        "bench_commit": machine.get("commit"),
        "measured_at": run["generated_at"],
        "machine": machine,
        "load_average": {"start": run.get("load_average_start"), "end": run.get("load_average_end")},
        "plan": run["plan"],
        "statements": statements(run),
        "inprocess": inprocess_figures(run),
        "sync": sync_figures(run),
        "http": http_figures(load(inputs / "http.json")),
        "fixed_cost": fixed_cost_figures(load(inputs / "fixed_cost.json")),
        "profile": profile_figures(load(inputs / "profile.json")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("bench-output"), help="the bench's output folder")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    figures = baseline(args.input)
    args.output.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n")
    print(f"Wrote {args.output} (application {figures['application_commit']}, measured {figures['measured_at']}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
