"""Where the bench runs: its own PostgreSQL database, production settings, the machine.

The bench uses the production settings (DEBUG off: no query log kept in memory, no
`extensions.debug` in answers), with a throwaway SECRET_KEY (and ALLOWED_HOSTS) when none is set,
a fixed GLOBAL_ID_KEY (so that this process and the servers it starts read each other's IDs), and
its own database, `calendar_bench` by default, which it creates when missing and
reseeds at every size. No other database is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from pathlib import Path

DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/calendar_bench"
SETTINGS_MODULE = "config.settings.production"
# The key of the API's IDs in every bench process, unless GLOBAL_ID_KEY is set: the
# processes' SECRET_KEYs differ, and a script reads the IDs a server it started made.
BENCH_GLOBAL_ID_KEY = "bench-only-global-id-key-not-a-secret"
REPO = Path(__file__).resolve().parent.parent


def seeded_bench_parser(
    prog: str, description: str, friends: int, database_url: str = DEFAULT_DATABASE_URL
) -> argparse.ArgumentParser:
    """The arguments every bench on seeded data takes: its database, the seeded size, and
    whether to reuse what a previous run seeded."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--database-url", default=database_url, help=f"default {database_url} (created if missing)")
    parser.add_argument(
        "--friends", type=int, default=friends, help=f"friends of the seeded viewer (default {friends})"
    )
    parser.add_argument("--skip-seed", action="store_true", help="reuse the data already in the database")
    return parser


def write_json(path: Path, figures: object) -> None:
    """A bench's figures to `path` (bench-output/*.json, read by bench/report.py)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=1) + "\n")


def configure_django(database_url: str, settings_module: str = SETTINGS_MODULE) -> None:
    """Set up Django on `database_url` (once per process; children call it too), with production's
    settings or another module built on them (bench/settings.py: with the floor's endpoint)."""
    import django
    from django.conf import settings

    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("GLOBAL_ID_KEY", BENCH_GLOBAL_ID_KEY)
    # Production settings require it; requests are built by RequestFactory, whose host this is.
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    if not settings.configured:
        django.setup()
    if settings.DEBUG:
        raise RuntimeError("The bench must run with DEBUG off: DEBUG keeps every SQL statement in memory.")


def ensure_database(database_url: str) -> bool:
    """Create the PostgreSQL database of `database_url` if it does not exist (connecting to the
    server's `postgres` database to do it); returns whether it was created. Every bench, check
    and test that needs a database of its own creates it here.

    Only a database whose name says "bench" is accepted: its users reseed it (`seed_demo
    --reset`) or rewrite its data."""
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(database_url)
    if "postgresql" not in config["ENGINE"]:
        raise SystemExit(f"The bench needs PostgreSQL, not {config['ENGINE']} ({database_url}).")
    if "bench" not in config["NAME"]:
        raise SystemExit(f"Refusing database {config['NAME']!r}: use a dedicated one with 'bench' in its name.")
    connection = psycopg2.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        connect_timeout=10,
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            return True
    finally:
        connection.close()


def machine() -> dict[str, object]:
    """What the figures were measured on (call after configure_django)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gb": _memory_gb(),
        "postgresql": postgres,
        "python": platform.python_version(),
        "django": _version("django"),
        "graphql_core": _version("graphql"),
        "kernel": platform.release(),
        "commit": _git_commit(),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except (ImportError, AttributeError):
        return "unknown"


def _git_commit() -> str:
    """The commit measured, marked `+dirty` when the working tree has changes."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
