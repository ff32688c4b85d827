"""Cold start through real processes: a Celery worker on the RabbitMQ broker and a web server on a PostgreSQL
database of their own, filled with ml-latest-small and trained. A person registers with favorite genres and
rates three movies; within 2 s their recommendations are built on both.
"""

import os
import subprocess
import time

import pytest
from django.conf import settings
from kombu import Connection

from tests.conftest import movielens_small_dir, need
from tests.e2e.test_worker_roundtrip import Client
from tests.servers import PROJECT_DIR, PYTHON, free_port, queues_of, running, scratch_database, wait_until

PASSWORD = "coldstart-Horse-Battery-42"
FAVORITE_GENRES = ["Sci-Fi", "Animation"]
# Three much-rated science fiction films: The Matrix, Star Wars IV, Alien.
RATED = (2571, 260, 1214)
REFLECTED_WITHIN = 2.0

REGISTER = """mutation($password: String!, $genres: [String!]) {
  register(username: "coldstart", email: "coldstart@example.com", password: $password, favoriteGenres: $genres) {
    token errors { code message }
  }
}"""
MOVIE = "query($id: Int) { movie(movielensId: $id) { id title } }"
RATE = "mutation($movie: ID!) { rateMovie(movieId: $movie, score: 5) { errors { code } } }"
RECOMMENDATIONS = "{ recommendations(first: 20) { movie { id title genres { name } } score source reason } }"


@pytest.fixture
def environment(tmp_path):
    need(bool(settings.CELERY_BROKER_URL), "needs a broker: set CELERY_BROKER_URL=amqp://...")
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")
    need(movielens_small_dir() is not None, "NEXUS_DATA_DIR must point at shared/data with ml-latest-small")
    queue = f"nexus-coldstart-{os.getpid()}"
    with scratch_database(f"nexus_coldstart_{os.getpid()}", sqlite_folder=tmp_path) as url:
        yield {
            **{name: value for name, value in os.environ.items() if name != "NEXUS_TEST_DATABASE_NAME"},
            "DATABASE_URL": url,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "NEXUS_VAR_DIR": str(tmp_path / "var"),
            "LOG_FORMAT": "plain",
            "DEBUG": "0",
        }
        with Connection(settings.CELERY_BROKER_URL) as broker:
            broker.default_channel.queue_delete(queue)


def manage(environment: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=PROJECT_DIR, env=environment, check=True, capture_output=True)


def test_favorite_genres_and_three_ratings_shape_the_list_within_two_seconds(environment, tmp_path):
    manage(environment, "migrate", "--noinput", "-v", "0")
    manage(environment, "import_movielens", "--no-train", str(movielens_small_dir()))
    manage(environment, "train_recommender", "-v", "0")
    port = free_port()
    queues = ",".join(queues_of(environment["CELERY_TASK_DEFAULT_QUEUE"]))
    worker = [PYTHON, "-m", "celery", "-A", "nexus", "worker", "-Q", queues]
    server = [PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    with (
        running([*worker, "-c", "1", "-l", "info"], env=environment, log_path=tmp_path / "worker.log"),
        running(server, env=environment, log_path=tmp_path / "server.log"),
    ):
        worker_log = tmp_path / "worker.log"
        wait_until(lambda: " ready." in worker_log.read_text(), timeout=60, what="worker ready", log_path=worker_log)
        client = Client(port)
        server_log = tmp_path / "server.log"
        wait_until(lambda: client.data("{ __typename }"), timeout=30, what="server up", log_path=server_log)

        registered = client.data(REGISTER, password=PASSWORD, genres=FAVORITE_GENRES)["register"]
        assert not registered["errors"], registered
        client.token = registered["token"]
        before = client.data(RECOMMENDATIONS)["recommendations"]
        rated = {}
        for movielens_id in RATED:
            movie = client.data(MOVIE, id=movielens_id)["movie"]
            rated[movie["id"]] = movie["title"]
            client.data(RATE, movie=movie["id"])
        rated_at = time.monotonic()

        def reflected() -> list[dict] | None:
            listed = client.data(RECOMMENDATIONS)["recommendations"]
            personal = all(item["source"] in {"COLLABORATIVE", "CONTENT"} for item in listed)
            return listed if personal and len(listed) == 20 else None

        listed = wait_until(reflected, timeout=30, what="ratings reflected", log_path=worker_log)
        waited = time.monotonic() - rated_at

    assert waited <= REFLECTED_WITHIN, worker_log.read_text()[-3000:]
    # Before rating: popular movies of the favorite genres.
    assert all(set(FAVORITE_GENRES) & {genre["name"] for genre in item["movie"]["genres"]} for item in before)
    # After: nothing they rated, each movie explained by what they rated or a genre they declared, and the list
    # leans towards the declared genres.
    assert not {item["movie"]["id"] for item in listed} & rated.keys()
    for item in listed:
        assert any(title in item["reason"] for title in rated.values()) or any(
            genre in item["reason"] for genre in FAVORITE_GENRES
        ), item["reason"]
    in_favorites = [set(FAVORITE_GENRES) & {genre["name"] for genre in item["movie"]["genres"]} for item in listed]
    assert sum(map(bool, in_favorites)) >= 15, [(item["movie"]["title"], item["reason"]) for item in listed]
