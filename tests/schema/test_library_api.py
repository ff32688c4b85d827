"""The user's library through HTTP requests to /graphql, on the real ml-latest-small catalog."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_jwt.shortcuts import get_token
from graphql_relay import to_global_id

from catalog.models import Movie
from tests.conftest import caches_clear
from tests.users.factories import (
    PASSWORD,
    assert_statistics_exact,
    movie_global_id,
    person_create,
)
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent, WatchlistItem

pytestmark = pytest.mark.usefixtures("movielens")

ERRORS = "errors { field message code }"
CARD = "id title genres { name } ratingCount ratingMean myRating isFavorite inWatchlist"
REGISTER = """mutation { register(username: "ada", email: "ada@example.com", password: "%s") { token refreshToken } }"""
RATE = f"""mutation($movie: ID!, $score: Float!) {{
  rateMovie(movieId: $movie, score: $score) {{ rating {{ score createdAt updatedAt movie {{ {CARD} }} }} {ERRORS} }}
}}"""
DELETE_RATING = f"mutation($movie: ID!) {{ deleteRating(movieId: $movie) {{ movie {{ {CARD} }} {ERRORS} }} }}"
MARK_WATCHED = f"""mutation($movie: ID!, $at: DateTime) {{
  markWatched(movieId: $movie, watchedAt: $at) {{ event {{ watchedAt movie {{ title }} }} {ERRORS} }}
}}"""
LIST_MUTATIONS = ("addFavorite", "removeFavorite", "addToWatchlist", "removeFromWatchlist", "hideMovie")
ME_LIBRARY = """{ me {
  ratings { totalCount edges { node { score movie { title myRating } } } }
  favorites { totalCount edges { addedAt node { title isFavorite } } }
  watchlist { totalCount edges { addedAt node { title inWatchlist } } }
  history { totalCount edges { node { watchedAt movie { title } } } }
} }"""
REFRESH = "mutation($token: String) { refreshToken(refreshToken: $token) { token refreshToken } }"
REVOKE = "mutation($token: String) { revokeToken(refreshToken: $token) { revoked } }"


def list_mutation(name: str) -> str:
    return f"mutation($movie: ID!) {{ {name}(movieId: $movie) {{ movie {{ {CARD} }} {ERRORS} }} }}"


def movie(movielens_id: int) -> Movie:
    return Movie.objects.get(movielens_id=movielens_id)


@pytest.fixture
def tokens(gql):
    registered = gql.data(REGISTER % PASSWORD)["register"]
    gql.token = registered["token"]
    return registered


def titles(connection_data: dict) -> list[str]:
    return [
        edge["node"]["title"] if "title" in edge["node"] else edge["node"]["movie"]["title"]
        for edge in connection_data["edges"]
    ]


def test_the_whole_flow(gql, tokens):
    toy_story, jumanji, heat = movie(1), movie(2), movie(6)
    ratings_before = toy_story.rating_count

    first = gql.data(RATE, {"movie": movie_global_id(toy_story), "score": 4.5})["rateMovie"]
    assert first["errors"] == []
    assert first["rating"]["score"] == 4.5
    assert first["rating"]["movie"]["ratingCount"] == ratings_before + 1
    assert first["rating"]["movie"]["myRating"] == 4.5
    second = gql.data(RATE, {"movie": movie_global_id(toy_story), "score": 3.0})["rateMovie"]
    assert second["rating"]["score"] == 3.0
    assert second["rating"]["movie"]["ratingCount"] == ratings_before + 1  # still one rating of ours
    assert second["rating"]["createdAt"] == first["rating"]["createdAt"]
    assert second["rating"]["updatedAt"] > first["rating"]["updatedAt"]
    assert Rating.objects.filter(user__username="ada").count() == 1
    assert_statistics_exact(toy_story)
    assert second["rating"]["movie"]["ratingMean"] == pytest.approx(toy_story.rating_mean)

    for name, target in (("addFavorite", toy_story), ("addFavorite", heat), ("addFavorite", heat)):
        added = gql.data(list_mutation(name), {"movie": movie_global_id(target)})[name]
        assert added["errors"] == [] and added["movie"]["isFavorite"] is True
    added = gql.data(list_mutation("addToWatchlist"), {"movie": movie_global_id(jumanji)})["addToWatchlist"]
    assert added["movie"]["inWatchlist"] is True and added["movie"]["isFavorite"] is False
    last_week = (timezone.now() - timedelta(days=7)).isoformat()
    watched = gql.data(MARK_WATCHED, {"movie": movie_global_id(heat), "at": last_week})["markWatched"]
    assert watched["errors"] == [] and watched["event"]["movie"]["title"] == "Heat"
    assert watched["event"]["watchedAt"] == last_week
    gql.data(MARK_WATCHED, {"movie": movie_global_id(toy_story)})
    gql.data(MARK_WATCHED, {"movie": movie_global_id(heat)})  # watching again adds a viewing

    library = gql.data(ME_LIBRARY)["me"]
    assert library["ratings"]["totalCount"] == 1
    assert library["ratings"]["edges"][0]["node"] == {"score": 3.0, "movie": {"title": "Toy Story", "myRating": 3.0}}
    assert library["favorites"]["totalCount"] == 2
    assert titles(library["favorites"]) == ["Heat", "Toy Story"]  # newest first
    added_at = [edge["addedAt"] for edge in library["favorites"]["edges"]]
    assert added_at == sorted(added_at, reverse=True)
    assert titles(library["watchlist"]) == ["Jumanji"]
    assert library["history"]["totalCount"] == 3
    assert titles(library["history"]) == ["Heat", "Toy Story", "Heat"]

    hidden = gql.data(list_mutation("hideMovie"), {"movie": movie_global_id(jumanji)})["hideMovie"]
    assert hidden["errors"] == []
    assert HiddenMovie.objects.filter(user__username="ada", movie=jumanji).count() == 1
    for name, target in (
        ("removeFavorite", toy_story),
        ("removeFavorite", toy_story),
        ("removeFromWatchlist", jumanji),
    ):
        assert gql.data(list_mutation(name), {"movie": movie_global_id(target)})[name]["errors"] == []
    deleted = gql.data(DELETE_RATING, {"movie": movie_global_id(toy_story)})["deleteRating"]
    assert deleted["movie"]["ratingCount"] == ratings_before and deleted["movie"]["myRating"] is None
    library = gql.data(ME_LIBRARY)["me"]
    assert (library["ratings"]["totalCount"], titles(library["favorites"]), library["watchlist"]["totalCount"]) == (
        0,
        ["Heat"],
        0,
    )

    rotated = gql.data(REFRESH, {"token": tokens["refreshToken"]})["refreshToken"]
    assert gql.data(REVOKE, {"token": rotated["refreshToken"]})["revokeToken"]["revoked"]
    refused = gql.execute(REFRESH, {"token": rotated["refreshToken"]})
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize(
    ("score", "code"),
    [(6, "OUT_OF_RANGE"), (0, "OUT_OF_RANGE"), (-1, "OUT_OF_RANGE"), (5.01, "OUT_OF_RANGE")]
    + [(4.25, "STEP_MISMATCH"), (3.3, "STEP_MISMATCH"), (0.6, "STEP_MISMATCH")],
)
def test_invalid_scores_come_back_in_errors(gql, tokens, score, code):
    body = gql.data(RATE, {"movie": movie_global_id(movie(1)), "score": score})["rateMovie"]
    assert body["rating"] is None
    assert [(error["field"], error["code"]) for error in body["errors"]] == [("score", code)]
    assert ("0.5 to 5.0" if code == "OUT_OF_RANGE" else "is not a half step") in body["errors"][0]["message"]
    assert not Rating.objects.filter(user__username="ada").exists()


@pytest.mark.parametrize(
    ("movie_id", "code"),
    [
        (to_global_id("Movie", 999_999_999), "NOT_FOUND"),
        (to_global_id("Genre", 1), "BAD_USER_INPUT"),  # the code a malformed id gets in a query too
        ("not-an-id", "BAD_USER_INPUT"),
        (to_global_id("Movie", "x"), "BAD_USER_INPUT"),
    ],
    ids=["unknown", "another-type", "garbage", "not-a-number"],
)
@pytest.mark.parametrize(
    "mutation",
    [RATE, DELETE_RATING, MARK_WATCHED, *(list_mutation(name) for name in LIST_MUTATIONS)],
    ids=["rateMovie", "deleteRating", "markWatched", *LIST_MUTATIONS],
)
def test_unknown_and_malformed_movie_ids_come_back_in_errors(gql, tokens, mutation, movie_id, code):
    payload = next(iter(gql.data(mutation, {"movie": movie_id, "score": 4.0}).values()))
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [("movieId", code)]


def test_watched_at_cannot_be_in_the_future(gql, tokens):
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    payload = gql.data(MARK_WATCHED, {"movie": movie_global_id(movie(1)), "at": tomorrow})["markWatched"]
    assert payload["event"] is None
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [("watchedAt", "OUT_OF_RANGE")]


@pytest.mark.parametrize(
    "at",
    [
        "0001-01-01T00:00:00+14:00",  # once stored as 1 BC, after which every read of the history failed
        "0001-01-01T00:00:00Z",
        "1869-12-31T23:59:59Z",
        "1870-01-01T13:59:59+14:00",
        "9999-12-31T23:59:59-14:00",
    ],
)
def test_viewings_before_1870_or_in_the_future_are_refused_and_nothing_is_written(gql, tokens, at):
    payload = gql.data(MARK_WATCHED, {"movie": movie_global_id(movie(1)), "at": at})["markWatched"]
    assert payload["event"] is None
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [("watchedAt", "OUT_OF_RANGE")]
    assert not WatchEvent.objects.filter(user__username="ada").exists()
    assert gql.data(ME_LIBRARY)["me"]["history"]["totalCount"] == 0


def test_the_first_moment_of_1870_is_a_valid_viewing(gql, tokens):
    at = "1870-01-01T14:00:00+14:00"
    payload = gql.data(MARK_WATCHED, {"movie": movie_global_id(movie(1)), "at": at})["markWatched"]
    assert payload["errors"] == []
    history = gql.data(ME_LIBRARY)["me"]["history"]
    assert [edge["node"]["watchedAt"] for edge in history["edges"]] == ["1870-01-01T00:00:00+00:00"]


@pytest.mark.parametrize(
    "value", ["9999-12-31T24:00:00", "2020-13-01T00:00:00Z", "2020-01-01T00:00:00+24:00", "yesterday", "", "\x00"]
)
def test_unreadable_watched_at_values_are_client_errors_never_500s(gql, tokens, value):
    movie_id = movie_global_id(movie(1))
    as_variable = gql.execute(MARK_WATCHED, {"movie": movie_id, "at": value})
    as_literal = gql.execute(
        f'mutation {{ markWatched(movieId: "{movie_id}", watchedAt: {json.dumps(value)}) {{ {ERRORS} }} }}'
    )
    for body in (as_variable, as_literal):
        assert body["errors"] and not body.get("data"), body
        assert "DateTime cannot represent" in body["errors"][0]["message"]
        assert all(error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR" for error in body["errors"])
    assert not WatchEvent.objects.filter(user__username="ada").exists()


def test_movies_show_the_callers_library_and_nothing_to_anonymous_callers(gql, tokens):
    toy_story, jumanji = movie(1), movie(2)
    gql.data(RATE, {"movie": movie_global_id(toy_story), "score": 5.0})
    gql.data(list_mutation("addFavorite"), {"movie": movie_global_id(toy_story)})
    gql.data(list_mutation("addToWatchlist"), {"movie": movie_global_id(jumanji)})
    query = f"""{{ toy: movie(movielensId: 1) {{ {CARD} }} jumanji: movie(movielensId: 2) {{ {CARD} }} }}"""
    mine = gql.data(query)
    assert (mine["toy"]["myRating"], mine["toy"]["isFavorite"], mine["toy"]["inWatchlist"]) == (5.0, True, False)
    assert (mine["jumanji"]["myRating"], mine["jumanji"]["isFavorite"], mine["jumanji"]["inWatchlist"]) == (
        None,
        False,
        True,
    )
    gql.token = None
    anonymous = gql.data(query)
    for key in ("toy", "jumanji"):
        assert (anonymous[key]["myRating"], anonymous[key]["isFavorite"], anonymous[key]["inWatchlist"]) == (
            None,
            False,
            False,
        )


def test_one_request_with_several_library_mutations_sees_each_result(gql, tokens):
    toy_story = movie_global_id(movie(1))
    data = gql.data(
        """mutation($movie: ID!) {
          added: addFavorite(movieId: $movie) { movie { isFavorite } }
          removed: removeFavorite(movieId: $movie) { movie { isFavorite } }
          rated: rateMovie(movieId: $movie, score: 2.5) { rating { movie { myRating } } }
        }""",
        {"movie": toy_story},
    )
    assert data == {
        "added": {"movie": {"isFavorite": True}},
        "removed": {"movie": {"isFavorite": False}},
        "rated": {"rating": {"movie": {"myRating": 2.5}}},
    }


# --- No query per row ---------------------------------------------------------------------------------------------


def page_query(field: str, edge: str, *, of_me: bool = True) -> str:
    selection = f"{field}(first: $first) {{ totalCount edges {{ {edge} }} }}"
    return f"query($first: Int) {{ {f'me {{ {selection} }}' if of_me else selection} }}"


CONNECTION_QUERIES = {
    "ratings": page_query("ratings", f"node {{ score updatedAt movie {{ {CARD} }} }}"),
    "favorites": page_query("favorites", f"addedAt node {{ {CARD} }}"),
    "watchlist": page_query("watchlist", f"addedAt node {{ {CARD} }}"),
    "history": page_query("history", f"node {{ watchedAt movie {{ {CARD} }} }}"),
    "movies": page_query("movies", f"node {{ {CARD} }}", of_me=False),
}


@pytest.fixture
def heavy_user():
    """MovieLens user 414 (2,698 ratings), with 60 favorites, watchlist entries and viewings added."""
    user = User.objects.get(movielens_id=414)
    movies = list(Movie.objects.order_by("id")[:60])
    now = timezone.now()
    Favorite.objects.bulk_create(Favorite(user=user, movie=movie) for movie in movies)
    WatchlistItem.objects.bulk_create(WatchlistItem(user=user, movie=movie) for movie in movies)
    WatchEvent.objects.bulk_create(
        WatchEvent(user=user, movie=movie, watched_at=now - timedelta(hours=index))
        for index, movie in enumerate(movies)
    )
    return user


@pytest.mark.parametrize("name", CONNECTION_QUERIES)
def test_pages_of_5_and_50_cost_the_same_number_of_queries(gql, heavy_user, name):
    token = get_token(heavy_user)
    counts = {}
    for first in (5, 50):
        caches_clear()  # cold: lists and cards from the database
        with CaptureQueriesContext(connection) as queries:
            data = gql.data(CONNECTION_QUERIES[name], {"first": first}, token=token)
        page = data["movies"] if name == "movies" else data["me"][name]
        assert len(page["edges"]) == first
        counts[first] = len(queries.captured_queries)
    print(f"{name}: {counts[5]} queries for 5 rows, {counts[50]} for 50")  # noqa: T201 - shown with -s
    assert counts[5] == counts[50] <= 5  # the performance issue's bound for a list request


def test_a_batch_sees_the_library_as_each_mutation_before_it_left_it(client, movielens, settings):
    """The operations of a batch share the request's loaders: a library mutation makes the viewer's state of
    movies load again for the operations after it."""
    settings.NEXUS_RESPONSE_CACHE_SECONDS = 0
    ada = person_create("ada")
    toy_story = movie_global_id(movie(1))
    ask = {"query": "query($m: Int!) { movie(movielensId: $m) { isFavorite } }", "variables": {"m": 1}}
    add = {"query": list_mutation("addFavorite"), "variables": {"movie": toy_story}}
    response = client.post(
        "/graphql",
        data=json.dumps([ask, add, ask]),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {get_token(ada)}",
    )
    answers = response.json()
    assert [answer["data"] for answer in (answers[0], answers[2])] == [
        {"movie": {"isFavorite": False}},
        {"movie": {"isFavorite": True}},
    ]
    assert answers[1]["data"]["addFavorite"]["movie"]["isFavorite"] is True
