"""Anonymous query responses served from the cache: hits run no SQL, any data or model change invalidates, and
nothing about a signed-in viewer is ever cached or served from the cache."""

import json

import numpy as np
from django.test import override_settings
from graphql_jwt.settings import jwt_settings
from graphql_jwt.shortcuts import get_token
from graphql_relay import to_global_id

from catalog.cache import catalog_version_bump
from catalog.models import Movie
from recommender import store
from tests.recommender.support import empty_store  # noqa: F401 - a fixture
from tests.schema.test_rate_limits import unreachable_default_cache
from tests.users.factories import PASSWORD, person_create

TOY_STORY = "query Toy { movie(movielensId: 1) { title ratingCount genres { name } } }"


def post(client, query: str = TOY_STORY, variables: dict | None = None, **headers):
    body = {"query": query, "variables": variables or {}}
    return client.post("/graphql", data=json.dumps(body), content_type="application/json", **headers)


def test_the_second_identical_anonymous_query_is_a_hit_that_runs_no_sql(movielens, client, django_assert_num_queries):
    miss = post(client)
    assert miss.status_code == 200
    assert miss["X-Cache"] == "MISS"
    with django_assert_num_queries(0):
        hit = post(client)
    assert hit["X-Cache"] == "HIT"
    assert hit.json()["data"] == miss.json()["data"]
    assert hit.json()["data"]["movie"]["title"] == "Toy Story"
    # A hit still costs what the query costs.
    assert hit.json()["extensions"]["cost"]["requested"] == miss.json()["extensions"]["cost"]["requested"] == 5
    assert int(hit["RateLimit-Remaining"]) == int(miss["RateLimit-Remaining"]) - 5


def test_the_same_document_written_differently_shares_the_entry(movielens, client):
    post(client)
    respaced = "# a comment\nquery Toy {\n  movie(movielensId: 1) { title, ratingCount, genres { name } }\n}"
    assert post(client, respaced)["X-Cache"] == "HIT"


def test_other_variables_are_another_entry(movielens, client):
    query = "query($id: Int) { movie(movielensId: $id) { title } }"
    assert post(client, query, {"id": 1})["X-Cache"] == "MISS"
    other = post(client, query, {"id": 2})
    assert other["X-Cache"] == "MISS"
    assert other.json()["data"]["movie"]["title"] == "Jumanji"
    assert post(client, query, {"id": 1})["X-Cache"] == "HIT"


def test_a_rating_invalidates_what_it_changes(movielens, client, django_capture_on_commit_callbacks):
    before = post(client).json()["data"]["movie"]["ratingCount"]
    user = person_create("ada", password=PASSWORD)
    movie_id = to_global_id("Movie", 1)
    rate = f'mutation {{ rateMovie(movieId: "{movie_id}", score: 4.5) {{ errors {{ code }} }} }}'
    with django_capture_on_commit_callbacks(execute=True):
        rated = post(client, rate, HTTP_AUTHORIZATION=f"Bearer {get_token(user)}")
    assert rated.json()["data"]["rateMovie"]["errors"] == []

    after = post(client)
    assert after["X-Cache"] == "MISS"
    assert after.json()["data"]["movie"]["ratingCount"] == before + 1


def test_a_catalog_version_bump_invalidates(movielens, client, django_capture_on_commit_callbacks):
    post(client)
    with django_capture_on_commit_callbacks(execute=True):
        catalog_version_bump()
    assert post(client)["X-Cache"] == "MISS"
    assert post(client)["X-Cache"] == "HIT"


def test_a_new_recommender_model_invalidates_anonymous_recommendations(movielens, client, empty_store):  # noqa: F811
    trending = "{ trending(first: 1) { title } }"
    first, second = Movie.objects.get(movielens_id=1), Movie.objects.get(movielens_id=2)
    activate_model("model-a", trending_movie=first)
    assert post(client, trending).json()["data"]["trending"] == [{"title": "Toy Story"}]
    assert post(client, trending)["X-Cache"] == "HIT"

    activate_model("model-b", trending_movie=second)
    response = post(client, trending)
    assert response["X-Cache"] == "MISS"
    assert response.json()["data"]["trending"] == [{"title": "Jumanji"}]


def activate_model(version: str, *, trending_movie: Movie) -> None:
    entries = store.empty_entries(1)
    entries[0]["movie"], entries[0]["score"], entries[0]["reason"] = trending_movie.pk, 1.0, store.Reason.TRENDING
    store.version_write(
        version=version,
        user_lists={},
        similar_movie_ids=np.array([trending_movie.pk], dtype=np.int64),
        similar=np.array([[(store.NO_MOVIE, 0.0)]], dtype=store.SIMILAR_ENTRY),
        trending={None: entries},
    )
    store.activate(version=version)


def test_signed_in_requests_are_never_served_from_or_written_to_the_cache(movielens, client):
    user = person_create("ada", password=PASSWORD)
    signed_in = {"HTTP_AUTHORIZATION": f"Bearer {get_token(user)}"}
    query = "{ movie(movielensId: 1) { title myRating } }"

    assert post(client, query, **signed_in)["X-Cache"] == "MISS"
    assert post(client, query)["X-Cache"] == "MISS"  # the signed-in answer was not stored
    assert post(client, query)["X-Cache"] == "HIT"
    assert post(client, query, **signed_in)["X-Cache"] == "MISS"  # nor is the anonymous one served to them


def test_a_token_cookie_makes_a_request_personal(movielens, client):
    post(client)
    client.cookies[jwt_settings.JWT_COOKIE_NAME] = "whatever"
    response = client.post(
        "/graphql", data=json.dumps({"query": TOY_STORY}), content_type="application/json", HTTP_X_CSRFTOKEN="x"
    )
    assert response.get("X-Cache") != "HIT"


def test_responses_with_errors_are_not_cached(movielens, client):
    query = "{ movies(first: 1000) { totalCount } }"  # refused by the resolver, with a path
    assert post(client, query).json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert post(client, query)["X-Cache"] == "MISS"


def test_mutations_are_never_cached(db, client):
    mutation = 'mutation { revokeToken(refreshToken: "nope") { revoked } }'
    post(client, mutation)
    assert post(client, mutation)["X-Cache"] == "MISS"


def test_zero_seconds_switches_the_cache_off(movielens, client, settings):
    settings.NEXUS_RESPONSE_CACHE_SECONDS = 0
    post(client)
    assert post(client)["X-Cache"] == "MISS"


def test_an_unreachable_cache_still_serves(movielens, client):
    with override_settings(CACHES=unreachable_default_cache()):
        for _ in range(2):
            response = post(client)
            assert response.status_code == 200
            assert response["X-Cache"] == "MISS"
            assert response.json()["data"]["movie"]["title"] == "Toy Story"


def test_a_batch_is_a_hit_only_when_every_operation_is(movielens, client):
    post(client)
    body = [{"query": TOY_STORY}, {"query": "{ movie(movielensId: 2) { title } }"}]
    response = client.post("/graphql", data=json.dumps(body), content_type="application/json")
    assert response["X-Cache"] == "MISS"
    assert [entry["data"]["movie"]["title"] for entry in response.json()] == ["Toy Story", "Jumanji"]
    again = client.post("/graphql", data=json.dumps(body), content_type="application/json")
    assert again["X-Cache"] == "HIT"
