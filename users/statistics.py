"""Movie statistics: what the library's ratings make of each movie (count, sum, mean, Bayesian average,
popularity), kept on the catalog's movies by the library, which owns the ratings.

A rating write adds its change in one UPDATE (``movie_stats_add``): O(1) whatever the movie's number of ratings,
and the movie's row is locked only from that statement to the commit. ``movie_stats_refresh`` recomputes them from
the ratings: after imports and account deletions, and periodically (users.tasks) to repair any drift.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from catalog.cards import movie_statistics_changed
from catalog.models import Movie
from nexus.versions import rows_changed
from users.models import Rating
from users.selectors import placeholders

STATISTICS = ("rating_count", "rating_total", "rating_mean", "bayesian_rating", "popularity")


@dataclass(frozen=True)
class MovieStatistics:
    rating_count: int
    rating_total: float
    rating_mean: float | None
    bayesian_rating: float
    popularity: float


def _bayesian_sql(count: str, total: str) -> str:
    """The Bayesian average of ``count`` ratings summing to ``total`` (SQL expressions), the one formula both the
    per-rating update and the recomputation write."""
    weight, prior = float(settings.NEXUS_RATING_PRIOR_WEIGHT), float(settings.NEXUS_RATING_PRIOR_MEAN)
    return f"(({weight} * {prior} + {total}) / ({weight} + {count}))"


def movie_stats_add(*, movie_id: int, count: int, total: float) -> MovieStatistics | None:
    """Add ``count`` ratings summing to ``total`` (negative to remove, count 0 for a changed score) to the movie's
    statistics in one statement; returns the new statistics (None: no such movie). Exact under concurrent writers:
    each UPDATE applies its change to the row as the previous writer committed it."""
    count_after, total_after = "rating_count + %(count)s", "rating_total + %(total)s"
    bayesian = _bayesian_sql(count_after, total_after)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Movie._meta.db_table} SET rating_count = {count_after}, rating_total = {total_after}, "  # noqa: S608 - no user input
            f"rating_mean = CASE WHEN {count_after} > 0 THEN ({total_after}) / ({count_after}) END, "
            f"bayesian_rating = {bayesian}, popularity = ({count_after}) * {bayesian} / 5.0 "
            f"WHERE id = %(movie)s RETURNING {', '.join(STATISTICS)}",
            {"count": count, "total": float(total), "movie": movie_id},
        )
        row = cursor.fetchone()
    if row is None:
        return None
    movie_statistics_changed([movie_id])
    return MovieStatistics(*row)


def movie_stats_refresh(*, movie_ids: Iterable[int] | None = None) -> None:
    """Recompute rating statistics from the ratings table, in one SQL statement, for the given movies (or all).

    Only rows whose statistics change are written, so refreshing after an unchanged re-import, or repairing
    statistics that did not drift, is cheap; when any did change, the catalog version is bumped once the
    transaction commits (cached responses and movie cards showed the old statistics). Exact under concurrent
    writers when the caller holds the movies' row locks (``select_for_update``) for the rest of its transaction:
    the aggregate then sees every committed rating of those movies.
    """
    movie_table, rating_table = Movie._meta.db_table, Rating._meta.db_table
    params: list[int] = []
    only_movies = only_ratings = ""
    if movie_ids is not None:
        ids = sorted(set(movie_ids))
        if not ids:
            return
        in_ids = f"IN ({placeholders(ids)})"
        only_movies, only_ratings = f"WHERE movie.id {in_ids}", f"WHERE movie_id {in_ids}"
        params = ids + ids
    count, total = "COALESCE(agg.n, 0)", "COALESCE(agg.total, 0)"
    bayesian = _bayesian_sql(count, total)
    statistics = (
        f"SELECT movie.id AS movie_id, {count} AS n, {total} AS total, agg.total / agg.n AS mean, "  # noqa: S608 - no user input
        f"{bayesian} AS bayesian, {count} * {bayesian} / 5.0 AS popularity "
        f"FROM {movie_table} AS movie LEFT JOIN ("
        f"SELECT movie_id, COUNT(*) AS n, CAST(SUM(score) AS DOUBLE PRECISION) AS total "
        f"FROM {rating_table} {only_ratings} GROUP BY movie_id) AS agg ON agg.movie_id = movie.id {only_movies}"
    )
    changed = " OR ".join(
        f"{movie_table}.{column} IS DISTINCT FROM stats.{value}"
        for column, value in (
            ("rating_count", "n"),
            ("rating_total", "total"),
            ("rating_mean", "mean"),
            ("bayesian_rating", "bayesian"),
            ("popularity", "popularity"),
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {movie_table} SET rating_count = stats.n, rating_total = stats.total, rating_mean = stats.mean, "  # noqa: S608 - no user input
            f"bayesian_rating = stats.bayesian, popularity = stats.popularity "
            f"FROM ({statistics}) AS stats WHERE {movie_table}.id = stats.movie_id AND ({changed})",
            params,
        )
        changed_rows = cursor.rowcount
    if changed_rows:
        rows_changed(Movie)
