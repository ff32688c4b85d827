"""Helpers for tests that run Nexus in processes of its own (gunicorn, runserver, Celery), as deployed."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import dj_database_url
import psycopg2
from psycopg2 import sql

from bench.processes import process_stop
from nexus.queues import job_queues

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Finds this environment's gunicorn and celery first, as the image's PATH finds its own.
TOOLS_PATH = f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}"


def queues_of(default_queue: str) -> list[str]:
    """Every queue of a deployment whose default queue is ``default_queue`` (nexus.queues.job_queue): what a
    test's worker consumes, and deletes afterwards."""
    return [default_queue, *job_queues(default_queue).values()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(command: list[str], *, env: dict[str, str], log_path: Path):
    """Runs ``command`` from the project folder with exactly ``env`` (plus TOOLS_PATH), its output going to
    ``log_path``; stops it on the way out."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env={"PATH": TOOLS_PATH, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process_stop(process)


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_KeepRedirects)


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict, str]:
    """(status, headers, body as text) of a GET; error statuses and redirects are returned, not raised or
    followed."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - the tests' own servers
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode(errors="replace")


def wait_until(condition, *, timeout: float, what: str, log_path: Path | None = None):
    """Polls ``condition`` until it returns something truthy, which it returns; fails with the log after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if result := condition():
                return result
        time.sleep(0.2)
    log = log_path.read_text(errors="replace")[-5000:] if log_path and log_path.exists() else ""
    raise AssertionError(f"{what}: not within {timeout:g} s\n{log}")


@contextlib.contextmanager
def scratch_database(name: str, *, sqlite_folder: Path):
    """A database URL of its own for a test's server processes, dropped afterwards: a new PostgreSQL database
    when the tests run on PostgreSQL (DATABASE_URL), else an SQLite file in ``sqlite_folder``."""
    tests_url = os.environ.get("DATABASE_URL", "")
    if not tests_url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{sqlite_folder / 'nexus.sqlite3'}"
        return
    server = dj_database_url.parse(tests_url)
    maintenance = psycopg2.connect(
        dbname="postgres",
        user=server["USER"],
        password=server["PASSWORD"],
        host=server["HOST"],
        port=server["PORT"] or 5432,
    )
    maintenance.autocommit = True
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    try:
        with maintenance.cursor() as cursor:
            cursor.execute(drop)
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield tests_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with maintenance.cursor() as cursor:
            cursor.execute(drop)
        maintenance.close()
