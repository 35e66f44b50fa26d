"""`python -m bench.password_hashers`: what one password check costs, per hasher.

For Django's PBKDF2PasswordHasher (its default iterations) and for Argon2id (argon2-cffi,
through Django's Argon2PasswordHasher) at several parameter sets, each in a fresh
subprocess, so that one configuration's allocations cannot hide another's peak:

- wall and CPU time of a check (`hasher.verify`, the right password: a wrong one costs the
  same), medians of --repeats checks in the same process. CPU time is the process's
  (`time.process_time`), which counts Argon2's lane threads too;
- the peak memory of one check: the process's peak resident set (VmHWM) is reset to its
  current size (`/proc/self/clear_refs`) after a warm-up check with tiny parameters of the
  same hasher, then read after one real check; the difference is what the check added.
  Also the resident memory still held after all the checks (what the allocator kept);
- whether the check releases the GIL: the main thread counts pure-Python loops for
  --gil-seconds while another thread runs checks back to back, against the same count
  while that thread waits; the ratio is near 1 when the check releases the GIL and a core
  is free, near 0 when it holds the GIL.

The password hashes are made in the parent process, so the child's first real check is
the only large allocation it sees. Prints a Markdown table, and writes it with the figures
to bench-output/password_hashers.md and .json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import json
import os
import platform
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .environment import REPO, _git_commit, _memory_gb, cpu_model

PASSWORD = "correct horse battery staple"
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
CHOSEN = "calendarapp.hashers.Argon2idPasswordHasher"
# The share of a core password checks may use in one worker, for the logins/s column.
CPU_SHARE = 0.25
# A worker's resident memory over a home-screen soak (docs/production.md: about 76,000 KiB),
# and its budget (gunicorn.conf.py sizes workers at WEB_MEMORY_PER_WORKER, 256 MiB by default).
WORKER_RSS_MIB = 74
WORKER_BUDGET_MIB = 256
CHILD_TIMEOUT = 600
# The GIL probe's control: a loop in C that holds the GIL for about as long as a check.
CONTROL_LOOP = 2_000_000


@dataclass(frozen=True)
class Config:
    """One hasher: a class, and the attributes a subclass sets on it (none: the class as is)."""

    name: str
    label: str
    hasher: str
    overrides: dict[str, int] = field(default_factory=dict)


def argon2(memory_kib: int, time_cost: int, lanes: int) -> dict[str, int]:
    return {"memory_cost": memory_kib, "time_cost": time_cost, "parallelism": lanes}


CONFIGS = (
    Config("pbkdf2", "PBKDF2-SHA256, Django 5.2's default", PBKDF2),
    Config("argon2-django", "Argon2id, Django's default", ARGON2),
    Config("argon2-rfc9106", "Argon2id, argon2-cffi's default (RFC 9106)", ARGON2, argon2(65536, 3, 4)),
    Config("argon2-64m", "Argon2id, 64 MiB in one lane", ARGON2, argon2(65536, 2, 1)),
    Config("argon2-owasp-46m", "Argon2id, OWASP's 46 MiB, t=1", ARGON2, argon2(47104, 1, 1)),
    Config("argon2-owasp-19m", "Argon2id, OWASP's 19 MiB, t=2: ours (calendarapp.hashers)", CHOSEN),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.password_hashers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed checks per configuration (median)")
    parser.add_argument("--gil-seconds", type=float, default=1.5, help="length of each GIL probe")
    parser.add_argument("--only", nargs="*", default=None, help="configuration names to run (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-output", help="output folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one configuration, in this process
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, json.load(sys.stdin), args)))
        return 0
    configs = [config for config in CONFIGS if args.only is None or config.name in args.only]
    print(f"Password checks, {args.repeats} per configuration, each configuration in a fresh process:")
    results = []
    for config in configs:
        result = run_child(config, args)
        print(
            f"  {config.name:<18} wall {result['wall_ms']:7.1f} ms, CPU {result['cpu_ms']:7.1f} ms, "
            f"peak +{result['peak_kib'] / 1024:6.1f} MiB, Python work beside it x{result['python_work_ratio']:.2f}, "
            f"longest stall {result['longest_stall_ms_busy']:.1f} ms"
        )
        results.append(result)
    control = measure_control(args)
    print(f"  control: a C loop that holds the GIL, longest stall {control['longest_stall_ms_busy']:.1f} ms")
    markdown = "\n".join(table([*results, control]))
    print("\n" + markdown)
    write_report(args, results, control, markdown)
    return 0


def hasher_for(config: Config, **overrides: int) -> Any:
    """An instance of the configuration's hasher, with `overrides` on top of its own."""
    module, _, name = config.hasher.rpartition(".")
    base = getattr(importlib.import_module(module), name)
    attributes = {**config.overrides, **overrides}
    return type(f"Bench{base.__name__}", (base,), attributes)() if attributes else base()


def cheap_overrides(hasher: Any) -> dict[str, int]:
    """The same hasher at the smallest cost, lanes unchanged: the warm-up check."""
    if hasattr(hasher, "memory_cost"):
        return {"time_cost": 1, "memory_cost": 8 * hasher.parallelism}
    return {"iterations": 1}


def parameters(hasher: Any) -> str:
    if hasattr(hasher, "memory_cost"):
        return f"m={hasher.memory_cost} KiB, t={hasher.time_cost}, p={hasher.parallelism}"
    return f"{hasher.iterations:,} iterations"


def run_child(config: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Make the configuration's hash here, then measure its checks in a fresh process."""
    hasher = hasher_for(config)
    cheap = hasher_for(config, **cheap_overrides(hasher))
    hashes = {"encoded": hasher.encode(PASSWORD, hasher.salt()), "warm_encoded": cheap.encode(PASSWORD, cheap.salt())}
    command = [sys.executable, "-m", "bench.password_hashers", "--child", config.name]
    command += ["--repeats", str(args.repeats), "--gil-seconds", str(args.gil_seconds)]
    done = subprocess.run(
        command, cwd=REPO, input=json.dumps(hashes), capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    if done.returncode != 0:
        raise SystemExit(f"Measuring {config.name} failed:\n{done.stderr}")
    return {"name": config.name, "label": config.label, "hasher": config.hasher, **json.loads(done.stdout)}


# --- in the child: one configuration ----------------------------------------------------------


def measure(name: str, hashes: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    config = next(config for config in CONFIGS if config.name == name)
    hasher = hasher_for(config)
    check = check_of(hasher, hashes["encoded"])
    check_of(hasher, hashes["warm_encoded"])()  # imports, the library, lane threads: not counted
    before = reset_peak_memory()
    check()
    peak = memory_kib()["VmHWM"]
    walls, cpus = timed(check, args.repeats)
    retained = memory_kib()["VmRSS"]
    return {
        "parameters": parameters(hasher),
        "wall_ms": round(statistics.median(walls) * 1000, 2),
        "cpu_ms": round(statistics.median(cpus) * 1000, 2),
        "wall_ms_all": [round(value * 1000, 2) for value in walls],
        "cpu_ms_all": [round(value * 1000, 2) for value in cpus],
        "rss_before_kib": before,
        "peak_kib": peak - before,
        "retained_kib": retained - before,
        **gil_probe(check, args.gil_seconds),
    }


def measure_control(args: argparse.Namespace) -> dict[str, Any]:
    """What the GIL probe shows for work that holds the GIL: a loop in C (`sum` over a
    range) of about a check's length, which never lets another thread run Python."""

    def control() -> None:
        sum(range(CONTROL_LOOP))

    walls, cpus = timed(control, args.repeats)
    return {
        "name": "gil-control",
        "label": "control: a C loop that holds the GIL",
        "hasher": None,
        "parameters": f"sum(range({CONTROL_LOOP:,}))",
        "wall_ms": round(statistics.median(walls) * 1000, 2),
        "cpu_ms": round(statistics.median(cpus) * 1000, 2),
        "peak_kib": None,
        "retained_kib": None,
        **gil_probe(control, args.gil_seconds),
    }


def timed(run: Callable[[], None], repeats: int) -> tuple[list[float], list[float]]:
    """The wall and process CPU times of `repeats` runs, in seconds."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def check_of(hasher: Any, encoded: str) -> Callable[[], None]:
    def check() -> None:
        if not hasher.verify(PASSWORD, encoded):
            raise SystemExit(f"{type(hasher).__name__} did not verify its own hash")

    return check


def reset_peak_memory() -> int:
    """Reset VmHWM to the current resident set (Linux 4.0+) and return it, in KiB."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    memory = memory_kib()
    if memory["VmHWM"] > memory["VmRSS"] + 1024:
        raise SystemExit("This kernel did not reset the peak resident set (/proc/self/clear_refs)")
    return memory["VmHWM"]


def memory_kib() -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of this process, in KiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0])
    return fields


def gil_probe(check: Callable[[], None], seconds: float, rounds: int = 3) -> dict[str, Any]:
    """Pure-Python work the main thread gets done while another thread runs checks, against
    the same while that thread waits, in alternating windows (so that load from other
    processes weighs on both alike); and the main thread's longest stall in each case. A
    check that holds the GIL stalls the main thread for about the whole check."""
    window = seconds / rounds
    idle = [python_work_beside(None, window)]
    busy = []
    for _ in range(rounds):
        busy.append(python_work_beside(check, window))
        idle.append(python_work_beside(None, window))
    ratios = [
        busy_work / statistics.mean((before, after))
        for (busy_work, _), (before, _), (after, _) in zip(busy, idle[:-1], idle[1:], strict=True)
    ]
    return {
        "python_work_ratio": round(statistics.median(ratios), 3),
        "python_work_ratios": [round(ratio, 3) for ratio in ratios],
        "longest_stall_ms_busy": round(max(stall for _, stall in busy) * 1000, 2),
        "longest_stall_ms_idle": round(max(stall for _, stall in idle) * 1000, 2),
    }


def python_work_beside(check: Callable[[], None] | None, seconds: float) -> tuple[int, float]:
    """`count_python_work` while another thread runs `check` back to back, or waits (None)."""
    stop = threading.Event()

    def other_thread() -> None:
        while not stop.is_set():
            if check is None:
                stop.wait()
            else:
                check()

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        return count_python_work(seconds)
    finally:
        stop.set()
        thread.join()


def count_python_work(seconds: float) -> tuple[int, float]:
    """Rounds of a small pure-Python loop (about 30 µs each) done in `seconds` of wall time,
    and the longest time between two rounds' ends, in seconds."""
    rounds, longest = 0, 0.0
    last = time.perf_counter()
    deadline = last + seconds
    while last < deadline:
        total = 0
        for number in range(1000):
            total += number
        rounds += 1
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    return rounds, longest


# --- the report -------------------------------------------------------------------------------


def table(results: list[dict[str, Any]]) -> list[str]:
    """The Markdown table: one row per configuration, then the GIL control."""
    headers = [
        "hasher",
        "parameters",
        "wall ms",
        "CPU ms",
        "peak MiB",
        "kept MiB",
        f"worker + peak (of {WORKER_BUDGET_MIB} MiB)",
        "Python work beside",
        "longest stall ms",
        f"logins/s at {CPU_SHARE:.0%} of a core",
    ]
    lines = ["| " + " | ".join(headers) + " |", "| --- | --- |" + " ---: |" * (len(headers) - 2)]
    for result in results:
        hasher = result["peak_kib"] is not None
        cells = [
            result["label"],
            result["parameters"],
            f"{result['wall_ms']:.1f}",
            f"{result['cpu_ms']:.1f}",
            f"{result['peak_kib'] / 1024:.1f}" if hasher else "",
            f"{result['retained_kib'] / 1024:.1f}" if hasher else "",
            f"{WORKER_RSS_MIB + result['peak_kib'] / 1024:.0f}" if hasher else "",
            f"{result['python_work_ratio']:.2f}",
            f"{result['longest_stall_ms_busy']:.0f}",
            f"{CPU_SHARE / (result['cpu_ms'] / 1000):.1f}" if hasher else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_report(
    args: argparse.Namespace, results: list[dict[str, Any]], control: dict[str, Any], markdown: str
) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": host(),
        "repeats": args.repeats,
        "gil_seconds": args.gil_seconds,
        "cpu_share": CPU_SHARE,
        "results": results,
        "gil_control": control,
    }
    (args.out / "password_hashers.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "password_hashers.md").write_text(markdown + "\n")
    print(f"\nWrote {args.out / 'password_hashers.json'} and password_hashers.md")


def host() -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "django": importlib.metadata.version("django"),
        "argon2_cffi": importlib.metadata.version("argon2-cffi"),
        "argon2_cffi_bindings": importlib.metadata.version("argon2-cffi-bindings"),
        "openssl": ssl.OPENSSL_VERSION,
        "kernel": platform.release(),
        "load_average": [round(load, 2) for load in os.getloadavg()],  # others' work on the same cores
        "commit": _git_commit(),
    }


if __name__ == "__main__":
    sys.exit(main())
