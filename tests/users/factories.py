"""Builders for account and library tests: movies and people of the tests' own, beside the loaded dataset."""

import itertools
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db.models import Avg, Count, QuerySet, Sum
from graphql_relay import to_global_id

from catalog.models import Movie
from users import services
from users.models import Rating, User
from users.statistics import STATISTICS

PASSWORD = "correct horse battery staple"
# Far above MovieLens' ids, so these movies never clash with the loaded dataset.
_movielens_ids = itertools.count(900_000_001)
_people = itertools.count(1)


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 as in production, with tiny costs: a third of a second and 100 MB per hash add up over a suite."""

    time_cost = 1
    memory_cost = 64
    parallelism = 1


def movie_create(**fields) -> Movie:
    movielens_id = next(_movielens_ids)
    return Movie.objects.create(movielens_id=movielens_id, title=f"Test movie {movielens_id}", **fields)


def person_create(username: str | None = None, *, password: str = PASSWORD, **fields) -> User:
    """A registered person (through the service, so with a real Argon2 password)."""
    number = next(_people)
    username = username or f"person{number}"
    return services.user_register(
        username=username, email=fields.pop("email", f"{username}@example.com"), password=password, **fields
    )


def people() -> QuerySet[User]:
    """Accounts of people, leaving out the users imported from MovieLens."""
    return User.objects.filter(movielens_id__isnull=True)


def movie_global_id(movie: Movie) -> str:
    return to_global_id("Movie", movie.pk)


def expected_statistics(movie: Movie) -> dict:
    """The movie's statistics as the definition says, computed from its rating rows."""
    rows = Rating.objects.filter(movie=movie).aggregate(n=Count("id"), total=Sum("score"), mean=Avg("score"))
    count, total = rows["n"], float(rows["total"] or Decimal(0))
    weight, prior = settings.NEXUS_RATING_PRIOR_WEIGHT, settings.NEXUS_RATING_PRIOR_MEAN
    bayesian = (weight * prior + total) / (weight + count)
    return {
        "rating_count": count,
        "rating_mean": total / count if count else None,
        "bayesian_rating": bayesian if count else prior,
        "popularity": count * bayesian / 5 if count else 0,
    }


def stored_statistics(movie: Movie) -> dict:
    movie.refresh_from_db()
    return {name: getattr(movie, name) for name in STATISTICS}


def assert_statistics_exact(movie: Movie) -> None:
    stored, expected = stored_statistics(movie), expected_statistics(movie)
    assert stored["rating_count"] == expected["rating_count"]
    for name in ("rating_mean", "bayesian_rating", "popularity"):
        if expected[name] is None:
            assert stored[name] is None, name
        else:
            assert abs(stored[name] - expected[name]) < 1e-9, (name, stored[name], expected[name])
