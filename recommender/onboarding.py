"""Onboarding: the movies a user is asked to rate first, chosen to teach the recommender the most
(recommender/elicitation.py says how; docs/recommender.md, "Onboarding", what it is worth).

The candidates are the ``POOL_SIZE`` most-rated movies with at least ``POOL_MIN_RATINGS`` ratings (known enough
that people have seen them), each with the informativeness of its rating histogram, its genres and its decade.
They are computed from the ratings in a few grouped queries and kept in the cache under the catalog's data version
for ``POOL_CACHE_SECONDS`` (their order barely moves with a single rating); a request then only reads what the
viewer rated and picks.
"""

from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db.models import Count

from catalog.cache import catalog_version
from catalog.filters import genre_ids
from catalog.models import Genre, Movie
from nexus.caches import quietly
from recommender.elicitation import (
    POOL_MIN_RATINGS,
    POOL_SIZE,
    SCORE_BINS,
    Candidates,
    elicitation_pick,
    informativeness,
)
from users.models import Rating

POOL_CACHE_SECONDS = 3600


@dataclass(frozen=True)
class OnboardingPool:
    """The candidates, in parallel arrays (``genres`` columns follow ``genre_ids``)."""

    movie_ids: np.ndarray
    scores: np.ndarray
    genres: np.ndarray
    genre_ids: np.ndarray
    decades: np.ndarray


def onboarding_movies(*, user=None, first: int, genres: list[str] | None = None) -> list[Movie]:
    """Up to ``first`` movies to ask ``user`` to rate (anyone, for None), most informative first, spread over
    genres and decades, none the user rated; with ``genres`` (names or slugs), only movies of any of them."""
    wanted = genre_ids(genres, field="genres") if genres else None
    pool = onboarding_pool()
    eligible = np.ones(len(pool.movie_ids), dtype=bool)
    if user is not None:
        rated = np.fromiter(Rating.objects.filter(user=user).values_list("movie_id", flat=True), dtype=np.int64)
        eligible &= ~np.isin(pool.movie_ids, rated)
    if wanted is not None:
        eligible &= pool.genres[:, np.isin(pool.genre_ids, wanted)].any(axis=1)
    candidates = Candidates(scores=pool.scores, genres=pool.genres, decades=pool.decades)
    picked = pool.movie_ids[elicitation_pick(candidates, k=first, eligible=eligible)].tolist()
    movies = Movie.objects.in_bulk(picked)
    return [movies[pk] for pk in picked if pk in movies]


def onboarding_pool() -> OnboardingPool:
    """The candidates, from the cache when they were computed under the current catalog version."""
    version = catalog_version()
    if version is None:
        return _pool_compute()
    key = f"onboarding:pool:{version}"
    pool = quietly("Onboarding candidates not read", lambda: cache.get(key))
    if pool is None:
        pool = _pool_compute()
        quietly("Onboarding candidates not kept", lambda: cache.set(key, pool, timeout=POOL_CACHE_SECONDS))
    return pool


def _pool_compute() -> OnboardingPool:
    known = Movie.objects.filter(rating_count__gte=POOL_MIN_RATINGS).order_by("-rating_count", "pk")
    rows = list(known.values_list("pk", "year")[:POOL_SIZE])
    movie_ids = np.array([pk for pk, _ in rows], dtype=np.int64)
    decades = np.array([(year // 10) * 10 if year else -1 for _, year in rows], dtype=np.int64)
    position = {pk: index for index, pk in enumerate(movie_ids.tolist())}

    histograms = np.zeros((len(movie_ids), SCORE_BINS), dtype=np.float64)
    counts = (
        Rating.objects.filter(movie_id__in=movie_ids.tolist())
        .values_list("movie_id", "score")
        .annotate(n=Count("id"))
        .order_by()
    )
    for movie_id, score, n in counts:
        histograms[position[movie_id], int(score * 2) - 1] = n

    all_genre_ids = np.array(sorted(Genre.objects.values_list("pk", flat=True)), dtype=np.int64)
    genres = np.zeros((len(movie_ids), len(all_genre_ids)), dtype=bool)
    links = Movie.genres.through.objects.filter(movie_id__in=movie_ids.tolist()).values_list("movie_id", "genre_id")
    for movie_id, genre_id in links:
        genres[position[movie_id], np.searchsorted(all_genre_ids, genre_id)] = True
    return OnboardingPool(
        movie_ids=movie_ids,
        scores=informativeness(histograms),
        genres=genres,
        genre_ids=all_genre_ids,
        decades=decades,
    )
