"""Service processes of a fault test's own — Redis, RabbitMQ, a PostgreSQL cluster, Nexus' web server and Celery
worker — on free ports, so that a test can kill and restart them while the machine's shared services stay up.

Every process starts in a session of its own and is stopped (its whole process group) on the way out, whatever
happens. ``small_movielens`` writes a small MovieLens release (a slice of ml-latest-small) that imports and trains
in seconds.
"""

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest
import redis
from django.conf import settings
from kombu import Connection

from tests.conftest import movielens_small_dir, need
from tests.servers import PROJECT_DIR, PYTHON, TOOLS_PATH, free_port, queues_of

POSTGRES_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
# The RabbitMQ start script without the Debian wrapper, which would switch to the rabbitmq user in a session of
# its own (out of reach of the process group we stop).
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, log: Path | None = None):
    """Polls ``condition`` (errors count as "not yet") until it returns something truthy, which it returns."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if found := condition():
                return found
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            raise AssertionError(f"{what}: not within {timeout:g} s\n{tail}")
        time.sleep(0.1)


@contextlib.contextmanager
def held_table(database_url: str, table: str):
    """An exclusive lock on ``table``, held until the block ends: whoever reads it waits."""
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # noqa: S608 - a constant name
        yield
    finally:
        connection.rollback()
        connection.close()


class Service:
    """One process (and whatever it starts) in a session of its own: start, kill (SIGKILL), stop (SIGTERM)."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log: Path, cwd: Path = PROJECT_DIR):
        self.name, self.command, self.env, self.log, self.cwd = name, command, env, log, cwd
        self.process: subprocess.Popen | None = None

    def start(self) -> "Service":
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL to the process and all it started: a crash, nothing gets to clean up."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=20)
        self.process = None

    def stop(self, *, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        self.kill()


@contextlib.contextmanager
def stopped_at_exit(*services: Service) -> Iterator[None]:
    try:
        yield
    finally:
        for service in services:
            service.kill()


def redis_service(folder: Path) -> tuple[Service, str]:
    """A redis-server that keeps its data across a kill (append-only file, synced on every write), and its URL."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        "redis-server",
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(folder),
        "--save", "",
        "--appendonly", "yes",
        "--appendfsync", "always",
    ]  # fmt: skip
    return Service(
        "redis", command, env={"PATH": os.environ["PATH"]}, log=folder / "redis.log"
    ), f"redis://127.0.0.1:{port}"


def redis_up(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


def rabbitmq_service(folder: Path) -> tuple[Service, str]:
    """A RabbitMQ node of its own (name, ports, data, logs, config: the machine's config binds 5672), and its
    broker URL. It takes 10-30 s to start."""
    port, dist_port = free_port(), free_port()
    for sub in ("mnesia", "log"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n")
    (folder / "env.conf").write_text("")
    (folder / "enabled_plugins").write_text("[].\n")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "RABBITMQ_NODENAME": f"nexus-faults-{port}@localhost",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
        "RABBITMQ_CONF_ENV_FILE": str(folder / "env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }
    service = Service("rabbitmq", [str(RABBITMQ_SERVER)], env=env, log=folder / "rabbitmq.log", cwd=folder)
    return service, f"amqp://guest:guest@127.0.0.1:{port}//"


def broker_up(url: str) -> bool:
    with Connection(url, connect_timeout=1) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return True


class PostgresCluster:
    """A PostgreSQL cluster of its own (initdb in a folder the postgres user owns: the server refuses root)."""

    def __init__(self):
        if POSTGRES_BIN is None:
            raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.folder = Path(tempfile.mkdtemp(prefix="nexus-faults-pg-"))
        self.folder.chmod(0o755)
        self.data = self.folder / "data"
        self.port = free_port()
        shutil.chown(self.folder, "postgres", "postgres")
        self._as_postgres([str(POSTGRES_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"])
        self.service = Service(
            "postgres",
            self._as_postgres_command(
                [
                    str(POSTGRES_BIN / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.folder),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "synchronous_commit=off",
                ]
            ),  # fmt: skip
            env={"PATH": os.environ["PATH"]},
            log=self.folder / "postgres.log",
            cwd=self.folder,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    @staticmethod
    def _as_postgres_command(command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _as_postgres(self, command: list[str]) -> None:
        subprocess.run(self._as_postgres_command(command), check=True, capture_output=True, cwd=self.folder)

    def start(self) -> None:
        self.service.start()
        wait_for(self.accepts_connections, timeout=30, what="PostgreSQL accepts connections", log=self.service.log)

    def stop(self) -> None:
        self.service.stop()  # SIGTERM: smart shutdown once sessions end; SIGKILL after 20 s

    def restart_fast(self) -> None:
        """Fast shutdown (SIGINT: every session is cut), then a start: what an upgrade or a failover does."""
        os.killpg(self.service.process.pid, signal.SIGINT)
        self.service.process.wait(timeout=30)
        self.service.process = None
        self.start()

    def accepts_connections(self) -> bool:
        with contextlib.closing(psycopg2.connect(self.url(), connect_timeout=1)):
            return True

    def create_database(self, name: str) -> str:
        connection = psycopg2.connect(self.url())
        connection.autocommit = True
        with contextlib.closing(connection), connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        self.service.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def nexus_environment(**overrides: str) -> dict[str, str]:
    """The test run's environment (the real datasets, keys) for a Nexus process, with its own services."""
    base = {name: value for name, value in os.environ.items() if name != "NEXUS_TEST_DATABASE_NAME"}
    base.update({"PATH": TOOLS_PATH, "LOG_FORMAT": "plain", "DEBUG": "0", "SECURE_SSL_REDIRECT": "0"})
    base.update(overrides)
    return base


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs a management command to completion; fails with its output."""
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def web_service(env: dict[str, str], log: Path) -> tuple[Service, str]:
    """gunicorn as the image runs it (gunicorn.conf.py: a sync worker), with one process, so that its database and
    cache connections are kept between requests and met again after a fault."""
    port = free_port()
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "1"}
    return Service("web", [PYTHON, "-m", "gunicorn", "nexus.wsgi"], env=env, log=log), f"http://127.0.0.1:{port}"


def worker_service(env: dict[str, str], log: Path) -> Service:
    queues = ",".join(queues_of(env["CELERY_TASK_DEFAULT_QUEUE"]))
    command = [PYTHON, "-m", "celery", "-A", "nexus", "worker", "-Q", queues, "-c", "1", "-l", "info"]
    return Service("worker", command, env={**env, "PYTHONUNBUFFERED": "1"}, log=log)


def small_movielens(source: Path, target: Path, *, users: int = 120, movies: int = 400) -> Path:
    """A slice of a MovieLens release: its ``movies`` most-rated movies and the ratings of its first ``users``
    users among them (movies.csv, ratings.csv, links.csv)."""
    target.mkdir(parents=True, exist_ok=True)
    with (source / "ratings.csv").open(newline="") as file:
        ratings = [row for row in csv.DictReader(file) if int(row["userId"]) <= users]
    kept = {movie for movie, _ in Counter(row["movieId"] for row in ratings).most_common(movies)}
    for name, keep in (
        ("ratings.csv", lambda row: row["movieId"] in kept and int(row["userId"]) <= users),
        ("movies.csv", lambda row: row["movieId"] in kept),
        ("links.csv", lambda row: row["movieId"] in kept),
    ):
        with (source / name).open(newline="") as file, (target / name).open("w", newline="") as out:
            reader = csv.DictReader(file)
            writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
            writer.writeheader()
            writer.writerows(row for row in reader if keep(row))
    return target


class GraphQL:
    """A GraphQL client over real HTTP for a server of a fault test."""

    def __init__(self, base_url: str):
        self.url = f"{base_url}/graphql"
        self.token: str | None = None

    def execute(self, query: str, timeout: float = 15, **variables) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(self.url, data=body, headers=headers)  # noqa: S310 - our own server
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as error:
            return {"status": error.code, "errors": [{"message": error.read().decode(errors="replace")[:2000]}]}

    def data(self, query: str, **variables) -> dict:
        answer = self.execute(query, **variables)
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]

    def up(self) -> bool:
        return bool(self.data("{ __typename }"))


# --- A prepared stack: a database with a small catalog and a trained model, copied for each test -----------------

_prepared: dict = {}


@contextlib.contextmanager
def prepared_stack(folder: Path) -> Iterator[dict]:
    """Once per test session (however many modules ask): a PostgreSQL template database on the test run's server,
    migrated, with a small MovieLens slice imported, plus the Redis snapshot and model folder of a training on it.
    ``stack_copy`` gives each test a copy of all three."""
    creator = not _prepared
    if creator:
        tests_url = os.environ["DATABASE_URL"]
        name = f"nexus_faults_template_{os.getpid()}"
        server = psycopg2.connect(tests_url.rsplit("/", 1)[0] + "/postgres")
        server.autocommit = True
        _prepared.update(server=server, name=name, folder=folder)
        try:
            with server.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                cursor.execute(f'CREATE DATABASE "{name}"')
            redis_server, redis_url = redis_service(folder / "redis")
            redis_server.command = [*redis_server.command[:-4], "--appendonly", "no"]  # a plain snapshot to copy
            env = nexus_environment(
                DATABASE_URL=tests_url.rsplit("/", 1)[0] + f"/{name}",
                REDIS_URL=f"{redis_url}/0",
                CELERY_BROKER_URL="",
                NEXUS_VAR_DIR=str(folder / "var"),
                DATABASE_STATEMENT_TIMEOUT_MS="0",
            )
            release = small_movielens(Path(os.environ["NEXUS_DATA_DIR"]) / "movielens" / "ml-latest-small", folder)
            with stopped_at_exit(redis_server.start()):
                wait_for(lambda: redis_up(redis_url), timeout=20, what="redis", log=redis_server.log)
                manage(env, "migrate", "--noinput")
                manage(env, "import_movielens", "--no-train", str(release))
                manage(env, "train_recommender")
                redis.Redis.from_url(redis_url).save()
            _prepared.update(rdb=folder / "redis" / "dump.rdb", models=folder / "var" / "models", release=release)
        except BaseException:
            _drop_template()
            raise
    try:
        yield _prepared
    finally:
        if creator:
            _drop_template()


def _drop_template() -> None:
    server = _prepared.pop("server", None)
    if server is not None:
        with server.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{_prepared["name"]}" WITH (FORCE)')
        server.close()
    _prepared.clear()


@pytest.fixture(scope="session")
def prepared(tmp_path_factory) -> Iterator[dict]:
    """The prepared stack (``prepared_stack``); import it into a test module to use it."""
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")
    need(movielens_small_dir() is not None, "NEXUS_DATA_DIR must point at shared/data with ml-latest-small")
    with prepared_stack(tmp_path_factory.mktemp("faults-stack")) as stack:
        yield stack


@contextlib.contextmanager
def stack_copy(prepared: dict, folder: Path) -> Iterator[dict]:
    """A test's own copy of the prepared stack: a database (dropped afterwards), a redis-server started on the
    snapshot (append-only from then on, so that it keeps its data when killed) and a var folder with the models.
    Yields the Nexus environment (no broker set) and the Redis service."""
    name = f"nexus_faults_{os.getpid()}_{time.monotonic_ns()}"
    server = prepared["server"]
    with server.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{prepared["name"]}"')
    redis_server, redis_url = redis_service(folder / "redis")
    shutil.copy(prepared["rdb"], folder / "redis" / "dump.rdb")
    redis_server.command = [*redis_server.command[:-4], "--appendonly", "no"]
    shutil.copytree(prepared["models"], folder / "var" / "models")
    try:
        redis_server.start()
        wait_for(lambda: redis_up(redis_url), timeout=20, what="redis", log=redis_server.log)
        client = redis.Redis.from_url(redis_url)
        client.config_set("appendonly", "yes")
        wait_for(
            lambda: (
                client.info("persistence")["aof_rewrite_in_progress"] == 0
                and client.info("persistence")["aof_enabled"] == 1
            ),
            timeout=20,
            what="redis append-only file written",
        )
        client.close()
        # Restarts of this Redis keep the append-only file on.
        redis_server.command = [*redis_server.command[:-2], "--appendonly", "yes", "--appendfsync", "always"]
        env = nexus_environment(
            DATABASE_URL=os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}",
            REDIS_URL=f"{redis_url}/0",
            NEXUS_VAR_DIR=str(folder / "var"),
        )
        yield {"env": env, "redis": redis_server, "redis_url": redis_url, "database": name}
    finally:
        redis_server.kill()
        with server.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
