"""Catalog write operations."""

from collections.abc import Iterable

from django.conf import settings
from django.db import connection

from catalog.models import Movie
from users.models import Rating


def movie_stats_refresh(*, movie_ids: Iterable[int] | None = None) -> None:
    """Recompute rating statistics from the ratings table, in SQL, for the given movies (or all of them).

    Exact under concurrent writers when the caller holds the movies' row locks (``select_for_update``) for the
    rest of its transaction: the aggregate then sees every committed rating of those movies.
    """
    movie_table, rating_table = Movie._meta.db_table, Rating._meta.db_table
    prior_weight, prior_mean = settings.NEXUS_RATING_PRIOR_WEIGHT, settings.NEXUS_RATING_PRIOR_MEAN
    params: list = []
    only_movies, only_ratings = "", ""
    if movie_ids is not None:
        ids = sorted(set(movie_ids))
        if not ids:
            return
        placeholders = ", ".join(["%s"] * len(ids))
        only_movies, only_ratings = f"WHERE id IN ({placeholders})", f"WHERE movie_id IN ({placeholders})"
        params = ids
    bayesian = f"(({prior_weight} * {prior_mean} + s.total) / ({prior_weight} + s.n))"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {movie_table} SET rating_count = 0, rating_mean = NULL, "  # noqa: S608 - no user input
            f"bayesian_rating = {prior_mean}, popularity = 0 {only_movies}",
            params,
        )
        cursor.execute(
            f"UPDATE {movie_table} SET rating_count = s.n, rating_mean = s.total / s.n, "  # noqa: S608
            f"bayesian_rating = {bayesian}, popularity = s.n * {bayesian} / 5.0 "
            f"FROM (SELECT movie_id, COUNT(*) AS n, CAST(SUM(score) AS DOUBLE PRECISION) AS total "
            f"FROM {rating_table} {only_ratings} GROUP BY movie_id) AS s "
            f"WHERE {movie_table}.id = s.movie_id",
            params,
        )
