"""HTTP throughput and worker memory of the Procfile's web process, against the floor's
(issues 3 and 12).

`python -m bench.http_load [--sizes 100,1000] [--duration 10] [--rounds 3] [--soak-requests 10000] [--quick]`

For each size: seed a dedicated PostgreSQL database as the in-process bench does
(bench/inprocess.py: `seed_demo --friends N --events-per-day 10 --days 3`, VACUUM ANALYZE), start
the `web:` line of the Procfile on 127.0.0.1 with the bench's settings (bench/settings.py:
production's, plus the floor's endpoint `POST /bench/floor/<operation>`, bench/urls.py), log in
as `power`, and check once that every operation's floor answer over HTTP is our /graphql answer
(the same document). Then wrk loads the home screen at a fixed concurrency, ours and the floor
in turn for --rounds rounds of --duration seconds each (alternating, so both see the same
machine), reading each gunicorn worker's RSS before and after; the figures are the medians of
the rounds, and the ratio ours ÷ floor the median of the rounds' ratios. At 100 friends the
trivial operation `{ __typename }` with a token is measured the same way against the floor's
trivial statement (what any request costs: the view, authentication, middleware, request log),
and a soak of --soak-requests home screens follows on the same server, to see whether the
workers' memory grows. Any error (a status but 200, an answer with errors, a socket error)
fails the run.

Writes bench-output/http.json (read by bench/report.py) and prints a summary.
Everything is bounded in time and stays on 127.0.0.1: the server, wrk and every request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import re
import runpy
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import unquote, urlsplit

import psycopg2
from psycopg2 import sql

from bench.environment import BENCH_GLOBAL_ID_KEY, configure_django, machine as machine_details

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = ROOT / "bench-output"
OPERATION_FILE = ROOT / "tests" / "operations" / "home_screen.graphql"
VARIABLES = {"date": "2026-11-23"}
DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/calendar_bench"
HOST = "127.0.0.1"
PAGE_SIZE = 100  # friends(first: 100) in the home screen
SOAK_FRIENDS = 100
DEFAULT_MAX_SOAK_SECONDS = 600  # keeps make bench within about 25 minutes on a busy machine
DEFAULT_WORKERS = "2"  # this machine has 2 cores; only used when no gunicorn.conf.py decides
SEED_TIMEOUT = 900
SERVER_START_TIMEOUT = 60
WARMUP_SECONDS = 3
LOGIN = 'mutation { login(input: {username: "power", password: "demo"}) { token } }'
# A local opener that ignores http_proxy & co.: every request here goes to 127.0.0.1 directly.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    latency_ms: dict[str, float]
    socket_errors: int
    non_2xx: int
    non_200: int
    graphql_errors: int = 0  # 200 answers whose body has "errors" (our Lua's count)
    socket_error_kinds: dict[str, int] | None = None  # connect, read, write, timeout

    @property
    def errors(self) -> int:
        # Our Lua counts every status but 200, a superset of wrk's own "Non-2xx or 3xx".
        return self.socket_errors + max(self.non_200, self.non_2xx) + self.graphql_errors


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dedicated database (created if missing)")
    parser.add_argument("--sizes", default="100,1000", help="friends of `power`, comma-separated")
    parser.add_argument("--concurrency", type=int, default=8, help="open connections (wrk -c)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (wrk -t)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each round of load (ours, then the floor)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ours-then-floor per size (medians are kept)")
    parser.add_argument("--soak-requests", type=int, default=10000, help="requests of the memory soak; 0: no soak")
    parser.add_argument(
        "--soak-max-seconds", type=int, default=DEFAULT_MAX_SOAK_SECONDS, help="the soak's time bound (seconds)"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR / "http.json")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 friends, one round of 5 s, no soak")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.duration, args.rounds, args.soak_requests = "100", 5, 1, 0
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    return args


# --- the database -----------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """Create the bench database if it does not exist, connecting to `postgres` to do it.

    Only a database whose name says "bench" is accepted: `seed_demo --reset` rewrites its data.
    """
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if "bench" not in name:
        raise SystemExit(f"Refusing database {name!r}: use a dedicated one with 'bench' in its name.")
    connection = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=unquote(parts.username or "") or None,
        password=unquote(parts.password or "") or None,
        dbname="postgres",
        connect_timeout=10,
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created database {name}")
    finally:
        connection.close()


def django_env(database_url: str) -> dict[str, str]:
    """The environment of the production process: settings, a throwaway secret, the IDs' key of
    every bench process, the bench database.

    Knobs that would change what is measured (SQL logging, extra gunicorn arguments) are dropped;
    the venv's bin comes first in PATH so that the Procfile's `gunicorn` is this project's.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"GUNICORN_CMD_ARGS", "GRAPHQL_LOG_SQL", "DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        GLOBAL_ID_KEY=os.environ.get("GLOBAL_ID_KEY") or BENCH_GLOBAL_ID_KEY,
        ALLOWED_HOSTS=f"{HOST},localhost",
        SECURE_SSL_REDIRECT="false",  # plain HTTP on 127.0.0.1: no router terminates TLS here
        # The soak measures each worker's memory over 10,000 requests: a recycled worker
        # (gunicorn's max_requests, on in production) would hide any growth.
        GUNICORN_MAX_REQUESTS="0",
        # The load generators send one viewer's home screen hundreds of times a second, as
        # thousands of the app's users would: a viewer's cost budget (3,000,000 a minute, about
        # 1.6 home screens a second) would refuse most of it.
        VIEWER_COST_BUDGET=str(10**15),
        DATABASE_URL=database_url,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    if (ROOT / "gunicorn.conf.py").exists():
        env.pop("WEB_CONCURRENCY", None)  # the project's gunicorn.conf.py decides the worker count
    else:
        env.setdefault("WEB_CONCURRENCY", DEFAULT_WORKERS)
    return env


def manage(env: dict[str, str], *arguments: str) -> None:
    """Run `manage.py <arguments>` as a subprocess, bounded in time, failing loudly."""
    command = [sys.executable, "manage.py", *arguments]
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=SEED_TIMEOUT, stdout=subprocess.DEVNULL)


def prepare_database(database_url: str, friends: int) -> None:
    """Migrate the bench database and seed it with `friends` friends, 10 events a day, 3 days."""
    ensure_database(database_url)
    env = django_env(database_url)
    began = time.monotonic()
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--friends", str(friends), "--events-per-day", "10", "--days", "3", "--reset")
    print(f"seeded {friends} friends in {time.monotonic() - began:.1f} s")


# --- the web process --------------------------------------------------------------------------


def procfile_command(process: str = "web") -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == process:
            return command.strip()
    raise SystemExit(f"The Procfile has no '{process}:' line.")


def web_command(port: int) -> tuple[list[str], dict[str, str]]:
    """The Procfile's web line as argv (with $PORT substituted) and any VAR=value prefixes.

    The Procfile binds 0.0.0.0 (every interface, for the platform's router); the bench must
    not expose the server, so the bind host becomes 127.0.0.1. Everything else is kept.
    """
    tokens = [t.replace("${PORT}", str(port)).replace("$PORT", str(port)) for t in shlex.split(procfile_command())]
    assignments = {}
    while tokens and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", tokens[0]):
        name, _, value = tokens.pop(0).partition("=")
        assignments[name] = value
    bound = False
    for i, token in enumerate(tokens):
        if token in ("-b", "--bind") and i + 1 < len(tokens):
            tokens[i + 1], bound = local_bind(tokens[i + 1], port), True
        elif token.startswith("--bind="):
            tokens[i], bound = "--bind=" + local_bind(token.removeprefix("--bind="), port), True
    if not bound:
        tokens += ["--bind", f"{HOST}:{port}"]
    return tokens, assignments


def local_bind(address: str, port: int) -> str:
    _, _, bound_port = address.rpartition(":")
    return f"{HOST}:{bound_port if bound_port.isdigit() else port}"


def gunicorn_shape(env: dict[str, str]) -> dict:
    """Workers and their class as gunicorn.conf.py sets them in the web process's environment."""
    with mock.patch.dict(os.environ, env, clear=True):
        config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return {"workers": config["workers"], "worker_class": config["worker_class"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def web_server(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, int]]:
    """Run the web process until the block ends; yields (GraphQL URL, master pid).

    The process runs in its own session, and the whole group is stopped in `finally`,
    whatever happened in between.
    """
    port = free_port()
    argv, assignments = web_command(port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log, tempfile.TemporaryDirectory() as runtime:
        # gunicorn puts its control socket in XDG_RUNTIME_DIR (else ~/.gunicorn/, shared by
        # every gunicorn of the user): a private one keeps concurrent servers apart.
        env = {**env, **assignments, "XDG_RUNTIME_DIR": runtime}
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            url = f"http://{HOST}:{port}/graphql"
            print(f"started: {shlex.join(argv)} (pid {process.pid}, WEB_CONCURRENCY={env.get('WEB_CONCURRENCY')})")
            wait_until_up(url, process, log_path)
            yield url, process.pid
        finally:
            stop(process)


def wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The web process exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            OPENER.open(url, timeout=5).close()
            return
        except urllib.error.HTTPError:
            return  # an HTTP answer, even a 4xx, means it is serving
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The web process did not answer within {SERVER_START_TIMEOUT} s:\n{log_path.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group (gunicorn's graceful stop), SIGKILL it if still there after 15 s."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass


# --- requests ---------------------------------------------------------------------------------


def home_screen_body() -> bytes:
    return json.dumps({"query": OPERATION_FILE.read_text(), "variables": VARIABLES}).encode()


def persisted_home_screen_bodies() -> tuple[bytes, bytes]:
    """The home screen as the mobile app's Apollo client sends it (automatic persisted
    queries): by the query's SHA-256 alone, and with the query too, which registers it."""
    query = OPERATION_FILE.read_text()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
    by_hash = json.dumps({"variables": VARIABLES, "extensions": extensions}).encode()
    with_query = json.dumps({"query": query, "variables": VARIABLES, "extensions": extensions}).encode()
    return by_hash, with_query


def graphql_request(url: str, body: bytes | None, token: str | None = None) -> urllib.request.Request:
    """A JSON POST to /graphql (a GET without a body), with the bearer token when given."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")


def post(url: str, body: bytes, token: str | None = None) -> dict:
    with OPENER.open(graphql_request(url, body, token), timeout=60) as response:
        return json.loads(response.read())


def login(url: str) -> str:
    answer = post(url, json.dumps({"query": LOGIN}).encode())
    if answer.get("errors") or not answer.get("data", {}).get("login"):
        raise SystemExit(f"Could not log in as power: {answer}")
    return answer["data"]["login"]["token"]


def check_home_screen(url: str, token: str, friends: int, body: bytes | None = None) -> None:
    """One request before the load (`body`, default: the home screen with its query text):
    no errors, a full page of friends, the seeded total."""
    answer = post(url, body or home_screen_body(), token)
    if answer.get("errors"):
        raise SystemExit(f"The home screen answered errors: {answer['errors']}")
    connection = answer["data"]["viewer"]["friends"]
    expected = min(PAGE_SIZE, friends)
    if len(connection["edges"]) != expected or connection["totalCount"] != friends:
        raise SystemExit(f"Expected {expected} of {friends} friends, got {len(connection['edges'])} of {connection}")


# --- wrk --------------------------------------------------------------------------------------

LUA_SCRIPT = """\
-- Written by bench/http_load.py: POST the body, count every status but 200 as an error,
-- and every 200 whose GraphQL answer has errors (a key "errors", as JSON spells it).
local file = io.open(%(body_path)s, "rb")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
%(authorization)s

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  graphql_errors = 0
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif body:find('"errors":', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, requests)
  local non200_total, graphql_total = 0, 0
  for _, thread in ipairs(threads) do
    non200_total = non200_total + thread:get("non200")
    graphql_total = graphql_total + thread:get("graphql_errors")
  end
  io.write(string.format("non-200 responses: %%d\\n", non200_total))
  io.write(string.format("graphql-error responses: %%d\\n", graphql_total))
end
"""


def write_wrk_script(directory: Path, token: str | None, body: bytes | None = None, name: str = "home_screen") -> Path:
    """The Lua script for wrk, POSTing `body` (default: the home screen with its query text) with
    the token, if any; the JSON body sits in its own file so no Lua quoting is needed. `name`
    keeps several scripts apart in one directory."""
    body_path = directory / f"{name}.json"
    body_path.write_bytes(body or home_screen_body())
    script = directory / f"{name}.lua"
    authorization = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script.write_text(LUA_SCRIPT % {"body_path": json.dumps(str(body_path)), "authorization": authorization})
    return script


def run_wrk(url: str, script: Path, args: argparse.Namespace, seconds: int) -> WrkResult:
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.concurrency}", f"-d{seconds}s",
        "--timeout", "10s", "--latency", "-s", str(script), url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def parse_wrk(output: str) -> WrkResult:
    """Read requests, rate, percentiles and errors from wrk's text output (and our Lua's line)."""

    def number(pattern: str, default: str | None = None) -> str:
        found = re.search(pattern, output, re.MULTILINE)
        if found is None:
            if default is None:
                raise SystemExit(f"Unexpected wrk output (no {pattern!r}):\n{output}")
            return default
        return found.group(1)

    def duration_ms(pattern: str, what: str) -> float:
        found = re.search(pattern + r"([\d.]+)(us|ms|s|m)\b", output, re.MULTILINE)
        if found is None:
            raise SystemExit(f"Unexpected wrk output (no {what}):\n{output}")
        return round(float(found.group(1)) * UNIT_MS[found.group(2)], 2)

    latency = {f"p{p}": duration_ms(rf"^\s+{p}%\s+", f"{p}% latency") for p in ("50", "75", "90", "99")}
    # The thread stats line: "Latency  avg  stdev  max  +/- stdev"; the max is the third figure.
    latency["max"] = duration_ms(r"^\s+Latency\s+\S+\s+\S+\s+", "maximum latency")
    # wrk prints the elapsed time as 20.01s, 10.00m or 1.00h.
    elapsed = re.search(r"requests in ([\d.]+)(s|m|h),", output)
    if elapsed is None:
        raise SystemExit(f"Unexpected wrk output (no elapsed time):\n{output}")
    # wrk prints this line only when a socket error happened.
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    counts = map(int, sockets.groups()) if sockets else (0, 0, 0, 0)
    socket_kinds = dict(zip(("connect", "read", "write", "timeout"), counts, strict=True))
    return WrkResult(
        requests=int(number(r"(\d+) requests in")),
        seconds=float(elapsed.group(1)) * UNIT_MS[elapsed.group(2)] / 1000,
        rps=float(number(r"Requests/sec:\s+([\d.]+)")),
        latency_ms=latency,
        socket_errors=sum(socket_kinds.values()),
        non_2xx=int(number(r"Non-2xx or 3xx responses: (\d+)", "0")),
        non_200=int(number(r"non-200 responses: (\d+)")),
        graphql_errors=int(number(r"graphql-error responses: (\d+)", "0")),
        socket_error_kinds=socket_kinds,
    )


# --- memory -----------------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: processes whose parent is the master."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # Fields after the command name, which may hold spaces and parentheses: state, ppid, ...
        if int(stat.rpartition(")")[2].split()[1]) == master:
            pids.append(int(entry.name))
    return sorted(pids)


def rss_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None  # the worker is gone (restarted or killed)
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else None


def rss_by_worker(master: int) -> dict[int, int | None]:
    return {pid: rss_kb(pid) for pid in worker_pids(master)}


def workers_report(before: dict[int, int | None], after: dict[int, int | None], growth: bool) -> list[dict]:
    """Before/after RSS per worker present before the load (None after if it was replaced)."""
    rows = []
    for pid, rss_before in before.items():
        row = {"pid": pid, "rss_before_kb": rss_before, "rss_after_kb": after.get(pid)}
        if growth:
            row["growth_pct"] = (
                round(100 * (row["rss_after_kb"] - rss_before) / rss_before, 2)
                if rss_before and row["rss_after_kb"]
                else None
            )
        rows.append(row)
    return rows


# --- the floor over HTTP ----------------------------------------------------------------------

# The web process's settings in this bench: production's, plus the floor's endpoint (bench/urls.py).
BENCH_SETTINGS = "bench.settings"
# The trivial operation: what any request costs, against the floor's trivial statement.
TRIVIAL_OPERATION = "typename"
TRIVIAL_QUERY = "{ __typename }"


def bench_env(database_url: str) -> dict[str, str]:
    """The web process's environment (django_env) with the bench's settings, so that it serves
    /bench/floor/<operation> beside /graphql; nothing else differs from production's."""
    return {**django_env(database_url), "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS}


def floor_url(graphql_url: str, operation: str) -> str:
    return graphql_url.removesuffix("/graphql") + f"/bench/floor/{operation}"


def floor_body(given) -> bytes:
    """The floor endpoint's request body for a bench.floor.FloorInput (bench/urls.py)."""
    return json.dumps(
        {
            "viewer_id": given.viewer_id,
            "day_start": given.day_start.isoformat(),
            "day_end": given.day_end.isoformat(),
            "event_id": given.event_id,
        }
    ).encode()


@dataclass(frozen=True)
class Target:
    """What wrk loads: `name` (ours or floor), the URL, the JSON body and the token (None: none)."""

    name: str
    url: str
    body: bytes
    token: str | None


def targets(operation: str, graphql_url: str, token: str, fixture) -> tuple[Target, Target]:
    """Ours and the floor for `operation`: one of the app's operations (bench/operations.py), with
    the bench's variables, or the trivial one."""
    from bench.operations import OPERATIONS

    if operation == TRIVIAL_OPERATION:
        query, variables = TRIVIAL_QUERY, {}
    else:
        chosen = next(each for each in OPERATIONS if each.name == operation)
        query, variables = chosen.query, chosen.variables(fixture.event_global_id)
    ours = Target("ours", graphql_url, json.dumps({"query": query, "variables": variables}).encode(), token)
    floor = Target("floor", floor_url(graphql_url, operation), floor_body(fixture.floor_input), None)
    return ours, floor


def fetch(target: Target) -> bytes:
    """One POST of the target's body; the answer's bytes (an HTTP error status raises)."""
    with OPENER.open(graphql_request(target.url, target.body, target.token), timeout=60) as response:
        return response.read()


def check_floor_answers(graphql_url: str, token: str, fixture) -> list[dict]:
    """Once per server: every operation's floor answer over HTTP is the same document as ours
    (bench.operations.same_document: PostgreSQL writes date-times with fewer digits, and its
    JSON with spaces), with the same numbers of friends, events and attendees."""
    from bench.floor import STATEMENTS
    from bench.operations import census, first_difference, same_document

    checked = []
    for operation in STATEMENTS:
        ours, floor = (fetch(target) for target in targets(operation, graphql_url, token, fixture))
        ours_document, floor_document = json.loads(ours), json.loads(floor)
        if ours_document.get("errors") or ours_document.get("data") is None:
            raise SystemExit(f"{operation}: our answer has errors: {str(ours_document)[:2000]}")
        same = same_document(ours_document, floor_document) and census(ours_document) == census(floor_document)
        if not same:
            difference = first_difference(ours_document, floor_document)
            raise SystemExit(f"{operation}: the floor's answer over HTTP differs from ours: {difference}")
        checked.append({"operation": operation, "same": same, "ours_bytes": len(ours), "floor_bytes": len(floor)})
    print("floor over HTTP: " + ", ".join(f"{each['operation']} same as ours" for each in checked))
    return checked


# --- the measurements -------------------------------------------------------------------------


def wrk_figures(results: list[WrkResult]) -> dict:
    """Rounds of one target: the median rate, every round's, and the median round's latency."""
    middle = sorted(results, key=lambda result: result.rps)[(len(results) - 1) // 2]
    return {
        "rps": round(statistics.median(result.rps for result in results), 2),
        "rounds_rps": [result.rps for result in results],
        "requests": sum(result.requests for result in results),
        "errors": sum(result.errors for result in results),
        "latency_ms": middle.latency_ms,
    }


def measure(
    operation: str, pair: tuple[Target, Target], master: int, args: argparse.Namespace, directory: Path, friends: int
) -> dict:
    """Warm both up (wrk for a few seconds each, so every worker has served), then --rounds rounds
    of ours and the floor, in alternating order; each worker's RSS before and after."""
    scripts = {
        target.name: write_wrk_script(directory, target.token, target.body, f"{operation}-{target.name}")
        for target in pair
    }
    by_name = {target.name: target for target in pair}
    for target in pair:
        run_wrk(target.url, scripts[target.name], args, WARMUP_SECONDS)
    before = rss_by_worker(master)
    results: dict[str, list[WrkResult]] = {"ours": [], "floor": []}
    for turn in range(args.rounds):
        for name in ("ours", "floor") if turn % 2 == 0 else ("floor", "ours"):
            results[name].append(run_wrk(by_name[name].url, scripts[name], args, args.duration))
    after = rss_by_worker(master)
    ratios = [ours.rps / floor.rps for ours, floor in zip(results["ours"], results["floor"], strict=True) if floor.rps]
    ours, floor = wrk_figures(results["ours"]), wrk_figures(results["floor"])
    return {
        "friends": friends,
        "operation": operation,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "ours": ours,
        "floor": floor,
        "round_ratios": [round(ratio, 4) for ratio in ratios],
        "ratio": round(statistics.median(ratios), 4) if ratios else None,
        "errors": ours["errors"] + floor["errors"],
        "workers": workers_report(before, after, growth=False),
    }


def soak(url: str, master: int, script: Path, args: argparse.Namespace, rps: float) -> dict:
    """Load long enough for --soak-requests requests at the measured rate (at most --soak-max-seconds)."""
    seconds = min(args.soak_max_seconds, math.ceil(args.soak_requests / max(rps, 0.1) * 1.15) + 2)
    print(f"soak: {seconds} s for {args.soak_requests} requests at ~{rps:.1f} requests/s")
    before = rss_by_worker(master)
    result = run_wrk(url, script, args, seconds)
    after = rss_by_worker(master)
    if result.requests < args.soak_requests:
        print(f"WARNING: the soak served {result.requests} requests, fewer than {args.soak_requests}")
    return {
        "friends": SOAK_FRIENDS,
        "requests": result.requests,
        "duration_s": round(result.seconds, 1),
        "rps": result.rps,
        "errors": result.errors,
        "workers": workers_report(before, after, growth=True),
    }


@dataclass
class Session:
    """What one server at one size measured."""

    runs: list[dict]
    soak: dict | None
    checked: list[dict]
    shape: dict


def session(args: argparse.Namespace, friends: int, operations: tuple[str, ...], soaked: bool) -> Session:
    """Seed `friends` (as the in-process bench does), serve, check the floor's answers, then
    measure `operations` against the floor and/or soak, on that one server."""
    from django.db import connection

    from bench.inprocess import prepare_size

    fixture = prepare_size(friends)
    connection.close()  # this process only seeded: nothing of it stays open under the load
    env = bench_env(args.database_url)
    log = OUTPUT_DIR / f"gunicorn-{friends}.log"
    with web_server(env, log) as (url, master), tempfile.TemporaryDirectory() as tmp:
        token = login(url)
        check_home_screen(url, token, friends)
        checked = [{"friends": friends, **each} for each in check_floor_answers(url, token, fixture)]
        runs = []
        for operation in operations:
            runs.append(measure(operation, targets(operation, url, token, fixture), master, args, Path(tmp), friends))
            print_run(runs[-1])
        soaked_result = None
        if soaked:
            script = write_wrk_script(Path(tmp), token, home_screen_body(), "soak")
            home = next((run for run in runs if run["operation"] == "home_screen"), None)
            rps = home["ours"]["rps"] if home else run_wrk(url, script, args, 5).rps
            soaked_result = soak(url, master, script, args, rps)
    return Session(runs, soaked_result, checked, gunicorn_shape(env))


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    return f"{len(os.sched_getaffinity(0))} cores, {model}"


def print_run(run: dict) -> None:
    ours, floor = run["ours"], run["floor"]
    ratio = "–" if run["ratio"] is None else f"{run['ratio']:.3f}"
    print(
        f"{run['friends']:>5} friends, {run['operation']}: ours {ours['rps']:7.1f} requests/s "
        f"(rounds {', '.join(f'{rps:.1f}' for rps in ours['rounds_rps'])}; p50 {ours['latency_ms']['p50']} ms), "
        f"floor {floor['rps']:7.1f} (rounds {', '.join(f'{rps:.1f}' for rps in floor['rounds_rps'])}; "
        f"p50 {floor['latency_ms']['p50']} ms); ours ÷ floor {ratio}; {run['errors']} errors",
        flush=True,
    )
    for worker in run["workers"]:
        print(f"        worker {worker['pid']}: RSS {worker['rss_before_kb']} kB -> {worker['rss_after_kb']} kB")


def print_soak(result: dict) -> None:
    print(
        f"soak at {result['friends']} friends: {result['requests']} requests in {result['duration_s']} s "
        f"({result['rps']} requests/s), {result['errors']} errors"
    )
    for worker in result["workers"]:
        print(
            f"        worker {worker['pid']}: RSS {worker['rss_before_kb']} kB -> {worker['rss_after_kb']} kB "
            f"({worker['growth_pct']:+}%)"
        )


def errors_of(report: dict) -> list[str]:
    """Every figure measured with errors: the bench asserts none."""
    found = [
        f"{run['operation']} at {run['friends']} friends: {run['ours']['errors']} errors (ours), "
        f"{run['floor']['errors']} (floor)"
        for run in report["runs"]
        if run["errors"]
    ]
    if report["soak"] and report["soak"]["errors"]:
        found.append(f"soak: {report['soak']['errors']} errors")
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    configure_django(args.database_url)  # this process seeds and picks the floor's input
    wants_soak = args.soak_requests > 0
    report: dict = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "machine_details": machine_details(),
        "load_average_start": os.getloadavg(),
        "wrk": {"concurrency": args.concurrency, "threads": args.threads, "duration_s": args.duration},
        "rounds": args.rounds,
        "runs": [],
        "answers_checked": [],
        "soak": None,
    }
    for index, friends in enumerate(args.sizes):
        # The trivial operation depends on no size: measured once, on the first server.
        operations = ("home_screen", TRIVIAL_OPERATION) if index == 0 else ("home_screen",)
        measured = session(args, friends, operations, soaked=wants_soak and friends == SOAK_FRIENDS)
        report["runs"] += measured.runs
        report["answers_checked"] += measured.checked
        report["soak"] = measured.soak or report["soak"]
        report["server"] = measured.shape
    if wants_soak and SOAK_FRIENDS not in args.sizes:
        report["soak"] = session(args, SOAK_FRIENDS, (), soaked=True).soak
    report["load_average_end"] = os.getloadavg()
    report["errors"] = errors_of(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    shape = f"c={args.concurrency}, t={args.threads}, {args.rounds} x {args.duration} s per target"
    print(f"\n{report['machine']}; {shape}")
    for run in report["runs"]:
        print_run(run)
    if report["soak"]:
        print_soak(report["soak"])
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    for error in report["errors"]:
        print(f"ERROR: {error}", file=sys.stderr)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
