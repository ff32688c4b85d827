# ruff: noqa: F811 - tests take the fixture imported from tests.faults
"""Nothing a request waits on can hold it for long: a statement stuck behind a lock is cancelled by PostgreSQL's
statement timeout, a broker that accepts connections but never answers is given up on within about a second —
while imports and trainings, whose statements run for minutes, are not cut by the timeout."""

import os
import socket
import threading
import time
from contextlib import closing

import psycopg2
from django.conf import settings

from tests.conftest import need
from tests.faults import (  # noqa: F401
    GraphQL,
    manage,
    nexus_environment,
    prepared,
    stack_copy,
    stopped_at_exit,
    wait_for,
    web_service,
)
from tests.servers import free_port

REGISTER = """mutation {
  register(username: "patient", email: "patient@example.com", password: "faults-Horse-Battery-42") { token }
}"""
# Each call asks for other years, so that no cached response answers in place of the database.
MOVIES = "query($year: Int) { movies(first: 3, yearFrom: $year) { totalCount edges { node { title } } } }"
MOVIE = "{ movie(movielensId: 1) { id } }"
RATE = "mutation($movie: ID!) { rateMovie(movieId: $movie, score: 4) { rating { score } errors { code } } }"
SHOW_TIMEOUT = "from django.db import connection; c = connection.cursor(); c.execute('SHOW statement_timeout'); "


def shell(env: dict[str, str], code: str) -> str:
    return manage(env, "shell", "--no-imports", "--command", code).stdout.strip()


def test_web_connections_get_a_five_second_statement_timeout_by_default():
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")
    env = nexus_environment(DATABASE_URL=os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres")
    env.pop("DATABASE_STATEMENT_TIMEOUT_MS", None)  # the test run's own default (pyproject) is longer
    assert shell(env, SHOW_TIMEOUT + "print(c.fetchone()[0])") == "5s"


def test_a_statement_stuck_behind_a_lock_fails_the_request_instead_of_hanging_it(prepared, tmp_path):
    with stack_copy(prepared, tmp_path) as stack:
        env = {**stack["env"], "CELERY_BROKER_URL": "", "DATABASE_STATEMENT_TIMEOUT_MS": "500"}
        web, base_url = web_service(env, tmp_path / "web.log")
        with stopped_at_exit(web), closing(psycopg2.connect(env["DATABASE_URL"])) as blocker:
            web.start()
            api = GraphQL(base_url)
            wait_for(api.up, timeout=30, what="gunicorn answers", log=web.log)
            assert api.data(MOVIES, year=1950)["movies"]["totalCount"] > 0

            with blocker.cursor() as cursor:  # held until the rollback below
                cursor.execute("LOCK TABLE catalog_movie IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            stuck = api.execute(MOVIES, timeout=20, year=1960)
            waited = time.monotonic() - started
            blocker.rollback()

            assert stuck.get("errors"), stuck
            # Masked like any unexpected error: no SQL or driver message reaches the client.
            assert {error["extensions"]["code"] for error in stuck["errors"]} == {"INTERNAL_SERVER_ERROR"}, stuck
            assert "statement" not in str(stuck).lower() and "catalog_movie" not in str(stuck), stuck
            assert waited < 5, f"the request waited {waited:.1f} s for the lock"
            assert api.data(MOVIES, year=1970)["movies"]["totalCount"] > 0  # the same server goes on serving
            assert web.running


def test_imports_and_trainings_are_not_cut_by_the_statement_timeout(prepared, tmp_path):
    with stack_copy(prepared, tmp_path) as stack:
        env = {**stack["env"], "CELERY_BROKER_URL": "", "DATABASE_STATEMENT_TIMEOUT_MS": "5"}
        release = str(prepared["release"])
        with closing(psycopg2.connect(env["DATABASE_URL"])) as blocker:
            # Both read or write the ratings: while they are locked, any statement on them waits, however fast the
            # machine, far longer than the 5 ms allowed.
            with blocker.cursor() as cursor:
                cursor.execute("LOCK TABLE users_rating IN ACCESS EXCLUSIVE MODE")
            # The same work outside the commands runs under the timeout and is cancelled ...
            for work in (
                f"from importers.movielens import movielens_import; movielens_import(path={release!r})",
                "from recommender.training import recommender_train; recommender_train()",
            ):
                outcome = shell(env, f"try:\n    {work}\n    print('finished')\n"
                                "except Exception as error:\n    print('cancelled', error)")  # fmt: skip
                assert outcome.startswith("cancelled") and "statement timeout" in outcome, (work, outcome)
            # ... and the commands lift it: the import waits for the lock (released a second later) and goes on.
            released = threading.Timer(1.0, blocker.rollback)
            released.start()
            try:
                manage(env, "import_movielens", "--no-train", release)
            finally:
                released.join()
        trained = manage(env, "train_recommender").stdout
        assert "119 users" in trained, trained


def test_a_broker_that_never_answers_delays_a_rating_by_about_a_second_at_most(prepared, tmp_path):
    with stack_copy(prepared, tmp_path) as stack, _silent_listener() as port:
        env = {**stack["env"], "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{port}//"}
        web, base_url = web_service(env, tmp_path / "web.log")
        with stopped_at_exit(web):
            web.start()
            api = GraphQL(base_url)
            wait_for(api.up, timeout=30, what="gunicorn answers", log=web.log)
            api.token = api.data(REGISTER)["register"]["token"]
            movie = api.data(MOVIE)["movie"]["id"]
            durations = []
            for _ in range(3):
                started = time.monotonic()
                assert api.data(RATE, movie=movie)["rateMovie"] == {"rating": {"score": 4.0}, "errors": []}
                durations.append(time.monotonic() - started)
            # The first pays the connection timeout; the next ones skip the broker while it is paused.
            assert durations[0] < 2.5 and max(durations[1:]) < 1.0, durations


class _silent_listener:  # noqa: N801 - used like a function: `with _silent_listener() as port:`
    """A TCP port that accepts connections and never sends a byte: a hung broker."""

    def __enter__(self) -> int:
        self.socket = socket.create_server(("127.0.0.1", free_port()))
        self.accepted: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self.socket.getsockname()[1]

    def _accept(self) -> None:
        self.socket.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                self.accepted.append(self.socket.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for connection in self.accepted:
            connection.close()
        self.socket.close()
