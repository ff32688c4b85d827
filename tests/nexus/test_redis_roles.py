"""Redis by role on real Redis databases (nexus/caches.py, docs/scaling.md "Redis"): the volatile cache, the
recommendation store and the limits each on a database of their own, as production puts them on instances of
their own; flushing the cache's database — what an evicting instance may do to any of its keys — loses no
recommendation list, no rate-limit counter and no data version. (tests/nexus/test_cache_roles.py shows the same
for the limits with the volatile role in memory.)"""

import json
import uuid
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import caches
from django.test import override_settings
from freezegun import freeze_time

from catalog.cache import catalog_version
from nexus.caches import LIMITS
from recommender import store
from tests.conftest import need

PAGE = "{ movies(first: 10) { edges { node { title } } } }"  # 31 points
ROLES = ("default", store.ALIAS, LIMITS)


def database_url(url: str, offset: int) -> str:
    """The tests' Redis server, ``offset`` databases after the tests' own (wrapping within the 16 databases)."""
    parts = urlsplit(url)
    number = (int(parts.path.strip("/") or 0) + offset) % 16
    return urlunsplit(parts._replace(path=f"/{number}"))


@pytest.fixture
def roles_apart():
    """The cache role on the tests' own Redis database, the store on the next one, the limits on the one after,
    each under a key prefix of this test's (those databases may be shared with a server of another test: only
    this test's keys are touched there). A clock 10 s into a rate-limit window. The settings are put back before
    the suite empties every role after the test (tests/conftest.py), which would flush the other databases."""
    need(bool(django_settings.REDIS_URL), "needs Redis: set REDIS_URL=redis://...")
    tag = uuid.uuid4().hex
    base = django_settings.CACHES
    urls = {"default": django_settings.REDIS_URL, store.ALIAS: database_url(django_settings.REDIS_URL, 1)}
    urls[LIMITS] = database_url(django_settings.REDIS_URL, 2)
    roles = {
        **base,
        store.ALIAS: {**base[store.ALIAS], "LOCATION": urls[store.ALIAS], "KEY_PREFIX": f"store-{tag}"},
        LIMITS: {**base[LIMITS], "LOCATION": urls[LIMITS], "KEY_PREFIX": f"limits-{tag}"},
    }
    with override_settings(CACHES=roles, NEXUS_RATE_LIMIT_ANON=100), freeze_time("2026-06-01 12:00:10"):
        try:
            yield urls
        finally:
            for alias in (store.ALIAS, LIMITS):
                caches[alias].delete_pattern("*")


def post(client, body: dict):
    return client.post("/graphql", data=json.dumps(body), content_type="application/json")


def keys_in(url: str) -> list[bytes]:
    with redis.Redis.from_url(url) as connection:
        return connection.keys("*")


def test_each_role_is_a_redis_database_of_its_own(roles_apart):
    databases = {alias: caches[alias].client.get_client().connection_pool.connection_kwargs["db"] for alias in ROLES}
    assert len(set(databases.values())) == 3
    for alias in ROLES:
        caches[alias].set("role-probe", alias)
    for alias, url in roles_apart.items():
        assert [key for key in keys_in(url) if key.endswith(b":role-probe")] != [], alias
        assert caches[alias].get("role-probe") == alias


def test_flushing_the_cache_role_loses_no_list_no_limit_and_no_version(movielens, client, roles_apart):
    entries = store.empty_entries(3)
    entries["movie"] = [11, 12, 13]
    store.version_write(
        version="v-roles",
        user_lists={7: entries},
        similar_movie_ids=np.array([1]),
        similar=np.zeros((1, 2), dtype=store.SIMILAR_ENTRY),
        trending={None: entries},
    )
    store.activate(version="v-roles")
    assert post(client, {"query": PAGE})["RateLimit-Remaining"] == "69"
    version = catalog_version()
    assert keys_in(roles_apart["default"]) != []  # the cached answer and movie cards

    with redis.Redis.from_url(roles_apart["default"]) as cache_database:
        cache_database.flushdb()

    assert store.current_version() == "v-roles"
    assert store.user_list(user_id=7)["movie"].tolist() == [11, 12, 13]
    assert post(client, {"query": PAGE})["RateLimit-Remaining"] == "38"
    assert catalog_version() == version
    # The store's keys and the limits' keys were never in the cache's database.
    assert any(b":v-roles:user:{7}" in key for key in keys_in(roles_apart[store.ALIAS]))
    assert not any(b"v-roles" in key for key in keys_in(roles_apart[LIMITS]))
