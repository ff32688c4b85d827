"""Recommender v2 through GraphQL: scores in [0, 1] that never increase down a list, on every source path;
the watchlist left out by default (at once after adding to it); strategies, per request and saved in the
profile; reasons from data."""

# ruff: noqa: F811 - test parameters name the fixtures imported from tests.recommender.support
import re

import numpy as np
import pytest
from graphql_relay import from_global_id

from catalog.models import Movie
from tests.recommender.support import (  # noqa: F401 - fixtures, requested by name
    empty_store,
    newcomer,
    token_for,
    trained,
    trained_session,
    unreachable_store,
)
from users import services
from users.models import Rating, User

pytestmark = pytest.mark.usefixtures("movielens")

RECOMMENDATIONS = """query($first: Int, $genre: String, $strategy: RecommendationStrategy, $all: Boolean) {
  recommendations(first: $first, genre: $genre, strategy: $strategy, includeWatchlist: $all) {
    movie { id title popularity genres { name } } score source reason
  }
}"""
ADD_TO_WATCHLIST = "mutation($movie: ID!) { addToWatchlist(movieId: $movie) { errors { code } } }"
SAVE_STRATEGY = """mutation($strategy: RecommendationStrategy!) {
  updateProfile(recommendationStrategy: $strategy) { user { recommendationStrategy } errors { code field } }
}"""
ME = "{ me { recommendationStrategy } }"


def movielens_user(movielens_id: int = 1) -> User:
    return User.objects.get(movielens_id=movielens_id)


def ids(recommendations: list[dict]) -> list[str]:
    return [item["movie"]["id"] for item in recommendations]


def recommendations(gql, token: str | None, **variables) -> list[dict]:
    return gql.data(RECOMMENDATIONS, variables, token=token)["recommendations"]


def assert_scores_calibrated(listed: list[dict]) -> None:
    scores = [item["score"] for item in listed]
    assert scores, "an empty list proves nothing"
    assert all(0.0 <= score <= 1.0 for score in scores), scores
    assert scores == sorted(scores, reverse=True), scores


# --- Scores -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["BALANCED", "FAMILIAR", "DISCOVERY"])
def test_personal_scores_are_in_0_1_and_never_increase(trained, gql, strategy):
    listed = recommendations(gql, token_for(movielens_user()), first=100, strategy=strategy)

    assert len(listed) == 100
    assert_scores_calibrated(listed)
    assert {item["source"] for item in listed} <= {"COLLABORATIVE", "CONTENT", "POPULAR"}


def test_a_genre_topped_up_with_popular_movies_keeps_scores_in_order(trained, gql):
    # Few of user 1's candidates are documentaries: the list is mostly popular documentaries after them.
    listed = recommendations(gql, token_for(movielens_user()), first=40, genre="Documentary")

    assert "POPULAR" in {item["source"] for item in listed}
    assert_scores_calibrated(listed)


def test_anonymous_trending_scores(trained, gql):
    listed = recommendations(gql, None, first=50)

    assert {item["source"] for item in listed} == {"TRENDING"}
    assert_scores_calibrated(listed)


def test_similar_then_popular_fallback_scores(trained, gql, newcomer, django_capture_on_commit_callbacks):
    # Rated, but no list yet (no refresh ran): movies like their high ratings, then popular ones.
    with django_capture_on_commit_callbacks(execute=False):
        for movielens_id in (1, 4886):
            services.rating_upsert(user=newcomer, movie=Movie.objects.get(movielens_id=movielens_id), score=5)
    listed = recommendations(gql, token_for(newcomer), first=100)

    assert listed[0]["source"] == "SIMILAR"
    assert_scores_calibrated(listed)


def test_store_down_and_untrained_fallbacks_score_in_0_1(gql, unreachable_store):
    user = movielens_user()
    user.favorite_genres.set([Movie.objects.get(movielens_id=1).genres.get(name="Animation")])

    for token in (token_for(user), None):
        listed = recommendations(gql, token, first=30)
        assert {item["source"] for item in listed} == {"POPULAR"}
        assert_scores_calibrated(listed)


def test_scores_compare_across_sources(trained, gql, newcomer):
    personal = recommendations(gql, token_for(movielens_user()), first=1)[0]
    popular = recommendations(gql, token_for(newcomer), first=1)[0]  # nothing to go on: popular movies
    trending = recommendations(gql, None, first=1)[0]

    assert popular["source"] == "POPULAR" and trending["source"] == "TRENDING"
    # A personal pick is likelier to be watched than the most popular movie, which beats the most talked-about.
    assert personal["score"] > popular["score"] > trending["score"] > 0


# --- Watchlist ----------------------------------------------------------------------------------------------


def test_a_movie_added_to_the_watchlist_leaves_the_list_at_once(trained, gql):
    user, other = movielens_user(), movielens_user(5)
    token = token_for(user)
    before = recommendations(gql, token)  # cached now, under the user's data version
    planned = before[0]["movie"]["id"]
    # Someone else who would be recommended the same movie (their whole candidate list is served with
    # includeWatchlist, so that it does not depend on their own watchlist).
    others_before = recommendations(gql, token_for(other), first=100, all=True)

    assert not gql.data(ADD_TO_WATCHLIST, {"movie": planned}, token=token)["addToWatchlist"]["errors"]
    after = recommendations(gql, token)
    with_watchlist = recommendations(gql, token, all=True)
    others_after = recommendations(gql, token_for(other), first=100, all=True)

    assert planned in ids(before) and planned not in ids(after)
    assert ids(after)[:19] == [movie for movie in ids(before) if movie != planned]
    assert ids(with_watchlist) == ids(before)
    # Another person's list does not depend on this watchlist; anonymous visitors may pass the argument.
    assert ids(others_after) == ids(others_before)
    assert len(recommendations(gql, None, all=False)) == 20


# --- Strategies ---------------------------------------------------------------------------------------------


def test_each_strategy_answers_and_differs(trained, gql):
    token = token_for(movielens_user())
    lists = {
        strategy: recommendations(gql, token, first=20, strategy=strategy)
        for strategy in ("BALANCED", "FAMILIAR", "DISCOVERY")
    }
    default = recommendations(gql, token, first=20)

    assert ids(default) == ids(lists["BALANCED"])
    assert len({tuple(ids(listed)) for listed in lists.values()}) == 3
    popularity = {
        strategy: np.mean([item["movie"]["popularity"] for item in listed]) for strategy, listed in lists.items()
    }
    assert popularity["FAMILIAR"] > popularity["BALANCED"] > popularity["DISCOVERY"], popularity
    rated = set(Rating.objects.filter(user=movielens_user()).values_list("movie_id", flat=True))
    for listed in lists.values():
        assert len(listed) == 20
        assert not {int(from_global_id(movie)[1]) for movie in ids(listed)} & rated


def test_a_saved_strategy_orders_the_list_until_a_request_says_otherwise(trained, gql):
    user = movielens_user(2)
    token = token_for(user)
    balanced = recommendations(gql, token)  # cached under the user's version

    saved = gql.data(SAVE_STRATEGY, {"strategy": "DISCOVERY"}, token=token)["updateProfile"]

    assert saved == {"user": {"recommendationStrategy": "DISCOVERY"}, "errors": []}
    assert gql.data(ME, token=token)["me"]["recommendationStrategy"] == "DISCOVERY"
    assert ids(recommendations(gql, token)) == ids(recommendations(gql, token, strategy="DISCOVERY"))
    assert ids(recommendations(gql, token, strategy="BALANCED")) == ids(balanced)
    assert ids(recommendations(gql, token)) != ids(balanced)
    # Other people keep theirs.
    assert gql.data(ME, token=token_for(movielens_user(3)))["me"]["recommendationStrategy"] == "BALANCED"


def test_strategy_arguments_are_checked(trained, gql):
    token = token_for(movielens_user())
    unknown = gql.execute(RECOMMENDATIONS, {"strategy": "RANDOM"}, token=token)
    anonymous = gql.execute(SAVE_STRATEGY, {"strategy": "FAMILIAR"})

    assert unknown["errors"] and "RANDOM" in unknown["errors"][0]["message"]
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert movielens_user().recommendation_strategy == "balanced"


# --- Reasons ------------------------------------------------------------------------------------------------


def test_reasons_come_from_the_users_data(trained, gql):
    user = movielens_user()
    liked = set(Rating.objects.filter(user=user, score__gte=4).values_list("movie__title", flat=True))
    listed = recommendations(gql, token_for(user), first=100)
    pairs = [re.fullmatch(r"Popular with people who liked (.+) and (.+)", item["reason"]) for item in listed]
    pairs = [found for found in pairs if found]

    assert pairs, [item["reason"] for item in listed]
    # The split at " and " is ambiguous for titles holding " and ": either reading must name two liked movies.
    for found in pairs:
        text = found.group(0).removeprefix("Popular with people who liked ")
        assert any(text == f"{first} and {second}" for first in liked for second in liked if first != second), (
            found.group(0)
        )


def test_a_batch_adding_to_the_watchlist_no_longer_gets_that_movie(trained, client):
    token = token_for(movielens_user(4))
    headers = {"content_type": "application/json", "HTTP_AUTHORIZATION": f"Bearer {token}"}
    planned = client.post("/graphql", [{"query": RECOMMENDATIONS, "variables": {"first": 5}}], **headers).json()
    planned = planned[0]["data"]["recommendations"][0]["movie"]["id"]

    answers = client.post(
        "/graphql",
        [
            {"query": RECOMMENDATIONS, "variables": {"first": 19}},
            {"query": ADD_TO_WATCHLIST, "variables": {"movie": planned}},
            {"query": RECOMMENDATIONS, "variables": {"first": 20}},
            {"query": RECOMMENDATIONS, "variables": {"first": 20, "all": True}},
        ],
        **headers,
    ).json()

    assert answers[1]["data"]["addToWatchlist"]["errors"] == []
    before, after, everything = (answers[index]["data"]["recommendations"] for index in (0, 2, 3))
    assert planned in ids(before) and planned not in ids(after) and planned in ids(everything)
