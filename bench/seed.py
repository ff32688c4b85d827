"""Creates the benchmark's users through the account and library services, and lists the movies they may rate.

Run by the harness as ``python -m bench.seed OUTPUT.json`` (Django settings from the environment, the password in
BENCH_USER_PASSWORD), after the import and before training, so that the training gives every bench user a
precomputed list as it does for everyone else.
"""

import argparse
import json
import os
import random
from pathlib import Path

import django

USERNAME_PREFIX = "bench-user-"
# Bench users rate among the most popular movies, as new users mostly do, so that they share items with
# MovieLens users and get collaborative recommendations.
CANDIDATE_MOVIES = 1000
# Movie pages people open and the ratings the bench measures: the most-rated movies, and movies with at most
# RARE_MAX_RATINGS ratings.
POPULAR_MOVIES = 100
RARE_MAX_RATINGS = 10
FAVORITE_GENRES = ("Action", "Comedy", "Drama", "Sci-Fi", "Thriller", "Animation", "Romance", "Crime")


def bench_users_create(*, count: int, ratings_per_user: int, password: str, seed: int) -> list[str]:
    """Registers ``count`` users with ``ratings_per_user`` half-star ratings each; returns their usernames."""
    from catalog.models import Movie
    from users import services
    from users.models import RATING_SCORES

    generator = random.Random(seed)
    candidates = list(Movie.objects.order_by("-popularity", "id")[:CANDIDATE_MOVIES])
    usernames = []
    for number in range(1, count + 1):
        username = f"{USERNAME_PREFIX}{number}"
        user = services.user_register(
            username=username,
            email=f"{username}@bench.example.com",
            password=password,
            favorite_genres=generator.sample(FAVORITE_GENRES, 2),
        )
        for movie in generator.sample(candidates, ratings_per_user):
            services.rating_upsert(user=user, movie=movie, score=generator.choice(RATING_SCORES))
        usernames.append(username)
    return usernames


def movie_global_ids() -> dict[str, list[str]]:
    """Relay ids (what ``movie(id:)`` and ``rateMovie(movieId:)`` take) of every movie in the catalog, of the
    most-rated ones and of rarely rated ones."""
    from graphql_relay import to_global_id

    from catalog.models import Movie

    def ids(movies) -> list[str]:
        return [to_global_id("Movie", pk) for pk in movies.values_list("pk", flat=True)]

    return {
        "movie_ids": ids(Movie.objects.order_by("id")),
        "popular_movie_ids": ids(Movie.objects.order_by("-rating_count", "id")[:POPULAR_MOVIES]),
        "rare_movie_ids": ids(Movie.objects.filter(rating_count__range=(1, RARE_MAX_RATINGS)).order_by("id")),
    }


def main() -> None:
    """``python -m bench.seed OUTPUT.json --users N --ratings-per-user M``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output", type=Path, help="JSON file to write the usernames and movie ids to.")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--ratings-per-user", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
    django.setup()
    usernames = bench_users_create(
        count=options.users,
        ratings_per_user=options.ratings_per_user,
        password=os.environ["BENCH_USER_PASSWORD"],
        seed=options.seed,
    )
    options.output.write_text(json.dumps({"usernames": usernames, **movie_global_ids()}))


if __name__ == "__main__":
    main()
