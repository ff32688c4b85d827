"""Recommendations, trending, similar movies and the recommender's staff API through HTTP requests to
/graphql, on a recommender trained on the real ml-latest-small."""

# ruff: noqa: F811 - test parameters name the fixtures imported from tests.recommender.support

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import from_global_id, to_global_id
from prometheus_client import REGISTRY

from catalog.models import Movie
from nexus.caches import limits_cache
from recommender import tasks
from recommender.models import ModelRun
from recommender.refresh import user_recommendations_refresh
from tests.recommender.support import (  # noqa: F401 - fixtures, requested by name
    eager_tasks,
    empty_store,
    newcomer,
    token_for,
    trained,
    trained_session,
    unreachable_store,
)
from users import services
from users.cache import user_data_version_key
from users.models import Rating, User

pytestmark = pytest.mark.usefixtures("movielens")

RECOMMENDATIONS = """query($first: Int, $genre: String) {
  recommendations(first: $first, genre: $genre) { movie { id title genres { name } } score source reason }
}"""
SIMILAR = "query($first: Int) { movie(movielensId: 1) { title similar(first: $first) { title year } } }"
TRENDING = "query($first: Int, $genre: String) { trending(first: $first, genre: $genre) { title genres { name } } }"
RATE = "mutation($movie: ID!, $score: Float!) { rateMovie(movieId: $movie, score: $score) { errors { code } } }"
HIDE = "mutation($movie: ID!) { hideMovie(movieId: $movie) { errors { code } } }"
STATUS = "{ recommenderStatus { currentVersion runs { version status triggeredBy algorithm nUsers timings } } }"
RETRAIN = "mutation { retrainRecommender { run { status triggeredBy } errors { code } } }"
# Five much-rated animated films: whoever rates them highly has an unmistakable taste.
ANIMATED = (1, 4886, 6377, 8961, 4306)  # Toy Story, Monsters Inc., Finding Nemo, The Incredibles, Shrek


def movielens_user(movielens_id: int = 1) -> User:
    return User.objects.get(movielens_id=movielens_id)


def movie_ids(recommendations: list[dict]) -> list[int]:
    return [int(from_global_id(item["movie"]["id"])[1]) for item in recommendations]


def rated_titles(user: User) -> set[str]:
    return set(Rating.objects.filter(user=user).values_list("movie__title", flat=True))


def names_only(reason: str, titles: set[str]) -> bool:
    """Whether the reason names movies, and only these: "Because you rated Alien 5★", "Popular with people who
    liked Alien and Aliens"."""
    found = re.fullmatch(r"Because you rated (.+) (\d(?:\.5)?)★", reason)
    if found:
        return found.group(1) in titles
    pairs = {f"Popular with people who liked {first} and {second}" for first in titles for second in titles}
    return reason in pairs


def animated(recommendations: list[dict]) -> int:
    return sum("Animation" in {genre["name"] for genre in item["movie"]["genres"]} for item in recommendations)


def cache_lookups(outcome: str) -> float:
    return REGISTRY.get_sample_value("nexus_recommendation_cache_lookups_total", {"outcome": outcome}) or 0.0


def rate_animated_films(gql, token: str) -> list[Movie]:
    movies = [Movie.objects.get(movielens_id=movielens_id) for movielens_id in ANIMATED]
    for movie in movies:
        gql.data(RATE, {"movie": to_global_id("Movie", movie.pk), "score": 5.0}, token=token)
    return movies


# --- Personal lists -----------------------------------------------------------------------------------------


def test_a_movielens_user_gets_twenty_unrated_movies_each_because_of_one_they_rated(trained, gql):
    user = movielens_user()
    hits_before = cache_lookups("hit")

    recommendations = gql.data(RECOMMENDATIONS, token=token_for(user))["recommendations"]

    assert len(recommendations) == 20
    assert not set(movie_ids(recommendations)) & set(
        Rating.objects.filter(user=user).values_list("movie_id", flat=True)
    )
    assert {item["source"] for item in recommendations} <= {"COLLABORATIVE", "CONTENT"}
    assert all(names_only(item["reason"], rated_titles(user)) for item in recommendations)
    assert cache_lookups("hit") == hits_before + 1


def test_the_genre_argument_keeps_to_that_genre_and_rejects_unknown_genres(trained, gql):
    token = token_for(movielens_user())

    comedies = gql.data(RECOMMENDATIONS, {"first": 30, "genre": "comedy"}, token=token)["recommendations"]
    unknown = gql.execute(RECOMMENDATIONS, {"genre": "Cartoons"}, token=token)

    assert len(comedies) == 30
    assert all("Comedy" in {genre["name"] for genre in item["movie"]["genres"]} for item in comedies)
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Cartoons" in unknown["errors"][0]["message"]


@pytest.mark.parametrize(("first", "expected"), [(0, 0), (100, 100)])
def test_first_may_be_zero_to_a_hundred(trained, gql, first, expected):
    recommendations = gql.data(RECOMMENDATIONS, {"first": first}, token=token_for(movielens_user()))
    assert len(recommendations["recommendations"]) == expected


def test_more_than_a_hundred_is_refused(trained, gql):
    answer = gql.execute(RECOMMENDATIONS, {"first": 101}, token=token_for(movielens_user()))
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_newcomer_who_rates_five_films_gets_recommendations_built_on_them(
    trained, gql, newcomer, eager_tasks, django_capture_on_commit_callbacks
):
    token = token_for(newcomer)
    before = gql.data(RECOMMENDATIONS, token=token)["recommendations"]

    with django_capture_on_commit_callbacks(execute=True):
        rated = rate_animated_films(gql, token)
    after = gql.data(RECOMMENDATIONS, token=token)["recommendations"]

    assert {item["source"] for item in before} == {"POPULAR"}
    assert len(after) == 20
    assert not set(movie_ids(after)) & {movie.pk for movie in rated}
    assert all(names_only(item["reason"], {movie.title for movie in rated}) for item in after)
    # Their taste shows: far more animated films than among the popular films they were shown before.
    assert animated(after) >= max(6, 2 * animated(before)), [item["movie"]["title"] for item in after]


def test_a_refreshed_list_is_served_at_once_not_the_users_cached_answer(
    trained, gql, newcomer, django_capture_on_commit_callbacks
):
    token = token_for(newcomer)
    before = gql.data(RECOMMENDATIONS, token=token)["recommendations"]  # their answer is cached now
    with django_capture_on_commit_callbacks(execute=False):  # saved, but no refresh queued and nothing bumped
        for movielens_id in ANIMATED:
            services.rating_upsert(user=newcomer, movie=Movie.objects.get(movielens_id=movielens_id), score=5)
    with django_capture_on_commit_callbacks(execute=True):
        user_recommendations_refresh(user_id=newcomer.pk)  # what the worker runs
    after = gql.data(RECOMMENDATIONS, token=token)["recommendations"]

    assert {item["source"] for item in before} == {"POPULAR"}
    assert {item["source"] for item in after} != {"POPULAR"}
    assert animated(after) > animated(before)


def test_a_refresh_invalidates_the_users_recommendations_and_none_of_their_other_answers(
    trained, client, newcomer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # saved, but no refresh queued
        for movielens_id in ANIMATED:
            services.rating_upsert(user=newcomer, movie=Movie.objects.get(movielens_id=movielens_id), score=5)
    toy_story = to_global_id("Movie", Movie.objects.get(movielens_id=1).pk)
    my_movie = {"query": "query($id: ID!) { movie(id: $id) { title myRating } }", "variables": {"id": toy_story}}
    recommendations = {"query": RECOMMENDATIONS}
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(newcomer)}"}

    def post(body):
        return client.post("/graphql", data=body, content_type="application/json", **headers)

    before = [post(body) for body in (my_movie, recommendations)]  # both cached now
    assert [post(body)["X-Cache"] for body in (my_movie, recommendations)] == ["HIT", "HIT"]
    with django_capture_on_commit_callbacks(execute=True):
        user_recommendations_refresh(user_id=newcomer.pk)  # what the worker runs
    movie_after, recommendations_after = (post(body) for body in (my_movie, recommendations))

    assert movie_after["X-Cache"] == "HIT"
    assert movie_after.json()["data"] == before[0].json()["data"]
    assert recommendations_after["X-Cache"] == "MISS"  # the new list, not the answer that showed the old one
    sources = [
        {item["source"] for item in answer.json()["data"]["recommendations"]}
        for answer in (before[1], recommendations_after)
    ]
    personal = {"COLLABORATIVE", "CONTENT"}  # from a stored list: the fallback's are POPULAR and SIMILAR
    assert not sources[0] & personal and sources[1] & personal


def test_a_burst_of_ratings_queues_one_refresh(trained, newcomer, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    # The library queues it by name (users.events), which reaches the registered task's apply_async.
    monkeypatch.setattr(
        tasks.refresh_user, "apply_async", lambda args=(), kwargs=None, **options: queued.append(kwargs)
    )
    movies = [Movie.objects.get(movielens_id=movielens_id) for movielens_id in ANIMATED]

    with django_capture_on_commit_callbacks(execute=True):
        for movie in movies[:4]:
            services.rating_upsert(user=newcomer, movie=movie, score=4)
    user_recommendations_refresh(user_id=newcomer.pk)  # the queued refresh starts
    with django_capture_on_commit_callbacks(execute=True):
        services.rating_upsert(user=newcomer, movie=movies[4], score=4)

    assert queued == [{"user_id": newcomer.pk}] * 2


def test_a_hidden_movie_never_comes_back(trained, gql, newcomer, eager_tasks, django_capture_on_commit_callbacks):
    token = token_for(newcomer)
    with django_capture_on_commit_callbacks(execute=True):
        rate_animated_films(gql, token)
    first, second = movie_ids(gql.data(RECOMMENDATIONS, token=token)["recommendations"])[:2]

    # Hidden while the stored list still holds it (its refresh has not run yet) ...
    with django_capture_on_commit_callbacks(execute=False):
        gql.data(HIDE, {"movie": to_global_id("Movie", first)}, token=token)
    before_refresh = movie_ids(gql.data(RECOMMENDATIONS, {"first": 100}, token=token)["recommendations"])
    # ... and after the list was recomputed.
    with django_capture_on_commit_callbacks(execute=True):
        gql.data(HIDE, {"movie": to_global_id("Movie", second)}, token=token)
    after_refresh = movie_ids(gql.data(RECOMMENDATIONS, {"first": 100}, token=token)["recommendations"])

    assert first not in before_refresh
    assert first not in after_refresh and second not in after_refresh
    assert len(after_refresh) == 100


def test_without_a_list_of_their_own_recent_high_ratings_lead_to_similar_movies(
    trained, gql, newcomer, django_capture_on_commit_callbacks
):
    token = token_for(newcomer)
    with django_capture_on_commit_callbacks(execute=False):  # no refresh: the newcomer has no list yet
        rated = rate_animated_films(gql, token)
    misses_before = cache_lookups("miss")

    recommendations = gql.data(RECOMMENDATIONS, token=token)["recommendations"]

    assert cache_lookups("miss") == misses_before + 1
    assert {item["source"] for item in recommendations} == {"SIMILAR"}
    assert all(names_only(item["reason"], {movie.title for movie in rated}) for item in recommendations)
    assert "Toy Story 2" in {item["movie"]["title"] for item in recommendations}


def test_an_anonymous_visitor_gets_trending_movies(trained, gql):
    recommendations = gql.data(RECOMMENDATIONS, {"first": 10})["recommendations"]
    trending = gql.data(TRENDING, {"first": 10})["trending"]

    assert [item["movie"]["title"] for item in recommendations] == [movie["title"] for movie in trending]
    assert {item["source"] for item in recommendations} == {"TRENDING"}
    # Each names a genre of its own in which it trends.
    for item in recommendations:
        found = re.fullmatch(r"Trending in (.+?)( this week)?", item["reason"])
        assert found and found.group(1) in {genre["name"] for genre in item["movie"]["genres"]}, item


def test_trending_within_a_genre(trained, gql):
    horror = gql.data(TRENDING, {"first": 15, "genre": "Horror"})["trending"]

    assert len(horror) == 15
    assert all("Horror" in {genre["name"] for genre in movie["genres"]} for movie in horror)


def test_toy_storys_similar_movies_include_toy_story_2(trained, gql):
    movie = gql.data(SIMILAR, {"first": 10})["movie"]

    assert movie["title"] == "Toy Story"
    assert len(movie["similar"]) == 10
    assert "Toy Story 2" in [similar["title"] for similar in movie["similar"]]
    assert "Toy Story" not in [similar["title"] for similar in movie["similar"]]


def test_query_counts_do_not_grow_with_the_list(trained, gql):
    token = token_for(movielens_user())

    def queries(query: str, variables: dict) -> int:
        gql.data(query, variables, token=token)  # warms per-process caches (content types, genres)
        with CaptureQueriesContext(connection) as captured:
            gql.data(query, variables, token=token)
        return len(captured)

    assert queries(RECOMMENDATIONS, {"first": 5}) == queries(RECOMMENDATIONS, {"first": 50})
    assert queries(SIMILAR, {"first": 5}) == queries(SIMILAR, {"first": 50})


# --- When the store cannot serve ----------------------------------------------------------------------------


def assert_popular_fallback(gql, token: str | None, user: User | None) -> None:
    recommendations = gql.data(RECOMMENDATIONS, token=token)["recommendations"]
    popular = list(Movie.objects.order_by("-popularity", "id").values_list("pk", flat=True)[:200])
    seen = set(Rating.objects.filter(user=user).values_list("movie_id", flat=True)) if user else set()
    assert movie_ids(recommendations) == [pk for pk in popular if pk not in seen][:20]
    assert {item["source"] for item in recommendations} == {"POPULAR"}


def test_an_unreachable_store_falls_back_to_popular_movies(gql, unreachable_store):
    user = movielens_user()
    fallbacks_before = cache_lookups("fallback")

    assert_popular_fallback(gql, token_for(user), user)
    assert_popular_fallback(gql, None, None)
    assert cache_lookups("fallback") == fallbacks_before + 1
    assert len(gql.data(TRENDING, {"first": 5})["trending"]) == 5
    similar = gql.data(SIMILAR, {"first": 5})["movie"]["similar"]
    assert len(similar) == 5 and "Toy Story" not in {movie["title"] for movie in similar}


def test_an_untrained_store_falls_back_to_popular_movies(gql, empty_store):
    assert_popular_fallback(gql, token_for(movielens_user()), movielens_user())


def test_favorite_genres_lead_the_fallback(gql, empty_store):
    user = User.objects.create(username="documentary-fan")
    user.favorite_genres.set([Movie.objects.get(movielens_id=1).genres.get(name="Animation")])

    recommendations = gql.data(RECOMMENDATIONS, {"first": 5}, token=token_for(user))["recommendations"]

    assert {item["reason"] for item in recommendations} == {"Popular in Animation, a genre you like"}


# --- Staff --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [STATUS, RETRAIN])
def test_the_recommender_is_for_staff_only(trained, gql, query):
    runs_before = ModelRun.objects.count()

    anonymous = gql.execute(query)
    member = gql.execute(query, token=token_for(movielens_user()))

    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert member["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert ModelRun.objects.count() == runs_before


def test_staff_retrain_and_follow_the_run(gql, empty_store, eager_tasks, django_capture_on_commit_callbacks):
    staff = User.objects.create(username="operator", is_staff=True)
    token = token_for(staff)

    with django_capture_on_commit_callbacks(execute=True):
        queued = gql.data(RETRAIN, token=token)["retrainRecommender"]
    status = gql.data(STATUS, token=token)["recommenderStatus"]

    assert queued == {"run": {"status": "QUEUED", "triggeredBy": "STAFF"}, "errors": []}
    latest = status["runs"][0]
    assert latest["version"] == status["currentVersion"]
    assert (latest["status"], latest["triggeredBy"], latest["algorithm"]) == ("SUCCEEDED", "STAFF", "dlae")
    assert latest["nUsers"] == 610
    assert latest["timings"]["total"] > 0


def test_a_batch_asking_again_after_hiding_a_movie_no_longer_gets_it(trained, client):
    token = token_for(movielens_user())
    hidden = "mutation($movie: ID!) { hideMovie(movieId: $movie) { errors { code } } }"
    first = client.post(
        "/graphql",
        [{"query": RECOMMENDATIONS, "variables": {"first": 5}}],
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()[0]["data"]["recommendations"][0]["movie"]["id"]

    # Each operation with variables of its own: none is answered from the response cache, all run.
    answers = client.post(
        "/graphql",
        [
            {"query": RECOMMENDATIONS, "variables": {"first": 19}},
            {"query": hidden, "variables": {"movie": first}},
            {"query": RECOMMENDATIONS, "variables": {"first": 20}},
        ],
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()

    assert answers[1]["data"]["hideMovie"]["errors"] == []
    before, after = (answers[index]["data"]["recommendations"] for index in (0, 2))
    assert first in movie_ids_of(before) and first not in movie_ids_of(after)


def movie_ids_of(recommendations: list[dict]) -> list[str]:
    return [item["movie"]["id"] for item in recommendations]


def test_another_document_with_the_same_arguments_reuses_the_viewers_list_and_no_one_elses(trained, gql):
    ada, bob = movielens_user(1), movielens_user(2)
    for person in (ada, bob):  # even with their data versions alike, each keeps to their own
        limits_cache.set(user_data_version_key(person.pk), 7, timeout=None)
    mine = gql.data(RECOMMENDATIONS, {"first": 10}, token=token_for(ada))["recommendations"]
    other_shape = "query($first: Int) { recommendations(first: $first) { movie { id } reason } }"

    with CaptureQueriesContext(connection) as queries:  # a response-cache miss: another document
        again = gql.data(other_shape, {"first": 10}, token=token_for(ada))["recommendations"]
    bobs = gql.data(other_shape, {"first": 10}, token=token_for(bob))["recommendations"]

    assert [(item["movie"], item["reason"]) for item in again] == [
        ({"id": item["movie"]["id"]}, item["reason"]) for item in mine
    ]
    assert queries.captured_queries == []  # her account, library and list: this process' copies of this version
    assert all(names_only(item["reason"], rated_titles(bob)) for item in bobs)  # Bob's own, not Ada's copy
    assert not set(movie_ids(bobs)) & set(Rating.objects.filter(user=bob).values_list("movie_id", flat=True))
