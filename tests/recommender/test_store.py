"""The score store on its own: versions written in full before a single switch, old versions retired, lists
rewritten one user at a time, and a clear failure when the backend is unreachable."""

# ruff: noqa: F811 - test parameters name the fixtures imported from tests.recommender.support

import numpy as np
import pytest
from django.core.cache import caches

from recommender import store
from recommender.store import Reason
from tests.recommender.support import empty_store, unreachable_store  # noqa: F401 - fixtures, requested by name

MOVIES = np.arange(1, 200)


def entries(*movie_ids: int) -> np.ndarray:
    listed = store.empty_entries(len(movie_ids))
    listed["movie"] = movie_ids
    listed["score"] = np.linspace(1.0, 0.5, len(movie_ids))
    listed["reason"] = Reason.TRENDING
    return listed


def similar_rows(offset: int) -> np.ndarray:
    """Every movie's similar list: the next three movies (plus ``offset``), one list shorter than the rest."""
    rows = np.zeros((len(MOVIES), 3), dtype=store.SIMILAR_ENTRY)
    rows["movie"] = MOVIES[:, None] + offset + np.arange(1, 4)
    rows["score"] = [0.9, 0.8, 0.7]
    rows["movie"][0, 2] = store.NO_MOVIE
    return rows


def write(version: str, *, users: dict[int, np.ndarray], offset: int = 0) -> None:
    store.version_write(
        version=version,
        user_lists=users,
        similar_movie_ids=MOVIES,
        similar=similar_rows(offset),
        trending={None: entries(5, 6), 7: entries(6)},
    )


def test_nothing_is_served_before_the_first_version(empty_store):
    assert store.current_version() is None
    with pytest.raises(store.StoreUnavailable, match="no recommender model"):
        store.user_list(user_id=1)


def test_a_written_version_is_invisible_until_it_is_activated(empty_store):
    write("v1", users={1: entries(10, 11)})
    assert store.current_version() is None

    assert store.activate(version="v1") is None

    assert store.current_version() == "v1"
    assert store.user_list(user_id=1)["movie"].tolist() == [10, 11]
    assert store.user_list(user_id=2) is None
    assert store.user_lists(user_ids=[1, 2]).keys() == {1}
    assert store.trending_list()["movie"].tolist() == [5, 6]
    assert store.trending_list(genre_id=7)["movie"].tolist() == [6]
    assert store.trending_list(genre_id=8) is None


def test_similar_lists_come_back_per_movie_without_padding(empty_store):
    write("v1", users={})
    store.activate(version="v1")

    similar = store.similar_lists(movie_ids=[1, 64, 65, 199, 500])

    assert similar.keys() == {1, 64, 65, 199}
    assert similar[1]["movie"].tolist() == [2, 3]
    assert similar[65]["movie"].tolist() == [66, 67, 68]
    assert similar[199]["score"].tolist() == pytest.approx([0.9, 0.8, 0.7])


def test_switching_versions_retires_the_replaced_one_and_deletes_the_one_before(empty_store, monkeypatch):
    retired = []
    backend = caches[store.ALIAS]
    expire_many = store._expire_many
    monkeypatch.setattr(
        store,
        "_expire_many",
        lambda keys, seconds: retired.extend((key, seconds) for key in keys) or expire_many(keys, seconds),
    )
    write("v1", users={1: entries(10)})
    store.activate(version="v1")
    store.user_list_write(version="v1", user_id=2, entries=entries(12))  # a newcomer's refreshed list
    write("v2", users={1: entries(20), 2: entries(21)}, offset=1)

    assert store.activate(version="v2") == "v1"
    old_keys = {"v1:user:{1}", "v1:user:{2}", "v1:similar:0", "v1:trending:all"}
    assert {key for key, _ in retired} >= old_keys
    assert {timeout for _, timeout in retired} == {store.RETIRED_GRACE}
    if hasattr(backend, "ttl"):  # on Redis, the pipelined EXPIREs took
        assert all(0 < backend.ttl(key) <= store.RETIRED_GRACE for key in old_keys)
        assert backend.ttl("v2:user:{1}") is None  # the live version never expires
    assert backend.get("v1:user:{2}") is not None  # readers that just read the old pointer still find it

    write("v3", users={1: entries(30)}, offset=2)
    store.activate(version="v3")

    assert [
        key for key in ("v1:user:{1}", "v1:user:{2}", "v1:similar:0", "v1:manifest") if backend.get(key) is not None
    ] == []
    assert backend.get("v2:user:{2}") is not None
    assert store.user_list(user_id=1)["movie"].tolist() == [30]
    assert store.similar_lists(movie_ids=[1])[1]["movie"].tolist() == [4, 5]


def test_one_users_list_is_rewritten_or_removed_in_place(empty_store):
    write("v1", users={1: entries(10, 11), 2: entries(12)})
    store.activate(version="v1")

    store.user_list_write(version="v1", user_id=1, entries=entries(13))
    store.user_list_write(version="v1", user_id=2, entries=None)

    assert store.user_list(user_id=1)["movie"].tolist() == [13]
    assert store.user_list(user_id=2) is None


def test_a_version_that_failed_half_way_is_discarded(empty_store):
    write("v1", users={1: entries(10)})
    store.activate(version="v1")
    write("v2", users={1: entries(20), 3: entries(21)})

    store.version_discard(version="v2")

    backend = caches[store.ALIAS]
    assert [key for key in ("v2:user:{1}", "v2:user:{3}", "v2:similar:0", "v2:manifest") if backend.get(key)] == []
    assert store.user_list(user_id=1)["movie"].tolist() == [10]


def test_an_unreachable_backend_is_reported_as_unavailable(unreachable_store):
    with pytest.raises(store.StoreUnavailable, match="unreachable"):
        store.current_version()
    with pytest.raises(store.StoreUnavailable):
        store.similar_lists(movie_ids=[1])
