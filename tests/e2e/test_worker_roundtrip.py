"""End to end with real processes: a Celery worker on the RabbitMQ broker and a web server, both on a
PostgreSQL database of their own (``nexus_e2e_<pid>``, created, migrated and filled with ml-latest-small here,
dropped afterwards; the pytest database is never touched) and on their own broker queue.

Import → the worker trains; a person registers over HTTP, rates five movies, and their recommendations reflect
the ratings within 2 s; a movie they hide never comes back; Toy Story's similar movies include Toy Story 2.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from kombu import Connection

from tests.conftest import movielens_small_dir, need
from tests.servers import queues_of, scratch_database

REPOSITORY = Path(__file__).resolve().parents[2]
PASSWORD = "roundtrip-Horse-Battery-42"
# Five much-rated animated films: Toy Story, Monsters Inc., Finding Nemo, The Incredibles, Shrek.
ANIMATED = (1, 4886, 6377, 8961, 4306)
REFLECTED_WITHIN = 2.0
TRAINED_WITHIN = 120.0


@pytest.fixture
def e2e_database(tmp_path) -> Iterator[str]:
    """A PostgreSQL database of this test's own, dropped afterwards whatever happens."""
    need(bool(settings.CELERY_BROKER_URL), "needs a broker: set CELERY_BROKER_URL=amqp://...")
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")
    need(movielens_small_dir() is not None, "NEXUS_DATA_DIR must point at shared/data with ml-latest-small")
    with scratch_database(f"nexus_e2e_{os.getpid()}", sqlite_folder=tmp_path) as url:
        yield url


@pytest.fixture
def environment(e2e_database, tmp_path) -> Iterator[dict[str, str]]:
    """What the server and the worker run with: the e2e database, their own queue and var folder."""
    queue = f"nexus-e2e-{os.getpid()}"
    variables = {
        **{name: value for name, value in os.environ.items() if name != "NEXUS_TEST_DATABASE_NAME"},
        "DATABASE_URL": e2e_database,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "NEXUS_VAR_DIR": str(tmp_path / "var"),
        "LOG_FORMAT": "plain",
        "DEBUG": "0",
    }
    yield variables
    with Connection(settings.CELERY_BROKER_URL) as broker:
        for name in queues_of(queue):
            broker.default_channel.queue_delete(name)


def manage(environment: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPOSITORY, env=environment, check=True, capture_output=True
    )


@contextmanager
def process(command: list[str], environment: dict[str, str], log: Path) -> Iterator[Path]:
    with log.open("w") as output:
        running = subprocess.Popen(command, cwd=REPOSITORY, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield log
    finally:
        running.send_signal(signal.SIGTERM)
        try:
            running.wait(timeout=20)
        except subprocess.TimeoutExpired:
            running.kill()
            running.wait()


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s" + (f"; log:\n{log.read_text()[-3000:]}" if log else ""))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.token: str | None = None

    def data(self, query: str, **variables) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(self.url, data=body, headers=headers)  # noqa: S310 - our own server
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = json.load(response)
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]

    def up(self) -> bool:
        try:
            return bool(self.data("{ __typename }"))
        except OSError:
            return False


def latest_run_status(database_url: str) -> str | None:
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status FROM recommender_modelrun ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
    return row[0] if row else None


REGISTER = """mutation($password: String!) {
  register(username: "roundtrip", email: "roundtrip@example.com", password: $password) { token }
}"""
MOVIE = "query($id: Int) { movie(movielensId: $id) { id title } }"
RATE = "mutation($movie: ID!) { rateMovie(movieId: $movie, score: 5) { errors { code } } }"
HIDE = "mutation($movie: ID!) { hideMovie(movieId: $movie) { errors { code } } }"
RECOMMENDATIONS = "{ recommendations(first: 20) { movie { id title } source reason } }"
SIMILAR = "{ movie(movielensId: 1) { similar(first: 10) { title } } }"


def test_ratings_reach_recommendations_through_a_real_worker(environment, e2e_database, tmp_path):
    started = time.monotonic()
    manage(environment, "migrate", "--noinput")
    port = free_port()
    queue = environment["CELERY_TASK_DEFAULT_QUEUE"]
    worker = [sys.executable, "-m", "celery", "-A", "nexus", "worker", "-Q", ",".join(queues_of(queue))]
    worker += ["-c", "1", "-l", "info"]
    server = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    with (
        process(worker, environment, tmp_path / "worker.log") as worker_log,
        process(server, environment, tmp_path / "server.log") as server_log,
    ):
        wait_for(lambda: " ready." in worker_log.read_text(), timeout=60, what="worker ready", log=worker_log)
        # The import queues a training, which the worker runs.
        manage(environment, "import_movielens", str(movielens_small_dir()))
        wait_for(
            lambda: latest_run_status(e2e_database) in {"succeeded", "failed"},
            timeout=TRAINED_WITHIN,
            what="the worker trained the recommender",
            log=worker_log,
        )
        assert latest_run_status(e2e_database) == "succeeded"
        client = Client(port)
        wait_for(client.up, timeout=30, what="the server answers", log=server_log)

        client.token = client.data(REGISTER, password=PASSWORD)["register"]["token"]
        rated = {}
        for movielens_id in ANIMATED:
            movie = client.data(MOVIE, id=movielens_id)["movie"]
            rated[movie["id"]] = movie["title"]
            client.data(RATE, movie=movie["id"])
        rated_at = time.monotonic()

        def reflected() -> list[dict] | None:
            recommendations = client.data(RECOMMENDATIONS)["recommendations"]
            personal = all(item["source"] in {"COLLABORATIVE", "CONTENT"} for item in recommendations)
            unrated = not {item["movie"]["id"] for item in recommendations} & rated.keys()
            named = all(any(title in item["reason"] for title in rated.values()) for item in recommendations)
            return recommendations if personal and unrated and named and len(recommendations) == 20 else None

        recommendations = wait_for(reflected, timeout=30, what="ratings reflected", log=worker_log)
        assert time.monotonic() - rated_at <= REFLECTED_WITHIN, worker_log.read_text()[-3000:]

        hidden = recommendations[0]["movie"]["id"]
        client.data(HIDE, movie=hidden)
        for _ in range(10):  # before and after the refresh the hide queued
            listed = {item["movie"]["id"] for item in client.data(RECOMMENDATIONS)["recommendations"]}
            assert hidden not in listed
            time.sleep(0.2)

        similar = client.data(SIMILAR)["movie"]["similar"]
        assert "Toy Story 2" in {movie["title"] for movie in similar}
    assert time.monotonic() - started < 120
