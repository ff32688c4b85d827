# ruff: noqa: F811 - tests take the fixtures imported from tests.recommender.support
"""Precompute as a fan-out (recommender/precompute.py, recommender/training.py), in one process: shards run in
turn when tasks run inline. The same with real workers and RabbitMQ: tests/recommender/test_precompute_workers.py.
"""

import os

import numpy as np
import pytest
from django.core.cache import caches

from recommender import lists, precompute, store, training
from recommender.models import ModelRun
from tests.recommender.support import (  # noqa: F401 - fixtures
    eager_tasks,
    empty_store,
    trained,
    trained_session,
)


def lists_of(version: str, user_ids) -> dict[int, list]:
    backend = caches[store.ALIAS]
    found = backend.get_many([f"{version}:user:{{{user_id}}}" for user_id in user_ids])
    return {int(key.split("{")[1].rstrip("}")): value.tolist() for key, value in found.items()}


def test_shards_cut_the_users_in_order():
    assert precompute.shards_plan(np.arange(1, 8), shard_users=3) == [[1, 2, 3], [4, 5, 6], [7]]
    with pytest.raises(ValueError, match="at least one user"):
        precompute.shards_plan(np.arange(3), shard_users=0)


def test_ranking_threads_are_the_setting_or_one_per_cpu(settings):
    settings.NEXUS_RANK_THREADS = 3
    assert lists.rank_threads() == 3
    settings.NEXUS_RANK_THREADS = 0  # the default: a process that has the machine to itself
    assert lists.rank_threads() == len(os.sched_getaffinity(0))


SUMMARY = {"planned": 3, "written": 3, "entries": 30, "naming_a_movie": 20, "top10": [1, 2], "top100": [1, 2, 3]}


@pytest.mark.parametrize(
    ("summaries", "in_store", "problem"),
    [
        ([SUMMARY, SUMMARY], 6, None),
        ([SUMMARY, {"skipped": "the run is failed"}], 6, "1 of 2 precompute shards did not finish"),
        ([SUMMARY], 3, "1 of 2 precompute shards did not finish"),
        ([SUMMARY, {**SUMMARY, "planned": 2, "written": 2}], 5, "the shards covered 5 of 6 planned users"),
        ([SUMMARY, SUMMARY], 5, "1 of the 6 lists the shards wrote are missing from the store"),
    ],
)
def test_the_callback_switches_only_when_every_shard_wrote_every_list(summaries, in_store, problem):
    assert precompute.summaries_check(summaries, shards=2, planned=6, written_in_store=in_store) == problem


@pytest.mark.usefixtures("movielens")
# The one-process training's lists are kept aside only on Redis (tests/recommender/support.py, trained_session).
@pytest.mark.usefixtures("redis_cache")
def test_fanned_out_lists_are_those_of_one_process(trained, trained_session, empty_store, eager_tasks, settings):
    """Four shards, in turn here, each ranking on one thread (as in a worker): every user's list is the one the
    one-process training of the same deterministic model (EASE on ml-latest-small, one thread per CPU) wrote, and
    the metrics add up to the same."""
    _, one_process_store = trained_session
    settings.NEXUS_RANK_THREADS = 1
    sharded = training.recommender_train(shards=4)

    assert sharded.status == ModelRun.Status.SUCCEEDED and sharded.metrics["shards"] == 4
    assert store.current_version() == sharded.version
    user_ids = store.version_planned_user_ids(version=sharded.version)
    assert len(user_ids) == trained.metrics["users_with_lists"] == sharded.metrics["users_with_lists"]
    expected = {
        user_id: one_process_store[f"{trained.version}:user:{{{user_id}}}"].tolist() for user_id in user_ids.tolist()
    }
    assert lists_of(sharded.version, user_ids) == expected
    for name in ("catalog_coverage@10", "catalog_coverage@100", "reasons_naming_a_movie"):
        assert sharded.metrics[name] == trained.metrics[name], name
    assert {"load", "fit", "similar", "trending", "save_model", "write", "precompute", "total"} <= set(sharded.timings)


@pytest.mark.usefixtures("movielens")
def test_a_shard_that_fails_fails_its_run_and_the_live_version_stays(trained, eager_tasks, monkeypatch):
    """In the shared trained store: the failed run leaves nothing behind, and its version never goes live."""
    real = training.shard_precompute
    shards = []

    def second_shard_fails(*, version, user_ids):
        shards.append(user_ids)
        if len(shards) == 2:
            raise OSError("the model folder is not mounted")
        return real(version=version, user_ids=user_ids)

    monkeypatch.setattr(training, "shard_precompute", second_shard_fails)
    with pytest.raises(OSError, match="not mounted"):
        training.recommender_train(shards=2)

    failed = ModelRun.objects.order_by("-id").first()
    assert failed.status == ModelRun.Status.FAILED and "not mounted" in failed.error
    assert store.current_version() == trained.version
    assert store.version_planned_user_ids(version=failed.version) is None  # what it wrote is gone
    assert lists_of(failed.version, shards[0]) == {}


@pytest.mark.usefixtures("movielens")
def test_the_callback_refuses_a_version_with_missing_lists(trained, eager_tasks, monkeypatch):
    monkeypatch.setattr(store, "version_user_lists_write", lambda *, version, user_lists: None)

    run = training.recommender_train(shards=2)

    assert run.status == ModelRun.Status.FAILED
    assert run.error == "610 of the 610 lists the shards wrote are missing from the store"
    assert store.current_version() == trained.version
    assert store.version_planned_user_ids(version=run.version) is None
