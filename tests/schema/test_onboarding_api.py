"""`onboarding` through /graphql on the real ml-latest-small catalog: 20 distinct, well-known, opinion-splitting
movies from many genres and decades, never one the viewer rated."""

import pytest
from graphql_jwt.shortcuts import get_token

from catalog.models import Movie
from tests.users.factories import person_create
from users.services import rating_upsert

pytestmark = pytest.mark.usefixtures("movielens")

ONBOARDING = """query($first: Int, $genres: [String!]) {
  onboarding(first: $first, genres: $genres) { id movielensId title year ratingCount genres { name } myRating }
}"""


def test_twenty_distinct_known_movies_over_at_least_six_genres_none_already_rated(gql):
    ada = person_create("ada")
    anonymous = gql.data(ONBOARDING)["onboarding"]
    assert len(anonymous) == 20
    # Ada rated the first five suggested to anyone: she gets others instead.
    for movie in anonymous[:5]:
        rating_upsert(user=ada, movie=Movie.objects.get(movielens_id=movie["movielensId"]), score=3)
    mine = gql.data(ONBOARDING, token=get_token(ada))["onboarding"]
    assert len(mine) == 20 and len({movie["id"] for movie in mine}) == 20
    assert not {movie["movielensId"] for movie in mine} & {movie["movielensId"] for movie in anonymous[:5]}
    assert all(movie["myRating"] is None for movie in mine)
    genres = {genre["name"] for movie in mine for genre in movie["genres"]}
    assert len(genres) >= 6, genres
    assert len({movie["year"] // 10 for movie in mine}) >= 4  # decades
    assert min(movie["ratingCount"] for movie in mine) >= 10  # known enough to have been seen


def test_genres_restrict_the_movies_and_unknown_ones_are_refused(gql):
    horror = gql.data(ONBOARDING, {"first": 10, "genres": ["horror", "Sci-Fi"]})["onboarding"]
    assert len(horror) == 10
    assert all({"Horror", "Sci-Fi"} & {genre["name"] for genre in movie["genres"]} for movie in horror)
    refused = gql.execute(ONBOARDING, {"genres": ["Nope"]})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert gql.execute(ONBOARDING, {"first": 101})["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert gql.data(ONBOARDING, {"first": 0})["onboarding"] == []
