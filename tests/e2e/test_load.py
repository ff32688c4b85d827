"""50 people at once for a minute against the running server (tests/e2e/live.py: gunicorn with two worker
processes, DEBUG off, the real catalog, a Celery worker), through tests/e2e/loadgen.py: zero errors, and
afterwards every rating accounted for, through the API and in the database, with movie statistics that match the
ratings table exactly.

Reproduce: ``pytest tests/e2e/test_load.py -s`` prints the figures; NEXUS_LOAD_USERS and NEXUS_LOAD_DURATION
(seconds) change the load. Against any server: ``python -m tests.e2e.loadgen URL --users 50 --duration 60``.
"""

import asyncio
import os

from graphql_relay import from_global_id

from catalog.models import Movie
from tests.e2e.loadgen import LoadReport, ratings_mismatches, run_load
from users.models import Favorite, Rating, User, WatchlistItem

LOAD_USERS = int(os.environ.get("NEXUS_LOAD_USERS", "50"))
LOAD_DURATION = float(os.environ.get("NEXUS_LOAD_DURATION", "60"))


def movie_pk(global_id: str) -> int:
    type_name, pk = from_global_id(global_id)
    assert type_name == "Movie", global_id
    return int(pk)


def stored_library(live_stack, username: str) -> tuple[dict[int, float], set[int], set[int]]:
    """One user's ratings (movie pk → score), favorites and watchlist as the database holds them."""
    user_table = User._meta.db_table

    def rows(table: str, columns: str) -> list[tuple]:
        return live_stack.sql(
            f"SELECT {columns} FROM {table} AS entry JOIN {user_table} AS person ON person.id = entry.user_id "  # noqa: S608 - our table names
            "WHERE person.username = %s",
            (username,),
        )

    ratings = {movie: float(score) for movie, score in rows(Rating._meta.db_table, "entry.movie_id, entry.score")}
    favorites = {movie for (movie,) in rows(Favorite._meta.db_table, "entry.movie_id")}
    watchlist = {movie for (movie,) in rows(WatchlistItem._meta.db_table, "entry.movie_id")}
    return ratings, favorites, watchlist


def statistics_drift(live_stack) -> list[tuple]:
    """Movies whose stored ratingCount or ratingMean differ from their rows in the ratings table."""
    return live_stack.sql(
        f"""
        SELECT movie.id, movie.rating_count, counted.n, movie.rating_mean, counted.mean
        FROM {Movie._meta.db_table} AS movie
        LEFT JOIN (SELECT movie_id, COUNT(*) AS n, AVG(score)::float AS mean
                   FROM {Rating._meta.db_table} GROUP BY movie_id) AS counted ON counted.movie_id = movie.id
        WHERE movie.rating_count <> COALESCE(counted.n, 0)
           OR (counted.n IS NOT NULL AND ABS(movie.rating_mean - counted.mean) > 1e-9)
        """  # noqa: S608 - our table names
    )


def test_fifty_users_for_a_minute_get_no_error_and_lose_no_rating(live_stack):
    log_start = live_stack.log_size()
    report = asyncio.run(run_load(live_stack.graphql_url, users=LOAD_USERS, duration=LOAD_DURATION))
    print(f"\n{report.summary()}\nby operation: {dict(report.by_operation.most_common())}")

    assert not report.errors, f"{len(report.errors)} errors, e.g.:\n" + "\n".join(report.errors[:20])
    assert all(ledger.token for ledger in report.ledgers)
    # Every kind of request ran, and the users rated enough for the accounting below to mean something.
    operations = ("movies", "movie", "popular", "recommendations", "me")
    operations += ("rateMovie", "deleteRating", "addFavorite", "addToWatchlist")
    assert all(report.by_operation[operation] for operation in operations), report.by_operation
    assert report.by_operation["rateMovie"] >= LOAD_USERS, report.by_operation

    # Every rating accounted for: what the server confirmed last is what it serves and what it stored.
    assert asyncio.run(ratings_mismatches(live_stack.graphql_url, report)) == []
    for ledger in report.ledgers:
        ratings, favorites, watchlist = stored_library(live_stack, ledger.username)
        assert ratings == {movie_pk(movie): score for movie, score in ledger.ratings.items()}, ledger.username
        assert favorites == {movie_pk(movie) for movie in ledger.favorites}, ledger.username
        assert watchlist == {movie_pk(movie) for movie in ledger.watchlist}, ledger.username
    assert statistics_drift(live_stack) == []
    server_log = live_stack.log_since(log_start)
    assert "Traceback" not in server_log and "Internal Server Error" not in server_log, server_log[-5000:]


def test_the_report_gives_nearest_rank_percentiles_in_milliseconds():
    report = LoadReport(users=1, duration=10.0, latencies=[index / 1000 for index in range(1, 101)])
    assert (report.requests, report.requests_per_second) == (100, 10.0)
    assert (report.percentile(0.50), report.percentile(0.99)) == (50.0, 99.0)
    assert LoadReport(users=1, duration=1.0).percentile(0.5) == 0.0
