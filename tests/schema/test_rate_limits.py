"""Rate limits counted in query cost: per user, per client address, with standard headers and RATE_LIMITED
refusals; client addresses behind trusted proxies; an unreachable cache lets requests through."""

import json

import pytest
from django.conf import settings
from django.test import override_settings
from freezegun import freeze_time
from graphql_jwt.shortcuts import get_token

from nexus.caches import LIMITS
from tests.recommender.support import DEAD_REDIS_URL
from tests.users.factories import PASSWORD, person_create

PAGE = "{ movies(first: 10) { edges { node { title } } } }"  # 1 + 10 × 3 = 31 points


def post(client, query: str = PAGE, **headers):
    return client.post("/graphql", data=json.dumps({"query": query}), content_type="application/json", **headers)


@pytest.fixture
def limits(settings):
    """Small budgets, and a clock that stays 10 s into a window: no test straddles two windows."""
    settings.NEXUS_RATE_LIMIT_ANON = 100
    settings.NEXUS_RATE_LIMIT_USER = 200
    settings.NEXUS_RATE_LIMIT_WINDOW = 60
    with freeze_time("2026-06-01 12:00:10"):
        yield settings


def test_every_response_carries_the_rate_limit_headers_and_remaining_points(movielens, client, limits):
    first = post(client)
    assert first.status_code == 200
    assert first["RateLimit-Limit"] == "100"
    assert first["RateLimit-Remaining"] == "69"
    assert first["RateLimit-Reset"] == "50"
    assert first.json()["extensions"]["cost"] == {"requested": 31, "maximum": 10_000}
    assert first.json()["extensions"]["rateLimit"] == {"limit": 100, "remaining": 69, "resetAt": "2026-06-01T12:01:00Z"}
    assert post(client)["RateLimit-Remaining"] == "38"


def test_a_request_the_budget_cannot_cover_is_refused_with_429_and_spends_nothing(movielens, client, limits):
    for remaining in ("69", "38", "7"):
        assert post(client)["RateLimit-Remaining"] == remaining
    refused = post(client)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "50"
    assert refused["RateLimit-Remaining"] == "7"
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "costs 31 points and 7 of 100 are left" in error["message"]
    assert refused.json()["extensions"]["cost"] == {"requested": 31, "maximum": 10_000}
    assert refused.json()["extensions"]["rateLimit"]["remaining"] == 7
    # What is left still pays for a cheaper request.
    cheap = post(client, "{ __typename }")
    assert cheap.status_code == 200
    assert cheap["RateLimit-Remaining"] == "6"


def test_client_addresses_have_budgets_of_their_own(movielens, client, limits):
    for _ in range(3):
        post(client, REMOTE_ADDR="198.51.100.1")
    assert post(client, REMOTE_ADDR="198.51.100.1").status_code == 429
    assert post(client, REMOTE_ADDR="198.51.100.2").status_code == 200


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(movielens, client, limits):
    # Clients connecting directly cannot pick a fresh address per request.
    for index in range(3):
        post(client, HTTP_X_FORWARDED_FOR=f"203.0.113.{index}")
    assert post(client, HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429


def test_behind_one_trusted_proxy_the_client_is_the_last_forwarded_address(movielens, client, limits):
    limits.NEXUS_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(3):
        post(client, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7", **proxy)
    # The client may prepend anything: only the entry the proxy appended counts.
    assert post(client, HTTP_X_FORWARDED_FOR="5.6.7.8, 203.0.113.7", **proxy).status_code == 429
    assert post(client, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy).status_code == 200


def test_login_throttling_counts_the_same_client_address(db, client, settings):
    settings.NEXUS_TRUSTED_PROXIES = 1
    settings.NEXUS_LOGIN_MAX_FAILURES = 2
    login = 'mutation { tokenAuth(username: "%s", password: "wrong") { token } }'
    for name in ("nobody-1", "nobody-2"):
        post(client, login % name, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    refused = post(client, login % "nobody-3", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    other_client = post(client, login % "nobody-3", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert other_client.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_an_authenticated_user_spends_their_own_budget_wherever_they_come_from(movielens, client, limits):
    user = person_create("ada", password=PASSWORD)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {get_token(user)}"}
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        assert post(client, REMOTE_ADDR=address, **auth)["RateLimit-Limit"] == "200"
    assert post(client, REMOTE_ADDR="198.51.100.9", **auth)["RateLimit-Remaining"] == str(200 - 4 * 31)
    # The address's anonymous budget was not touched.
    assert post(client, REMOTE_ADDR="198.51.100.1")["RateLimit-Remaining"] == "69"


def test_a_bad_token_is_counted_by_address(movielens, client, limits):
    response = post(client, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response["RateLimit-Limit"] == "100"


def test_refused_and_malformed_requests_spend_nothing(movielens, client, limits):
    """Issue 15, item 7: a request refused before it runs (validation, limits) spends nothing of the budget, and
    still reports it."""
    assert post(client)["RateLimit-Remaining"] == "69"
    invalid = post(client, "{ nope }")
    assert invalid["RateLimit-Remaining"] == "69"
    assert invalid.json()["extensions"]["rateLimit"]["remaining"] == 69
    too_large = post(client, "{ movies(first: 1000) { edges { node { title } } } }")
    assert too_large.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert too_large["RateLimit-Remaining"] == "69"
    deep = "{ movie(movielensId: 1) { " + "similar(first: 1) { " * 11 + "title" + " }" * 13
    assert post(client, deep).json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
    garbage = client.post("/graphql", data="{not json", content_type="application/json")
    assert garbage.status_code == 400
    assert garbage["RateLimit-Remaining"] == "69"
    assert post(client)["RateLimit-Remaining"] == "38"


def test_zero_switches_limiting_off(movielens, client, limits):
    limits.NEXUS_RATE_LIMIT_ANON = 0
    for _ in range(5):
        response = post(client)
        assert response.status_code == 200
    assert "RateLimit-Limit" not in response
    assert "rateLimit" not in response.json()["extensions"]


def test_an_unreachable_cache_lets_requests_through(movielens, client, limits):
    # Restored inside the test: the suite's cache clean-up runs before fixtures restore settings.
    with override_settings(CACHES=unreachable_caches()):
        for _ in range(5):
            response = post(client)
            assert response.status_code == 200
            assert len(response.json()["data"]["movies"]["edges"]) == 10
    assert "RateLimit-Limit" not in response


def unreachable_caches(*aliases: str) -> dict:
    """Settings' CACHES with these roles (by default the volatile cache and the limits) on a Redis that is down."""
    dead = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": DEAD_REDIS_URL,
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 0.5},
    }
    return {
        **settings.CACHES,
        **{alias: dict(dead, OPTIONS=dict(dead["OPTIONS"])) for alias in aliases or ("default", LIMITS)},
    }
