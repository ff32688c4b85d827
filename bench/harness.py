"""bench/run: prepare a database, serve Nexus with gunicorn, load it scenario by scenario, report.

1. Prepare: a PostgreSQL database, a Redis database and a RabbitMQ queue of the bench's own; ml-latest-small and
   TMDb loaded; bench users registered with ratings through the services; the recommender trained.
2. Serve: gunicorn with the project's gunicorn.conf.py (2 workers per CPU, DEBUG off) with bench/settings.py, which adds
   the baseline view to Nexus' URLs, and one Celery worker on the bench queue (rateMovie's per-user refreshes).
3. Load: wrk (bench/load.lua), a warm-up then a measured run per scenario, each GraphQL scenario just after a
   baseline run of its own (the machine's speed drifts during a run; the server idle first).
4. Report: a table on the terminal and in docs/benchmarks.md, with the machine and the targets.

The exit status is 1 when a scenario answered with errors, 2 when the bench could not prepare, start or check what
it measures; never because of a timing.
"""

import argparse
import contextlib
import ctypes
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import redis
from kombu import Connection
from psycopg2 import sql

from bench import BASELINE_PATH, report
from bench.loadgen import LoadError, LoadResult, child_pids, processes_cpu_seconds, run_scenario, wrk_path
from bench.processes import process_stop
from bench.scenarios import HOT_MOVIES, SCENARIOS, BenchData, Scenario, body, requests_for

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/nexus_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
# Rate limits (cost points per window) far above what the load reaches: the limiter does its work on every
# request, as in production, without refusing the benchmark. A refusal would still count as an error.
RATE_LIMIT_POINTS = str(10**9)

LOGIN = (
    "mutation Login($username: String!, $password: String!) "
    "{ tokenAuth(username: $username, password: $password) { token } }"
)
SOURCES = "{ recommendations(first: 20) { source } }"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """bench/run's options; --quick shortens the runs and the preparation for a smoke test."""
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=20, help="Seconds measured per scenario (default 20).")
    parser.add_argument("--warmup", type=float, default=5, help="Seconds of unmeasured load before each (default 5).")
    parser.add_argument(
        "--quick", action="store_true", help="A smoke run: 2 s per scenario, 1 s warm-up, fewer users (CI test)."
    )
    parser.add_argument("--connections", type=int, default=8, help="Concurrent connections (default 8).")
    parser.add_argument(
        "--threads",
        type=int,
        help="Threads per gunicorn worker (GUNICORN_THREADS; default: gunicorn.conf.py's, 1), to compare set-ups.",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="gunicorn worker processes (WEB_CONCURRENCY; default: gunicorn.conf.py's, 2 per CPU), to compare set-ups.",
    )
    parser.add_argument("--users", type=int, default=16, help="Bench users the authenticated scenarios rotate over.")
    parser.add_argument("--ratings-per-user", type=int, default=20, help="Ratings each bench user starts with.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database the bench drops and creates (default: $BENCH_DATABASE_URL or %(default)s).",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis database the bench flushes and uses (default: $BENCH_REDIS_URL or %(default)s).",
    )
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL,
        help="RabbitMQ broker; the bench uses a queue of its own on it (default: $CELERY_BROKER_URL).",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("NEXUS_DATA_DIR") or PROJECT_DIR.parent / "shared" / "data"),
        help="Folder with movielens/ml-latest-small and tmdb/tmdb_5000_movies.csv (default: $NEXUS_DATA_DIR).",
    )
    parser.add_argument(
        "--output", type=Path, default=PROJECT_DIR / "docs" / "benchmarks.md", help="Markdown file to update."
    )
    parser.add_argument("--json", type=Path, help="Also write the measurements as JSON here.")
    parser.add_argument("--keep-database", action="store_true", help="Do not drop the bench database at the end.")
    options = parser.parse_args(argv)
    if options.quick:
        options.duration, options.warmup = 2, 1
        options.users, options.ratings_per_user = min(options.users, 4), min(options.ratings_per_user, 10)
    return options


# --- Processes ---------------------------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux: the servers get SIGTERM if the harness dies without cleaning up (e.g. SIGKILL).
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def background(command: list[str], *, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """Runs a server process from the project folder for the duration of the block; stops it on every way out."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
    try:
        yield process
    finally:
        process_stop(process, timeout=30)


def manage(env: dict[str, str], *arguments: str, log_path: Path) -> None:
    """Runs a management command (or ``-m module``) to completion, its output appended to ``log_path``."""
    command = [PYTHON, *arguments] if arguments[0] == "-m" else [PYTHON, "manage.py", *arguments]
    with log_path.open("ab") as log:
        log.write(f"\n$ {shlex.join(command)}\n".encode())
        log.flush()
        completed = subprocess.run(command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    if completed.returncode != 0:
        raise HarnessError(f"{shlex.join(arguments)} failed; see {log_path}:\n{_tail(log_path)}")


def wait_until(condition, *, timeout: float, what: str, log_path: Path):
    """Polls ``condition`` until it returns something truthy; fails with the end of ``log_path`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if result := condition():
                return result
        time.sleep(0.2)
    raise HarnessError(f"{what}: not within {timeout:g} s; see {log_path}:\n{_tail(log_path)}")


def _tail(path: Path, characters: int = 3000) -> str:
    return path.read_text(errors="replace")[-characters:] if path.exists() else ""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class HarnessError(Exception):
    """The bench could not prepare, start or check what it measures."""


# --- Services ----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_database(url: str, *, keep: bool) -> Iterator[None]:
    """Drops and creates the database named in ``url``; drops it again afterwards unless ``keep``."""
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = psycopg2.connect(urllib.parse.urlunsplit(parts._replace(path="/postgres")))
    maintenance.autocommit = True
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    try:
        with maintenance.cursor() as cursor:
            cursor.execute(drop)
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield
    finally:
        if not keep:
            with maintenance.cursor() as cursor:
                cursor.execute(drop)
        maintenance.close()


@contextlib.contextmanager
def bench_redis(url: str) -> Iterator[None]:
    """The Redis database in ``url``, flushed before and after: cache, rate-limit counters, precomputed lists."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield
    finally:
        with contextlib.suppress(redis.RedisError):
            client.flushdb()
        client.close()


@contextlib.contextmanager
def bench_queue(broker_url: str, name: str) -> Iterator[None]:
    """A broker queue of the bench's own, deleted afterwards (its messages with it)."""
    try:
        yield
    finally:
        with Connection(broker_url) as broker, contextlib.suppress(Exception):
            broker.default_channel.queue_delete(name)


def queue_depth(broker_url: str, name: str) -> int:
    """Messages waiting in the queue (tasks no worker has taken yet)."""
    with Connection(broker_url) as broker:
        return broker.default_channel.queue_declare(name, passive=True).message_count


# --- HTTP --------------------------------------------------------------------------------------------------------


def http_json(url: str, payload: str | None = None, token: str | None = None) -> tuple[int, dict]:
    """(status, decoded JSON) of a GET, or of a POST when there is a body; error statuses are returned."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=payload.encode() if payload else None, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the bench's own server
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, {"error": error.read().decode(errors="replace")[:500]}


def graphql_data(base_url: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    """The ``data`` of a GraphQL request; any error stops the bench (used only outside the measured runs)."""
    status, answer = http_json(f"{base_url}/graphql", body(query, variables), token)
    if status != 200 or answer.get("errors"):
        raise HarnessError(f"{query[:80]}... answered {status}: {json.dumps(answer)[:500]}")
    return answer["data"]


# --- The run -----------------------------------------------------------------------------------------------------


def run(options: argparse.Namespace) -> int:
    """Checks the prerequisites and measures in a work folder of its own, which is removed after a clean run and
    kept (for its logs) otherwise; returns the exit status."""
    if wrk_path() is None:
        raise HarnessError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    movielens = options.data_dir / "movielens" / "ml-latest-small"
    tmdb = options.data_dir / "tmdb" / "tmdb_5000_movies.csv"
    if not (movielens / "ratings.csv").exists() or not tmdb.exists():
        raise HarnessError(f"{options.data_dir} must hold movielens/ml-latest-small and tmdb/tmdb_5000_movies.csv")

    work = Path(tempfile.mkdtemp(prefix="nexus-bench-"))
    print(f"bench: work folder (logs, models) {work}", flush=True)
    try:
        status = measure(options, work=work, movielens=movielens, tmdb=tmdb)
    except BaseException:
        print(f"bench: logs kept in {work}", file=sys.stderr, flush=True)
        raise
    if status == 0:
        shutil.rmtree(work)
    else:
        print(f"bench: logs kept in {work}", file=sys.stderr, flush=True)
    return status


def measure(options: argparse.Namespace, *, work: Path, movielens: Path, tmdb: Path) -> int:
    """Prepares, serves and loads as the module docstring describes, in the folder ``work``; returns the exit
    status."""
    machine = report.machine_description(
        database_url=options.database_url, redis_url=options.redis_url, broker_url=options.broker_url
    )
    queue = f"nexus-bench-{os.getpid()}"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    password = secrets.token_urlsafe(24)
    env = {
        "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", str(work)),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": options.database_url,
        "REDIS_URL": options.redis_url,
        "CELERY_BROKER_URL": options.broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "NEXUS_VAR_DIR": str(work / "var"),
        "NEXUS_MODEL_DIR": str(work / "var" / "models"),
        "STATIC_ROOT": str(work / "static"),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
        "LOG_FORMAT": "json",
        "NEXUS_RATE_LIMIT_USER": RATE_LIMIT_POINTS,
        "NEXUS_RATE_LIMIT_ANON": RATE_LIMIT_POINTS,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **({"WEB_CONCURRENCY": str(options.workers)} if options.workers else {}),
        **({"GUNICORN_THREADS": str(options.threads)} if options.threads else {}),
        "GUNICORN_GRACEFUL_TIMEOUT": "5",  # only how long the bench waits for gunicorn at the end
    }
    for folder in ("var", "static", "metrics"):
        (work / folder).mkdir()
    setup_log = work / "prepare.log"
    timings: dict[str, float] = {}

    with (
        bench_database(options.database_url, keep=options.keep_database),
        bench_redis(options.redis_url),
        bench_queue(options.broker_url, queue),
        contextlib.ExitStack() as servers,
    ):

        def step(name: str, *arguments: str, extra_env: dict[str, str] | None = None) -> None:
            print(f"bench: {name}", flush=True)
            started = time.monotonic()
            manage({**env, **(extra_env or {})}, *arguments, log_path=setup_log)
            timings[name] = time.monotonic() - started

        step("migrate", "migrate", "--noinput", "-v", "0")
        step("import ml-latest-small", "import_movielens", "--no-train", "-v", "0", str(movielens))
        step("import TMDb", "import_tmdb", "-v", "0", str(tmdb))
        seed_file = work / "seed.json"
        step(
            f"register {options.users} bench users, {options.ratings_per_user} ratings each",
            "-m",
            "bench.seed",
            str(seed_file),
            f"--users={options.users}",
            f"--ratings-per-user={options.ratings_per_user}",
            # No model exists yet, so there is nothing to refresh: tasks run in-process (and do nothing).
            extra_env={"BENCH_USER_PASSWORD": password, "CELERY_BROKER_URL": ""},
        )
        step("train the recommender", "train_recommender", "-v", "0")
        seed = json.loads(seed_file.read_text())

        print(f"bench: starting a Celery worker on queue {queue} and gunicorn on {base_url}", flush=True)
        worker_log, gunicorn_log = work / "worker.log", work / "gunicorn.log"
        worker = [PYTHON, "-m", "celery", "-A", "nexus", "worker", "-Q", queue, "--concurrency", "1", "-l", "info"]
        celery = servers.enter_context(background(worker, env=env, log_path=worker_log))
        gunicorn = servers.enter_context(
            background(
                [str(Path(PYTHON).parent / "gunicorn"), "nexus.wsgi"],
                env={**env, "DJANGO_SETTINGS_MODULE": "bench.settings"},
                log_path=gunicorn_log,
            )
        )
        wait_until(lambda: " ready." in worker_log.read_text(), timeout=60, what="Celery worker", log_path=worker_log)
        wait_until(
            lambda: http_json(f"{base_url}/health/live")[0] == 200, timeout=60, what="gunicorn", log_path=gunicorn_log
        )

        sources = preflight(base_url, usernames=seed["usernames"], password=password)
        requests_file = work / "requests.tsv"
        results: dict[str, LoadResult] = {}
        beside: dict[str, LoadResult] = {}  # the baseline measured just before each GraphQL scenario
        restarts: dict[str, int] = {}
        load = {
            "base_url": base_url,
            "connections": options.connections,
            "requests_file": requests_file,
            "server_pids": lambda: [
                *(pid for process in (gunicorn, celery) for pid in (process.pid, *child_pids(process.pid)))
            ],
        }

        def warmed_up_run(scenario: Scenario, data: BenchData) -> tuple[LoadResult, int]:
            """The measured run after its warm-up, and how many gunicorn workers were recycled during it."""
            print(f"bench: {scenario.title}: {options.warmup:g} s warm-up, {options.duration:g} s measured", flush=True)
            for run_name, seconds in (("warm-up", options.warmup), ("measured", options.duration)):
                requests = None
                if scenario.build is not None:
                    run_id = f"{os.getpid()}-{scenario.key}-{run_name}"
                    requests = requests_for(scenario, data, seconds=seconds, run_id=run_id)
                if run_name == "measured":
                    restarted_before = _worker_restarts(gunicorn_log)
                result = run_scenario(scenario.path, requests, seconds=seconds, **load)
            if gunicorn.poll() is not None:
                raise HarnessError(f"gunicorn exited during {scenario.title}:\n{_tail(gunicorn_log)}")
            return result, _worker_restarts(gunicorn_log) - restarted_before

        for scenario in SCENARIOS:
            # Fresh access tokens (they live 15 minutes by default) for however long the runs take.
            data = BenchData(
                tokens=[login(base_url, username, password) for username in seed["usernames"]],
                movie_ids=seed["movie_ids"],
                popular_movie_ids=seed["popular_movie_ids"],
                rare_movie_ids=seed["rare_movie_ids"],
            )
            if scenario.build is not None:
                # The machine's speed drifts during a run: each scenario is compared with a baseline measured just
                # before it, once the server is idle (the refreshes a previous scenario queued are done).
                server_idle_wait(load["server_pids"])
                beside[scenario.key], _ = warmed_up_run(SCENARIOS[0], data)
            results[scenario.key], restarts[scenario.key] = warmed_up_run(scenario, data)
        pending = queue_depth(options.broker_url, queue)

    notes = {
        "recommendation sources": sources,
        "refreshes still queued when rateMovie stopped": pending,
    }
    table = report.render(
        results=results,
        beside=beside,
        scenarios=SCENARIOS,
        machine=machine,
        options=options,
        timings=timings,
        notes=notes,
        command=report.command_line(sys.argv),
        restarts=restarts,
    )
    print(table.terminal, flush=True)
    report.write_markdown(options.output, table.markdown)
    print(f"bench: wrote {options.output}", flush=True)
    if options.json:
        options.json.write_text(
            report.as_json(
                results=results, beside=beside, machine=machine, timings=timings, notes=notes, restarts=restarts
            )
        )
    return 1 if any(result.errors for result in results.values()) else 0


def preflight(base_url: str, *, usernames: list[str], password: str) -> dict[str, int]:
    """Checks what the scenarios rely on before anything is measured: the baseline answers exactly what the
    GraphQL query answers, and every bench user can log in and gets recommendations. Returns how many of those
    recommendations came from each source (personalized ones are COLLABORATIVE or CONTENT)."""
    status, baseline = http_json(f"{base_url}/{BASELINE_PATH}")
    graphql = graphql_data(base_url, HOT_MOVIES)
    if status != 200 or baseline.get("data") != graphql:
        raise HarnessError(
            "the baseline view does not serve what movies(first: 20) serves:\n"
            f"baseline {json.dumps(baseline)[:600]}\ngraphql  {json.dumps(graphql)[:600]}"
        )
    sources: dict[str, int] = {}
    for username in usernames:
        token = login(base_url, username, password)
        for item in graphql_data(base_url, SOURCES, token=token)["recommendations"]:
            sources[item["source"]] = sources.get(item["source"], 0) + 1
    return sources


def login(base_url: str, username: str, password: str) -> str:
    """An access token for the user, from the API's own tokenAuth."""
    return graphql_data(base_url, LOGIN, {"username": username, "password": password})["tokenAuth"]["token"]


def server_idle_wait(server_pids, *, idle_cores: float = 0.1, timeout: float = 60) -> None:
    """Wait until the server's processes use less than ``idle_cores`` over a second (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = server_pids()
        before = sum(processes_cpu_seconds(pids).values())
        time.sleep(1)
        if sum(processes_cpu_seconds(pids).values()) - before < idle_cores:
            return


def _worker_restarts(gunicorn_log: Path) -> int:
    # gunicorn logs this when a worker reaches max_requests (gunicorn.conf.py recycles workers).
    return _tail(gunicorn_log, 10**9).count("Autorestarting worker")


def main(argv: list[str] | None = None) -> int:
    """The bench/run command."""
    options = parse_arguments(sys.argv[1:] if argv is None else argv)
    # Turn SIGTERM into an exception, so that every server started is stopped and the database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(options)
    except (HarnessError, LoadError) as error:
        print(f"bench: {error}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
