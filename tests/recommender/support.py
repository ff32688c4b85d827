"""Fixtures for the recommender pipeline and its API: score stores and model folders of the tests' own (never
``var/`` or another run's keys), and one training on ml-latest-small that the tests which only read share.

Import the fixtures a test module uses from here, with the ones they depend on (pytest finds imported
fixtures).
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from graphql_jwt.shortcuts import get_token

from recommender import store
from recommender.models import ModelRun
from recommender.training import recommender_train
from tests.conftest import movielens_small_dir, need, tmdb_csv
from users.events import refresh_queued_clear
from users.models import User

# Nothing listens there: connections are refused at once.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


def store_alias(folder: Path) -> dict:
    """The ``recommendations`` cache alias for a store of one's own: a fresh key prefix on the Redis the tests
    use, or a fresh folder on the embedded default."""
    if settings.REDIS_URL:
        return {**settings.CACHES[store.ALIAS], "KEY_PREFIX": f"test-recommendations-{uuid.uuid4().hex}"}
    return {**settings.CACHES[store.ALIAS], "LOCATION": folder / "recommendations"}


def store_settings(alias: dict, models: Path) -> override_settings:
    return override_settings(CACHES={**settings.CACHES, store.ALIAS: alias}, NEXUS_MODEL_DIR=models)


def store_clear() -> None:
    backend = caches[store.ALIAS]
    # On Redis, only this store's keys (clear() would flush the whole database).
    backend.delete_pattern("*") if hasattr(backend, "delete_pattern") else backend.clear()


def need_movielens() -> None:
    need(movielens_small_dir() is not None, "NEXUS_DATA_DIR must point at shared/data with ml-latest-small")
    need(tmdb_csv() is not None, "NEXUS_DATA_DIR must hold tmdb/tmdb_5000_movies.csv")


_shared_training: dict = {}


@pytest.fixture(scope="session")
def trained_session(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[ModelRun, dict]]:
    """One training on the session's ml-latest-small, in a store of its own that stays active from then on.

    Pytest makes one instance of an imported fixture per importing module: the first instance trains, the
    others enter the same store.
    """
    need_movielens()
    creator = not _shared_training
    if creator:
        folder = tmp_path_factory.mktemp("trained")
        _shared_training.update(alias=store_alias(folder), models=folder / "models")
    with store_settings(_shared_training["alias"], _shared_training["models"]):
        if creator:
            with django_db_blocker.unblock():
                run = recommender_train()
            backend = caches[store.ALIAS]
            # The suite clears the default cache before every test, and on Redis that flushes the whole
            # database, this store included: keep a copy of it to put back.
            saved = backend.get_many(list(backend.iter_keys("*"))) if hasattr(backend, "iter_keys") else {}
            _shared_training.update(run=run, saved=saved)
        yield _shared_training["run"], _shared_training["saved"]
        if creator:
            store_clear()
            with django_db_blocker.unblock():
                _shared_training["run"].delete()


@pytest.fixture
def trained(trained_session) -> ModelRun:
    """The store of ``trained_session``, whole. Its lists are shared: tests that write lists use
    ``empty_store``, or remove what they wrote."""
    run, saved = trained_session
    if saved:
        caches[store.ALIAS].set_many(saved, timeout=None)
    return run


@pytest.fixture
def empty_store(tmp_path) -> Iterator[None]:
    """A store (and model folder) of the test's own, with nothing trained yet."""
    with store_settings(store_alias(tmp_path), tmp_path / "models"):
        yield
        store_clear()


@pytest.fixture
def unreachable_store(settings) -> None:
    """The store on a Redis server that is not there."""
    settings.CACHES = {
        **settings.CACHES,
        store.ALIAS: {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": DEAD_REDIS_URL,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 0.5},
        },
    }


@pytest.fixture
def eager_tasks(settings) -> None:
    """Celery tasks run inline when enqueued, as on the embedded default."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def newcomer(trained, db) -> Iterator[User]:
    """A person with an empty library. What refreshes leave in the store for them is removed afterwards: the
    store is shared, and a later test's user may get the same id."""
    user = User.objects.create(username=f"newcomer-{uuid.uuid4().hex[:8]}")
    # Nor does one left before them (on the embedded default the store outlives a test, and ids come back).
    store.user_list_write(version=store.current_version(), user_id=user.pk, entries=None)
    yield user
    store.user_list_write(version=store.current_version(), user_id=user.pk, entries=None)
    refresh_queued_clear(user_id=user.pk)


def token_for(user: User) -> str:
    return get_token(user)
