"""A whole Nexus deployment in processes of its own, for the fuzz and load tests (tests/e2e/test_fuzz.py,
tests/e2e/test_load.py).

The stack is built as the image runs it: the ``init`` role of docker/entrypoint.sh migrates a scratch PostgreSQL
database, imports ml-latest-small and TMDb and trains the recommender; gunicorn (gunicorn.conf.py, two worker
processes) serves it with DEBUG off; a Celery worker consumes the per-user refreshes from a broker queue of its
own. The pytest database, the tests' Redis database and the broker's other queues are never touched.

The stack is session-scoped (tests/e2e/conftest.py exposes the fixture): importing and training take a while,
and both the fuzzer and the load generator only need a server that serves the real catalog.
"""

import dataclasses
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import redis
from django.conf import settings
from kombu import Connection

from tests.conftest import movielens_small_dir, need, tmdb_csv
from tests.servers import PYTHON, free_port, http_get, queues_of, running, scratch_database, wait_until

SETUP_TIMEOUT = 600
LIVE_PASSWORD = "live-stack-Fuzzy-Lantern-73"


@dataclasses.dataclass(frozen=True)
class LiveStack:
    """Where the running deployment answers and what it runs on."""

    base_url: str
    database_url: str
    env: dict[str, str]
    log_dir: Path

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    def log_size(self, name: str = "gunicorn.log") -> int:
        """Where a log ends now: pass it to ``log_since`` to read what one test made the server write."""
        path = self.log_dir / name
        return path.stat().st_size if path.exists() else 0

    def log_since(self, offset: int, name: str = "gunicorn.log") -> str:
        path = self.log_dir / name
        if not path.exists():
            return ""
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def graphql(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        """One GraphQL request over HTTP; returns the decoded body whatever its status."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.graphql_url, data=body, headers=headers)  # noqa: S310 - our server
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as error:
            return json.loads(error.read() or b"{}")

    def register(self, username: str, password: str = LIVE_PASSWORD) -> str:
        """A new account on the stack; returns its access token."""
        answer = self.graphql(
            "mutation($u: String!, $e: String!, $p: String!) {"
            " register(username: $u, email: $e, password: $p) { token errors { field message code } } }",
            {"u": username, "e": f"{username}@example.com", "p": password},
        )
        payload = (answer.get("data") or {}).get("register") or {}
        assert payload.get("token"), answer
        return payload["token"]

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Rows of a read-only query on the stack's own database."""
        with psycopg2.connect(self.database_url) as connection, connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()


def redis_database_beside(url: str) -> str:
    """A Redis URL for the stack: the tests' Redis server, the next database number. The pytest process empties
    its own database before and after every test, which would wipe the server's recommendation lists."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    beside = number + 1 if number < 15 else number - 1
    return urlunsplit(parts._replace(path=f"/{beside}"))


def stack_environment(*, database_url: str, redis_url: str, queue: str, folder: Path, port: int) -> dict[str, str]:
    """What every process of the stack runs with: production settings (DEBUG off) on the stack's own database,
    Redis database and broker queue."""
    return {
        "DEBUG": "0",
        "SECRET_KEY": "live-stack-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF",
        "JWT_SECRET_KEY": "live-stack-jwt-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # Plain HTTP on loopback: nothing terminates TLS in front of the server.
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        # No worker recycling mid-run: a recycled worker drops its idle keep-alive connections, which a client
        # racing to reuse one sees as an error that is not the server's.
        "GUNICORN_MAX_REQUESTS": "0",
        "NEXUS_VAR_DIR": str(folder / "var"),
        "STATIC_ROOT": str(folder / "static"),
        "NEXUS_MOVIELENS": str(movielens_small_dir()),
        "NEXUS_TMDB": str(tmdb_csv()),
        "LOG_FORMAT": "plain",
        "LOG_LEVEL": "WARNING",
        # Every client of these tests comes from 127.0.0.1: per-address limits would make the fuzzer's failed
        # logins and the load's 50 users one abuser. The limits are on, so that their code runs under the fuzzer
        # and the load, but set far above what the tests spend: they check errors and lost writes, not the
        # limits (tests/schema and tests/e2e/test_attacks.py have those).
        "NEXUS_RATE_LIMIT_USER": "1000000000",
        "NEXUS_RATE_LIMIT_ANON": "1000000000",
        "LOGIN_MAX_FAILURES": "1000000",
    }


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory) -> Iterator[LiveStack]:
    """gunicorn + a Celery worker over a scratch PostgreSQL database with ml-latest-small, TMDb and a trained
    model; fails under CI when PostgreSQL, Redis, the broker or the datasets are missing."""
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")
    need(bool(settings.REDIS_URL), "needs Redis: set REDIS_URL=redis://...")
    need(bool(settings.CELERY_BROKER_URL), "needs a broker: set CELERY_BROKER_URL=amqp://...")
    need(movielens_small_dir() is not None, "NEXUS_DATA_DIR must point at shared/data with ml-latest-small")
    need(tmdb_csv() is not None, "NEXUS_DATA_DIR must hold tmdb/tmdb_5000_movies.csv")
    folder = tmp_path_factory.mktemp("live-stack")
    queue = f"nexus-live-{os.getpid()}"
    redis_url = redis_database_beside(settings.REDIS_URL)
    port = free_port()
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    with scratch_database(f"nexus_live_{os.getpid()}", sqlite_folder=folder) as database_url:
        env = stack_environment(database_url=database_url, redis_url=redis_url, queue=queue, folder=folder, port=port)
        try:
            with running(["docker/entrypoint.sh", "init"], env=env, log_path=folder / "init.log") as init:
                assert init.wait(timeout=SETUP_TIMEOUT) == 0, (folder / "init.log").read_text()[-5000:]
            worker = [PYTHON, "-m", "celery", "-A", "nexus", "worker", "-Q", ",".join(queues_of(queue)), "-c", "1"]
            worker += ["-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "-l", "warning"]
            with (
                running(worker, env=env, log_path=folder / "worker.log"),
                running([PYTHON, "-m", "gunicorn", "nexus.wsgi"], env=env, log_path=folder / "gunicorn.log") as web,
            ):
                base_url = f"http://127.0.0.1:{port}"
                wait_until(
                    lambda: http_get(f"{base_url}/health/ready")[0] == 200,
                    timeout=60,
                    what="gunicorn ready",
                    log_path=folder / "gunicorn.log",
                )
                yield LiveStack(base_url=base_url, database_url=database_url, env=env, log_dir=folder)
                assert web.poll() is None, "gunicorn died during the tests"
        finally:
            store.flushdb()
            store.close()
            with Connection(settings.CELERY_BROKER_URL) as broker:
                for name in queues_of(queue):
                    broker.default_channel.queue_delete(name)
