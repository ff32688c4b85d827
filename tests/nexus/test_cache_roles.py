"""Cache roles (nexus/caches.py): what the volatile cache holds may vanish at any time — evicted when full, flushed —
without resetting a rate limit, a persisted-document allowance, a login throttle or a data version, which live in
the limits role. Where each role's Redis comes from is tested with the settings, in tests/test_deployment.py."""

import hashlib
import json

import pytest
from django.core.cache import caches
from freezegun import freeze_time

from catalog.cache import catalog_version
from nexus.caches import LIMITS, limits_cache

PAGE = "{ movies(first: 10) { edges { node { title } } } }"  # 31 points


def post(client, body: dict, **headers):
    return client.post("/graphql", data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def volatile_apart(settings):
    """The volatile role in a store of its own, so that emptying it, as eviction would, touches nothing else (on
    one Redis database, clearing it would flush every role); a clock 10 s into a rate-limit window."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "volatile-apart"},
    }
    settings.NEXUS_RATE_LIMIT_ANON = 100
    with freeze_time("2026-06-01 12:00:10"):
        yield settings
    caches["default"].clear()


def test_the_roles_are_separate_caches(settings):
    assert set(settings.CACHES) >= {"default", LIMITS, "recommendations"}
    caches["default"].set("role-probe", "volatile")
    assert limits_cache.get("role-probe") is None


def test_losing_every_volatile_entry_resets_no_rate_limit_and_no_version(movielens, client, volatile_apart):
    assert post(client, {"query": PAGE})["RateLimit-Remaining"] == "69"
    version = catalog_version()
    caches["default"].clear()
    assert post(client, {"query": PAGE})["RateLimit-Remaining"] == "38"
    assert catalog_version() == version


def test_losing_every_volatile_entry_forgets_documents_but_not_allowances(movielens, client, volatile_apart):
    volatile_apart.NEXUS_PERSISTED_QUERY_MAX_REGISTRATIONS = 1
    first, second = "query One { __typename }", "query Two { __typename }"

    def register(query):
        digest = hashlib.sha256(query.encode()).hexdigest()
        return post(client, {"query": query, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}})

    assert "errors" not in register(first).json()
    caches["default"].clear()
    # The stored document is gone (the client re-sends it) ...
    digest = hashlib.sha256(first.encode()).hexdigest()
    lookup = post(client, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}})
    assert lookup.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    # ... but the allowance it used is still spent.
    assert register(second).json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REGISTRATION_LIMITED"


def test_losing_every_volatile_entry_lifts_no_login_throttle(db, client, volatile_apart):
    volatile_apart.NEXUS_RATE_LIMIT_ANON = 0
    volatile_apart.NEXUS_LOGIN_MAX_FAILURES = 2
    login = {"query": 'mutation { tokenAuth(username: "nobody", password: "wrong") { token } }'}
    for _ in range(2):
        assert post(client, login).json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert post(client, login).json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    caches["default"].clear()
    assert post(client, login).json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
