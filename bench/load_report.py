"""docs/load.md from bench-output/sustained_load.json (`python -m bench.sustained_load` writes both).

`python -m bench.load_report` writes the page again from the last run's JSON, e.g. after
editing the text below: every figure on the page comes from that file.
"""

from __future__ import annotations

import json
import sys

from bench.harness import OUTPUT_DIR, ROOT
from bench.report import number, table

DOCS_FILE = ROOT / "docs" / "load.md"
RESULTS_FILE = OUTPUT_DIR / "sustained_load.json"

MEANING = """\
## What the figures mean

- **Fixed rate, open loop.** Request *i* is due at start + *i* / rate whatever the earlier ones
  took, and a pool of client threads sends it (each on a connection of its own), so a slow
  answer holds one thread, not the schedule. Latency counts from the due time, not from the
  send: a request that waited for the server, or for a free client thread, shows it (no
  coordinated omission). Each request is bounded by the timeout from its due time. An error is
  any answer but a 200 without GraphQL errors (classified as `http_<status>`,
  `graphql_<code>`, `timeout`, `connection`, `bad_answer`); zero are expected, and
  `make load-ci` fails on any. "Sent at" is the rate requests really left the client, and
  "send lag" how late they left: both show whether the client, on the same cores as the
  server, kept its schedule.
- **At capacity, closed loop.** wrk keeps its connections busy, each sending the next request
  when the previous answer came: that gives the most the server serves a second, and
  latencies that are mostly queueing inside the server (about connections / throughput,
  Little's law). A closed loop slows down with the server, so these percentiles are as
  served, not as a user at a fixed rate would see them: that is what the open loop is for.
  Errors are non-200 answers, 200s whose body has GraphQL errors (counted by wrk's Lua, e.g.
  `PERSISTED_QUERY_NOT_FOUND` if Redis lost the hash) and socket errors (connect, read,
  write, timeout after 10 s); the rate is of all attempts.
- **Memory.** Each gunicorn worker's RSS (from `/proc`) every few seconds from the start of
  the fixed-rate phase (after a warm-up and the capacity probe) to the end of the run, with
  recycling off (`GUNICORN_MAX_REQUESTS=0`), so growth cannot hide behind a new worker. The
  slope is the least-squares line of a worker's RSS against the requests the whole server had
  served (each worker serves about its share of them; within a wrk run the count is spread
  evenly over its time), in kB per 1,000 requests: a worker keeping 1 kB per request it
  serves would show about 1,000 / workers. "Replaced" marks a worker gone before the end
  (crashed or killed: its successor appears as a new row).
- **Noise.** Two cores shared by the server, PostgreSQL, Redis and the load generator (which
  takes CPU from the server it measures), and by other work on the machine: throughput and
  latencies move by 10-20% from run to run. CI (`make load-ci`) therefore checks that no
  request fails at a low fixed rate, and one ratio measured within one run, the reader's p90
  during each login flood against its p90 alone (at most 2), never an absolute time or a
  memory figure.
- **The login flood.** Each phase is closed loop: wrk sends a login as soon as its connection
  has the previous answer. A password check costs about 21 ms of CPU (Argon2id,
  docs/production.md), at most one runs at a time per worker and all of them together take
  at most a quarter of a core over time (`PASSWORD_CHECK_CPU_SHARE`), so "passwords checked
  per s" is bounded by about 12 per worker; every other login is `RATE_LIMITED` at once, and
  its answer is held back a second on the event loop (`RATE_LIMITED_ANSWER_DELAY`), so the
  flood's connections mostly wait. "First after" has wrk's whole seconds.
"""

REPRODUCE = """\
## Reproduce

```sh
make load      # this page: a third of capacity for 300 s, capacity for 120 s, the login floods (about 10 minutes)
make load-ci   # CI's run: 3 requests/s for 30 s, 15 s at capacity, 12 s floods; fails on an error at the
               # fixed rate, or a flood that doubles the reader's p90 or is not refused within 5 s
.venv/bin/python -m bench.login_flood --help      # the login floods alone, on a server of their own
.venv/bin/python -m bench.sustained_load --help   # --rate, --fixed-seconds, --capacity-seconds, ...
```

It needs PostgreSQL and Redis on 127.0.0.1 (`make services`) and wrk. Its data lives in its own
database, `calendar_bench_load` (`LOAD_URL`), reseeded at every run, and Redis database 10
(`LOAD_REDIS_URL`). Raw figures: `bench-output/sustained_load.json`; the web process's log:
`bench-output/sustained_load-web.log`. `python -m bench.load_report` rewrites this page from
the JSON.
"""


def render(results: dict) -> str:
    lines = [
        "# Sustained load",
        "",
        f"Written by `make load` (`python -m bench.sustained_load`) on {results['date']}, commit "
        f"{results['commit']}; regenerated, never edited by hand.",
        "",
        *summary(results),
        "",
        *setup_section(results),
        "",
        *fixed_section(results["fixed_rate"]),
        "",
        *capacity_section(results["capacity_probe"], results["capacity"]),
        "",
        *memory_section(results["memory"]),
        "",
        *flood_section(results["login_flood"]),
        "",
        MEANING,
        REPRODUCE,
    ]
    return "\n".join(lines)


def summary(results: dict) -> list[str]:
    fixed, capacity, workers = results["fixed_rate"], results["capacity"], results["memory"]["workers"]
    slopes = ", ".join(number(worker["slope_kb_per_1000_requests"], 2) for worker in workers)
    growths = ", ".join(f"{worker['growth_pct']:+.2f}%" for worker in workers)
    return [
        f"**In short:** at a fixed {number(fixed['rate'], 2)} requests/s for {number(fixed['seconds'], 0)} s, "
        f"{number(fixed['requests'])} requests and **{number(fixed['errors'])} errors**, p99 "
        f"{number(fixed['latency_ms']['p99'])} ms. At capacity ({capacity['concurrency']} connections, "
        f"{number(capacity['seconds'], 0)} s): {number(capacity['rps'])} requests/s, "
        f"{number(capacity['errors'])} errors ({number(capacity['error_rate_pct'], 2)}%), p99 "
        f"{number(capacity['latency_ms']['p99'])} ms. Worker memory over "
        f"{number(results['memory']['requests'])} requests: {growths} ({slopes} kB per 1,000 requests).",
    ]


def setup_section(results: dict) -> list[str]:
    settings = results["settings"]
    return [
        "## What ran",
        "",
        f"- **Machine:** {results['machine']}; PostgreSQL {settings['postgresql']}, Redis {settings['redis']}, "
        "all on 127.0.0.1, with the load generator on the same cores.",
        f"- **Server:** the Procfile's `web:` process (`gunicorn config.asgi`, gunicorn.conf.py), production "
        f"settings, {settings['workers']} `{settings['worker_class']}` workers, PostgreSQL and `REDIS_URL` set, "
        f"`GUNICORN_MAX_REQUESTS={settings['max_requests']}` (recycling off).",
        f"- **Data:** `power` with {settings['friends']} friends, 10 events a day for 3 days (`seed_demo`).",
        "- **Request:** the home screen (`tests/operations/home_screen.graphql`: 100 friends with "
        "`totalCount`, each friend's events of the day) sent as the app's Apollo client sends it, by "
        "its automatic persisted query hash alone (registered once with its text before the run).",
        f"- **Load:** the open loop with {settings['clients']} client threads and a {number(settings['timeout'], 0)} s "
        f"timeout; wrk with {settings['threads']} threads and {settings['concurrency']} connections; RSS "
        f"sampled every {number(settings['sample_seconds'], 0)} s.",
    ]


def fixed_section(fixed: dict) -> list[str]:
    latency = fixed["latency_ms"]
    headers = ["rate (requests/s)", "seconds", "requests", "errors", "sent at (/s)"]
    headers += ["p50 ms", "p90 ms", "p99 ms", "max ms", "send lag p99 / max ms"]
    row = [number(fixed["rate"], 2), number(fixed["seconds"], 0), number(fixed["requests"]), number(fixed["errors"])]
    row += [number(fixed["achieved_rps"], 2), *(number(latency[key]) for key in ("p50", "p90", "p99", "max"))]
    row.append(f"{number(fixed['send_lag_ms']['p99'])} / {number(fixed['send_lag_ms']['max'])}")
    return [
        "## At a fixed rate (open loop)",
        "",
        *table(headers, [row], right_from=0),
        "",
        f"Errors by class: {errors_text(fixed['errors_by_class'], '`')}. Sent again with the query text after "
        f"`PERSISTED_QUERY_NOT_FOUND`: {fixed['resent_with_query']}.",
    ]


def capacity_section(probe: dict | None, capacity: dict) -> list[str]:
    latency = capacity["latency_ms"]
    headers = ["connections", "seconds", "requests", "requests/s", "errors", "error rate"]
    headers += [f"{key} ms" for key in latency]
    row = [capacity["concurrency"], number(capacity["seconds"], 0), number(capacity["requests"])]
    row += [number(capacity["rps"]), number(capacity["errors"]), f"{number(capacity['error_rate_pct'], 2)}%"]
    row += [number(value) for value in latency.values()]
    measured = (
        f"The fixed rate was a third of {number(probe['rps'])} requests/s, measured just before by wrk "
        f"({probe['concurrency']} connections, {number(probe['seconds'], 0)} s, {number(probe['errors'])} errors)."
        if probe
        else "The fixed rate was given (`--rate`); capacity was not measured before it."
    )
    return [
        "## At capacity (closed loop, wrk)",
        "",
        *table(headers, [row], right_from=0),
        "",
        f"Errors by class: {errors_text(capacity['errors_by_class'], '`')}. {measured}",
    ]


def memory_section(memory: dict) -> list[str]:
    headers = ["worker", "note", "samples", "start kB", "end kB", "max kB", "growth", "kB per 1,000 requests"]
    rows = [
        [
            worker["pid"],
            "replaced" if worker["replaced"] else "started during the run" if worker["started_late"] else "",
            worker["samples"],
            number(worker["start_kb"]),
            number(worker["end_kb"]),
            number(worker["max_kb"]),
            f"{worker['growth_pct']:+.2f}%",
            number(worker["slope_kb_per_1000_requests"], 2),
        ]
        for worker in memory["workers"]
    ]
    return [
        "## Worker memory, through both phases",
        "",
        f"{memory['samples']} samples over {number(memory['requests'])} requests.",
        "",
        *table(headers, rows, right_from=2),
    ]


def flood_section(flood: dict) -> list[str]:
    alone = flood["alone"]["latency_ms"]
    headers = ["phase", "logins answered", "passwords checked", "per s", "RATE_LIMITED", "first after"]
    headers += ["reader requests", "reader p50 ms", "reader p90 ms", "p90 / alone"]
    rows = [["reader alone", "", "", "", "", "", number(flood["alone"]["requests"]), number(alone["p50"])]]
    rows[0] += [number(alone["p90"]), "1"]
    for phase in flood["floods"]:
        name = f"{phase['connections']} connections" + (", one address" if phase["one_address"] else "")
        reader = phase["reader"]["latency_ms"]
        first = phase["first_rate_limited_s"]
        rows.append(
            [
                name,
                number(phase["logins"]),
                number(phase["passwords_checked"]),
                number(phase["passwords_checked_per_s"], 1),
                number(phase["rate_limited"]),
                "never" if first is None else f"{first} s",
                number(phase["reader"]["requests"]),
                number(reader["p50"]),
                number(reader["p90"]),
                number(phase["p90_ratio"], 2),
            ]
        )
    verdict = "; ".join(flood["problems"]) or "the reader's p90 stayed within twice its p90 alone, as CI requires"
    return [
        "## A login flood (issue 11)",
        "",
        f"One client reads the home screen by its hash, one request after another, alone and then during "
        f"each flood, {number(flood['seconds'], 0)} s a phase. A flood is wrk (at the lowest CPU priority: "
        "a real attack's clients are other machines) sending logins with a wrong password as fast as its "
        "connections allow, each for a new username and from a new address (`X-Forwarded-For` behind one "
        "trusted proxy, as behind the platform's router), so that only the password checks' share of the CPU "
        "stops them; the last phase sends all from one address, whose failed logins are counted.",
        "",
        *table(headers, rows, right_from=1),
        "",
        f"Verdict: {verdict}.",
    ]


def errors_text(errors_by_class: dict[str, int], quote: str = "") -> str:
    return ", ".join(f"{quote}{kind}{quote} {count}" for kind, count in errors_by_class.items()) or "none"


def main() -> int:
    if not RESULTS_FILE.exists():
        print(f"{RESULTS_FILE} is missing: run `python -m bench.sustained_load` first.", file=sys.stderr)
        return 1
    results = json.loads(RESULTS_FILE.read_text())
    if results["mode"] != "full":
        print(f"{RESULTS_FILE} is from a --ci run: too short for the page.", file=sys.stderr)
        return 1
    DOCS_FILE.write_text(render(results))
    print(f"wrote {DOCS_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
