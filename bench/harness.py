"""What every bench and check that runs the Procfile's web process shares: its environment
(production's settings on a dedicated database, seeded as the in-process bench seeds it), the
web process itself on 127.0.0.1, requests to it, wrk runs, and its workers' memory.

Used by the HTTP bench (`python -m bench.http_load`), the sustained load and login floods
(bench/sustained_load.py, bench/login_flood.py), scripts/fault_check.py and
scripts/production_check.py, and the tests that start the web process. Everything is bounded
in time and stays on 127.0.0.1: the server, wrk and every request.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import runpy
import secrets
import shlex
import signal
import socket
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

from bench.environment import BENCH_GLOBAL_ID_KEY, REPO, cpu_model, ensure_database

ROOT = REPO
OUTPUT_DIR = ROOT / "bench-output"
OPERATION_FILE = ROOT / "tests" / "operations" / "home_screen.graphql"
VARIABLES = {"date": "2026-11-23"}
HOST = "127.0.0.1"
PAGE_SIZE = 100  # friends(first: 100) in the home screen
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


# --- the database -----------------------------------------------------------------------------


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
    if ensure_database(database_url):
        print(f"created the database of {database_url}")
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
-- Written by bench/harness.py: POST the body, count every status but 200 as an error,
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


# --- the machine ------------------------------------------------------------------------------


def machine() -> str:
    """The cores this process may use and the CPU's model, for a report's heading."""
    return f"{len(os.sched_getaffinity(0))} cores, {cpu_model()}"
