"""A login flood against the Procfile's web process while one client reads the home screen (issue 11).

`python -m bench.login_flood [--seconds 15] [--floods 4,16] [--ci]`

Seeds `power` with 100 friends in a dedicated database, starts the `web:` line of the Procfile
with production settings, PostgreSQL, Redis and the production password hasher, behind one
trusted proxy (TRUSTED_PROXY_COUNT=1, as behind the platform's router), registers the home
screen as a persisted query, then:

1. alone: one client reads the home screen by its hash, one request after another, for
   --seconds; its latencies' p50 and p90;
2. for each flood size N (--floods): wrk with N connections sends logins with a wrong password
   as fast as it can, each for another username and from another address (X-Forwarded-For),
   so that neither per-username nor per-address limits stop it: only the password checks'
   share of the CPU does. The reader reads on; its p50 and p90 during the flood, the logins
   answered by code (UNAUTHENTICATED: a password was checked; RATE_LIMITED: refused at once)
   and the seconds until the first RATE_LIMITED.
3. one address: the same flood from a single address, whose failed logins are counted: how
   many passwords were checked before every login from it was RATE_LIMITED.

Writes bench-output/login_flood.json (-ci.json with --ci). Exits 1 when a reader request
failed, when its p90 during a flood is over MAX_P90_RATIO times its p90 alone, or when a flood
saw no RATE_LIMITED within --limited-within seconds. Bounded in time; stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.environment import _git_commit as git_commit, write_json
from bench.harness import (
    OUTPUT_DIR,
    check_home_screen,
    django_env,
    gunicorn_shape,
    login,
    machine,
    persisted_home_screen_bodies,
    prepare_database,
    web_server,
)
from bench.probes import PersistedHomeScreen, Probe, latency_summary

FRIENDS = 100
DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/calendar_bench_flood"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
MAX_P90_RATIO = 2.0
LIMITED_WITHIN = 5  # seconds from a flood's start to its first RATE_LIMITED

FLOOD_LUA = """\
-- Written by bench/login_flood.py: logins with a wrong password, each for another username and
-- (unless ONE_ADDRESS) from another address; counts the answers by code, and the seconds from
-- the start to the first RATE_LIMITED (wrk's clock has whole seconds).
local one_address = %(one_address)s
local threads = {}
local index = 0

function setup(thread)
  index = index + 1
  thread:set("seed", index)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(seed * 7919 + os.time())
  sent, checked, limited, other, first_limited = 0, 0, 0, 0, -1
  started = os.time()
  wrk.method = "POST"
end

function request()
  sent = sent + 1
  local user = string.format("flood%%d_%%d_%%d", seed, sent, math.random(1, 1000000000))
  local address = "203.0.113.7"
  if not one_address then
    address = string.format("10.%%d.%%d.%%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  end
  local body = '{"query": "mutation($u: String!) { login(input: {username: $u, password: \\\\"wrong-password\\\\"}) '
    .. '{ token } }", "variables": {"u": "' .. user .. '"}}'
  return wrk.format(nil, nil, {["Content-Type"] = "application/json", ["X-Forwarded-For"] = address}, body)
end

function response(status, headers, body)
  if status == 200 and body:find("RATE_LIMITED", 1, true) then
    limited = limited + 1
    if first_limited < 0 then first_limited = os.time() - started end
  elseif status == 200 and body:find("UNAUTHENTICATED", 1, true) then
    checked = checked + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local totals = {checked = 0, limited = 0, other = 0}
  local first = -1
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do totals[key] = totals[key] + thread:get(key) end
    local seen = thread:get("first_limited")
    if seen >= 0 and (first < 0 or seen < first) then first = seen end
  end
  io.write(string.format("FLOOD checked=%%d limited=%%d other=%%d first_limited=%%d\\n",
    totals.checked, totals.limited, totals.other, first))
end
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.login_flood", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dedicated database (created if missing)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="the web process's REDIS_URL")
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--floods", default="4,16", help="wrk connections of each flood, comma-separated")
    parser.add_argument(
        "--limited-within", type=float, default=LIMITED_WITHIN, help="seconds until the first RATE_LIMITED"
    )
    parser.add_argument("--output", type=Path)
    parser.add_argument("--ci", action="store_true", help="shorter phases (10 s), as CI runs it")
    args = parser.parse_args(argv)
    if args.ci:
        args.seconds = 10
    args.output = args.output or OUTPUT_DIR / ("login_flood-ci.json" if args.ci else "login_flood.json")
    args.flood_sizes = [int(size) for size in args.floods.split(",") if size.strip()]
    return args


class Reader:
    """One client reading the home screen by hash, one request after another, until stopped."""

    def __init__(self, url: str, token: str) -> None:
        self.send = PersistedHomeScreen(url, token)
        self.probes: list[Probe] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.probes.append(self.send(timeout=30))

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def summary(self) -> dict:
        latencies = [probe.ms for probe in self.probes]
        failed = [probe.detail for probe in self.probes if not probe.ok]
        return {"requests": len(self.probes), "failed": failed, "latency_ms": latency_summary(latencies)}


def read_alone(url: str, token: str, seconds: float) -> dict:
    with Reader(url, token) as reader:
        time.sleep(seconds)
    return reader.summary()


def flood(url: str, token: str, connections: int, seconds: float, one_address: bool = False) -> dict:
    """The reader reads while wrk floods with `connections` connections for `seconds`."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "flood.lua"
        script.write_text(FLOOD_LUA % {"one_address": "true" if one_address else "false"})
        # At the lowest CPU priority: on this machine wrk shares the server's cores, where the
        # flood of a real attack comes from other machines; the server gets the CPU it needs first.
        command = ["nice", "-n", "19", "wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s"]
        command += ["-s", str(script), url]
        with Reader(url, token) as reader:
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    counts = dict(
        pair.split("=") for line in done.stdout.splitlines() if line.startswith("FLOOD ") for pair in line.split()[1:]
    )
    checked, limited, other = (int(counts[key]) for key in ("checked", "limited", "other"))
    first = int(counts["first_limited"])
    return {
        "connections": connections,
        "one_address": one_address,
        "logins": checked + limited + other,
        "passwords_checked": checked,
        "passwords_checked_per_s": round(checked / seconds, 1),
        "rate_limited": limited,
        "other": other,
        "first_rate_limited_s": None if first < 0 else first,
        "reader": reader.summary(),
    }


def judge(results: dict, limited_within: float = LIMITED_WITHIN) -> list[str]:
    """What failed, in words (empty when the run passed); sets each flood's `p90_ratio`."""
    problems = []
    alone_p90 = results["alone"]["latency_ms"]["p90"]
    for phase in [{"reader": results["alone"], "name": "alone"}, *results["floods"]]:
        if phase["reader"]["failed"]:
            problems.append(f"reader requests failed ({phase.get('name', phase.get('connections'))}): "
                            f"{phase['reader']['failed'][:5]}")  # fmt: skip
    for phase in results["floods"]:
        ratio = phase["reader"]["latency_ms"]["p90"] / alone_p90
        phase["p90_ratio"] = round(ratio, 2)
        if not phase["one_address"] and ratio > MAX_P90_RATIO:
            problems.append(f"{phase['connections']} flooding connections: the reader's p90 is {ratio:.2f}x alone")
        if phase["first_rate_limited_s"] is None or phase["first_rate_limited_s"] > limited_within:
            problems.append(f"{phase['connections']} flooding connections: no RATE_LIMITED within {limited_within} s")
    return problems


def run_floods(url: str, token: str, seconds: float, sizes: list[int]) -> dict:
    """The reader alone, then during each flood, then during the largest flood from one address,
    against the web process at `url` (whose Redis holds no earlier run's counts)."""
    results: dict = {"seconds": seconds, "alone": read_alone(url, token, seconds), "floods": []}
    print(f"alone: {results['alone']['latency_ms']}", flush=True)
    for connections in sizes:
        phase = flood(url, token, connections, seconds)
        results["floods"].append(phase)
        print(f"flood of {connections}: {_phase_text(phase)}", flush=True)
        time.sleep(2)  # the gate's credit refills a little; the next phase starts near alike
    phase = flood(url, token, max(sizes), seconds, one_address=True)
    results["floods"].append(phase)
    print(f"flood of {phase['connections']} from one address: {_phase_text(phase)}", flush=True)
    return results


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The web process as behind the platform's router, whose X-Forwarded-For it trusts."""
    return {**django_env(database_url), "REDIS_URL": redis_url, "TRUSTED_PROXY_COUNT": "1"}


def run(args: argparse.Namespace) -> dict:
    prepare_database(args.database_url, FRIENDS)
    env = server_env(args.database_url, args.redis_url)
    results: dict = {
        "mode": "ci" if args.ci else "full",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": machine(),
        "settings": {"friends": FRIENDS, "seconds": args.seconds, **gunicorn_shape(env)},
    }
    flush_redis_database(args.redis_url)
    with web_server(env, OUTPUT_DIR / "login_flood-web.log") as (url, _master):
        token = login(url)
        by_hash, with_query = persisted_home_screen_bodies()
        check_home_screen(url, token, FRIENDS, with_query)
        check_home_screen(url, token, FRIENDS, by_hash)
        results |= run_floods(url, token, args.seconds, args.flood_sizes)
    return results


def flush_redis_database(url: str) -> None:
    """The bench's own Redis database starts empty: no count of an earlier run's flood, no
    persisted query of an earlier run."""
    import redis

    with redis.Redis.from_url(url, socket_timeout=5) as client:
        client.flushdb()


def _phase_text(phase: dict) -> str:
    reader = phase["reader"]["latency_ms"]
    return (
        f"{phase['logins']} logins, {phase['passwords_checked']} passwords checked "
        f"({phase['passwords_checked_per_s']}/s), {phase['rate_limited']} RATE_LIMITED "
        f"(first after {phase['first_rate_limited_s']} s); reader p50 {reader['p50']} ms, p90 {reader['p90']} ms"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    problems = judge(results, args.limited_within)
    results["problems"] = problems
    write_json(args.output, results)
    print(f"wrote {args.output}")
    for problem in problems:
        print(f"FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
