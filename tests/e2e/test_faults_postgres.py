# ruff: noqa: F811 - tests take the fixture imported from tests.faults
"""PostgreSQL restarts (a cluster of this test's own, fast shutdown: every session is cut) under a running gunicorn
that keeps its connections between requests: every request after the restart succeeds, reads and writes, without
restarting the web server."""

import subprocess

import psycopg2

from tests.conftest import need
from tests.faults import (  # noqa: F401 - prepared is a fixture
    POSTGRES_BIN,
    GraphQL,
    PostgresCluster,
    prepared,
    stack_copy,
    stopped_at_exit,
    wait_for,
    web_service,
)

REGISTER = """mutation {
  register(username: "steadfast", email: "steadfast@example.com", password: "faults-Horse-Battery-42") { token }
}"""
# Other years each time, so that the database answers rather than a cached response.
MOVIES = "query($year: Int) { movies(first: 3, yearFrom: $year) { totalCount } }"
ME = "{ me { username ratings(first: 5) { totalCount } } }"
MOVIE = "query($id: Int) { movie(movielensId: $id) { id } }"
RATE = "mutation($movie: ID!) { rateMovie(movieId: $movie, score: 3.5) { errors { code } } }"
REQUESTS_AFTER = 6  # more than gunicorn's threads: every kept connection is reused at least once


def copy_database(source_url: str, cluster: PostgresCluster, name: str) -> str:
    """A copy of the database at ``source_url`` in ``cluster`` (pg_dump piped into psql)."""
    url = cluster.create_database(name)
    dump = subprocess.run(
        [str(POSTGRES_BIN / "pg_dump"), "--no-owner", source_url], check=True, capture_output=True, timeout=60
    )
    subprocess.run(
        [str(POSTGRES_BIN / "psql"), "--quiet", "--set", "ON_ERROR_STOP=1", url],
        input=dump.stdout,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return url


def backend_pids(url: str) -> set[int]:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def test_a_postgres_restart_is_survived_without_restarting_the_web_server(prepared, tmp_path):
    need(POSTGRES_BIN is not None, "needs the PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    cluster = PostgresCluster()
    try:
        cluster.start()
        with stack_copy(prepared, tmp_path) as stack:
            database_url = copy_database(stack["env"]["DATABASE_URL"], cluster, "nexus")
            env = {
                **stack["env"],
                "DATABASE_URL": database_url,
                "CELERY_BROKER_URL": "",
                "DATABASE_CONN_MAX_AGE": "600",
            }
            web, base_url = web_service(env, tmp_path / "web.log")
            with stopped_at_exit(web):
                web.start()
                api = GraphQL(base_url)
                wait_for(api.up, timeout=30, what="gunicorn answers", log=web.log)
                api.token = api.data(REGISTER)["register"]["token"]
                for year in range(1990, 1990 + REQUESTS_AFTER):
                    assert api.data(MOVIES, year=year)["movies"]["totalCount"] > 0
                kept = backend_pids(database_url)
                assert kept, "gunicorn keeps its database connections between requests"

                cluster.restart_fast()

                assert not kept & backend_pids(database_url)  # every connection gunicorn kept is gone
                for year in range(1960, 1960 + REQUESTS_AFTER):
                    assert api.data(MOVIES, year=year)["movies"]["totalCount"] > 0
                assert api.data(ME)["me"] == {"username": "steadfast", "ratings": {"totalCount": 0}}
                movie = api.data(MOVIE, id=1)["movie"]["id"]
                assert api.data(RATE, movie=movie)["rateMovie"]["errors"] == []
                assert api.data(ME)["me"]["ratings"]["totalCount"] == 1
                assert web.running
    finally:
        cluster.remove()
