"""Query responses served from the cache: hits run no SQL, any data or model change invalidates, anonymous callers
share entries, and each signed-in user has their own, made stale by anything that changes what they see."""

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
from tests.schema.test_rate_limits import unreachable_caches
from tests.users.factories import PASSWORD, person_create
from users.services import rating_upsert

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


def test_a_rating_reaches_cached_answers_within_the_staleness_bound(
    movielens, client, django_capture_on_commit_callbacks, settings
):
    settings.NEXUS_STATISTICS_STALENESS_SECONDS = 0
    before = post(client).json()["data"]["movie"]["ratingCount"]
    user = person_create("ada", password=PASSWORD)
    movie_id = to_global_id("Movie", Movie.objects.get(movielens_id=1).pk)
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


MY_TOY_STORY = "{ movie(movielensId: 1) { title myRating isFavorite } }"


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {get_token(user)}"}


def test_a_signed_in_users_repeated_query_is_their_own_hit_that_runs_no_sql(
    movielens, client, django_assert_num_queries
):
    ada = person_create("ada", password=PASSWORD)
    rating_upsert(user=ada, movie=Movie.objects.get(movielens_id=1), score=4.5)
    miss = post(client, MY_TOY_STORY, **bearer(ada))
    assert miss["X-Cache"] == "MISS"
    with django_assert_num_queries(0):
        hit = post(client, MY_TOY_STORY, **bearer(ada))
    assert hit["X-Cache"] == "HIT"
    assert (
        hit.json()["data"]
        == miss.json()["data"]
        == {"movie": {"title": "Toy Story", "myRating": 4.5, "isFavorite": False}}
    )


def test_viewers_never_share_entries(movielens, client):
    ada, bob = person_create("ada", password=PASSWORD), person_create("bob", password=PASSWORD)
    rating_upsert(user=ada, movie=Movie.objects.get(movielens_id=1), score=4.5)
    assert post(client, MY_TOY_STORY, **bearer(ada))["X-Cache"] == "MISS"
    anonymous = post(client, MY_TOY_STORY)  # not ada's answer
    assert anonymous["X-Cache"] == "MISS"
    assert anonymous.json()["data"]["movie"]["myRating"] is None
    bobs = post(client, MY_TOY_STORY, **bearer(bob))  # neither ada's nor the anonymous one
    assert bobs["X-Cache"] == "MISS"
    assert bobs.json()["data"]["movie"]["myRating"] is None
    assert post(client, MY_TOY_STORY, **bearer(ada)).json()["data"]["movie"]["myRating"] == 4.5


def test_a_users_mutation_makes_their_entries_stale_and_no_one_elses(
    movielens, client, django_capture_on_commit_callbacks
):
    ada, bob = person_create("ada", password=PASSWORD), person_create("bob", password=PASSWORD)
    post(client, MY_TOY_STORY, **bearer(ada))
    post(client, MY_TOY_STORY, **bearer(bob))
    toy_story = to_global_id("Movie", Movie.objects.get(movielens_id=1).pk)
    favorite = f'mutation {{ addFavorite(movieId: "{toy_story}") {{ errors {{ code }} }} }}'
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, favorite, **bearer(ada)).json()["data"]["addFavorite"]["errors"] == []

    after = post(client, MY_TOY_STORY, **bearer(ada))
    assert after["X-Cache"] == "MISS"
    assert after.json()["data"]["movie"]["isFavorite"] is True
    assert post(client, MY_TOY_STORY, **bearer(bob))["X-Cache"] == "HIT"  # a favorite changes no statistics


def test_a_deleted_accounts_token_is_not_served_its_cached_answers(
    movielens, client, admin_client, django_capture_on_commit_callbacks
):
    ada = person_create("ada", password=PASSWORD)
    token = bearer(ada)
    post(client, MY_TOY_STORY, **token)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = admin_client.post(
            "/admin/users/user/", {"action": "delete_selected", "_selected_action": [ada.pk], "post": "yes"}
        )
    assert deleted.status_code == 302
    refused = post(client, MY_TOY_STORY, **token)
    assert refused["X-Cache"] == "MISS"
    assert refused.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


def test_a_token_that_does_not_verify_is_never_cached(movielens, client):
    for _ in range(2):
        response = post(client, MY_TOY_STORY, HTTP_AUTHORIZATION="Bearer not-a-token")
        assert response["X-Cache"] == "MISS"
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


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
    with override_settings(CACHES=unreachable_caches()):
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
