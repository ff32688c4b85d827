# ruff: noqa: F811 - tests take the fixture imported from tests.faults
"""The broker is down: ratings are still saved at once, and the refreshes they call for are not lost.

gunicorn runs against a RabbitMQ node of this test's own that is not running yet. A new user rates five movies:
every rating answers quickly, without errors, and leaves a row in the refresh outbox. Then the node starts and a
Celery worker comes up: the outbox is drained and the user's recommendations are rebuilt from their ratings.
"""

import time

import psycopg2

from tests.faults import (  # noqa: F401 - prepared is a fixture
    GraphQL,
    broker_up,
    prepared,
    rabbitmq_service,
    stack_copy,
    stopped_at_exit,
    wait_for,
    web_service,
    worker_service,
)

# The most-rated animated films of ml-latest-small (all in the small slice): Toy Story, Monsters Inc., Finding
# Nemo, The Incredibles, Shrek.
ANIMATED = (1, 4886, 6377, 8961, 4306)
RATING_WITHIN = 2.0

REGISTER = """mutation($name: String!) {
  register(username: $name, email: "faults@example.com", password: "faults-Horse-Battery-42") { token errors { code } }
}"""
MOVIE = "query($id: Int) { movie(movielensId: $id) { id } }"
RATE = "mutation($movie: ID!) { rateMovie(movieId: $movie, score: 5) { rating { score } errors { code } } }"
RECOMMENDATIONS = "{ recommendations(first: 10) { movie { title } source reason } }"


def pending_refreshes(database_url: str, user_id: int) -> int:
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM users_librarychange WHERE user_id = %s", [user_id])
        return cursor.fetchone()[0]


def saved_ratings(database_url: str, user_id: int) -> int:
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM users_rating WHERE user_id = %s", [user_id])
        return cursor.fetchone()[0]


def user_id(database_url: str, username: str) -> int:
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM users_user WHERE username = %s", [username])
        return cursor.fetchone()[0]


def test_ratings_during_a_broker_outage_are_saved_fast_and_refreshed_when_it_returns(prepared, tmp_path):
    broker, broker_url = rabbitmq_service(tmp_path / "rabbitmq")
    with stack_copy(prepared, tmp_path) as stack:
        env = {**stack["env"], "CELERY_BROKER_URL": broker_url, "CELERY_TASK_DEFAULT_QUEUE": "nexus-faults"}
        database_url = env["DATABASE_URL"]
        web, base_url = web_service(env, tmp_path / "web.log")
        worker = worker_service(env, tmp_path / "worker.log")
        with stopped_at_exit(web, worker, broker):
            web.start()
            api = GraphQL(base_url)
            wait_for(api.up, timeout=30, what="gunicorn answers", log=web.log)

            api.token = api.data(REGISTER, name="outage")["register"]["token"]
            outage_user = user_id(database_url, "outage")
            durations = []
            for movielens_id in ANIMATED:
                movie = api.data(MOVIE, id=movielens_id)["movie"]["id"]
                started = time.monotonic()
                answer = api.data(RATE, movie=movie)["rateMovie"]
                durations.append(time.monotonic() - started)
                assert answer == {"rating": {"score": 5.0}, "errors": []}
            assert max(durations) < RATING_WITHIN, durations
            assert saved_ratings(database_url, outage_user) == len(ANIMATED)
            assert pending_refreshes(database_url, outage_user) == 1  # one row per user, however many changes
            during = api.data(RECOMMENDATIONS)["recommendations"]
            assert {item["source"] for item in during} <= {"POPULAR", "SIMILAR", "TRENDING"}, during

            broker.start()
            wait_for(lambda: broker_up(broker_url), timeout=60, what="RabbitMQ starts", log=broker.log)
            worker.start()
            wait_for(
                lambda: pending_refreshes(database_url, outage_user) == 0,
                timeout=60,
                what="the worker drained the outbox",
                log=worker.log,
            )
            after = api.data(RECOMMENDATIONS)["recommendations"]
            assert len(after) == 10
            assert {item["source"] for item in after} <= {"COLLABORATIVE", "CONTENT"}, after
            assert any(item["reason"].startswith("Because you rated") for item in after), after
            assert web.running, "gunicorn died during the outage"
