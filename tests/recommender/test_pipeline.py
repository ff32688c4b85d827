"""The training pipeline and the per-user refresh on the real ml-latest-small: what a run records, what it
writes, what readers see while it runs, and how it fails."""

# ruff: noqa: F811 - test parameters name the fixtures imported from tests.recommender.support

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from catalog.models import Movie
from recommender import store, training
from recommender.lists import LIST_LENGTH
from recommender.model_files import MODEL_FILE
from recommender.models import ModelRun
from recommender.refresh import user_recommendations_refresh
from recommender.selectors import recommendation_list
from recommender.store import Reason
from recommender.strategies import EXTRA_CANDIDATES
from tests.recommender.support import (  # noqa: F401 - fixtures, requested by name
    empty_store,
    newcomer,
    trained,
    trained_session,
)
from users.models import Rating, User

pytestmark = pytest.mark.usefixtures("movielens")
REPOSITORY = Path(__file__).resolve().parents[2]


def ratings_by_user() -> dict[int, dict[int, float]]:
    rated: dict[int, dict[int, float]] = {}
    for user_id, movie_id, score in Rating.objects.values_list("user_id", "movie_id", "score"):
        rated.setdefault(user_id, {})[movie_id] = float(score)
    return rated


def listed_movies(user: User) -> list[int]:
    return [item.movie.pk for item in recommendation_list(user=user, first=100)]


def test_a_training_records_its_run_and_writes_a_list_for_every_user(trained):
    rated = ratings_by_user()
    lists = store.user_lists(user_ids=rated)

    assert trained.status == ModelRun.Status.SUCCEEDED
    assert (trained.algorithm, trained.n_users, trained.n_items, trained.n_interactions) == (
        "dlae",
        610,
        9742,
        100_836,
    )
    assert set(trained.timings) == {
        "load",
        "fit",
        "recommend",
        "similar",
        "trending",
        "save_model",
        "write",
        "activate",
        "total",
    }
    assert trained.parameters["collaborative_algorithm"] == "dlae"
    assert trained.metrics["users_with_lists"] == 610
    assert store.current_version() == trained.version
    assert (Path(settings.NEXUS_MODEL_DIR) / trained.version / MODEL_FILE).exists()

    assert lists.keys() == rated.keys()
    for user_id, entries in lists.items():
        # The balanced list first, in its order, then the extra candidates the strategies re-rank.
        assert len(store.balanced(entries)) == LIST_LENGTH
        assert entries["place"][:LIST_LENGTH].tolist() == list(range(LIST_LENGTH))
        assert len(entries) == LIST_LENGTH + EXTRA_CANDIDATES
        assert len(np.unique(entries["movie"])) == len(entries)
        assert not np.isin(entries["movie"], list(rated[user_id])).any()
        together = entries[entries["reason"] == Reason.LIKED_TOGETHER]
        assert np.isin(together["subject"], list(rated[user_id])).all()
        assert np.isin(together["other"], list(rated[user_id])).all()
        assert (together["subject"] != together["other"]).all()
        because_rated = entries[entries["reason"] == Reason.RATED]
        assert [rated[user_id][movie] * 2 for movie in because_rated["subject"].tolist()] == because_rated[
            "stars"
        ].tolist()


def test_a_refresh_rewrites_only_that_users_list_in_the_current_version(trained, newcomer):
    someone_else = User.objects.get(movielens_id=1)
    before = store.user_list(user_id=someone_else.pk)
    for movielens_id in (1, 2355, 3114):  # Toy Story, A Bug's Life, Toy Story 2
        movie = Movie.objects.get(movielens_id=movielens_id)
        Rating.objects.create(user=newcomer, movie=movie, score=5, created_at=timezone.now(), updated_at=timezone.now())

    assert user_recommendations_refresh(user_id=newcomer.pk)

    refreshed = store.user_list(user_id=newcomer.pk)
    assert store.current_version() == trained.version
    assert len(store.balanced(refreshed)) == LIST_LENGTH
    assert set(refreshed[refreshed["reason"] == Reason.RATED]["stars"].tolist()) == {10}
    assert np.array_equal(store.user_list(user_id=someone_else.pk), before)


def test_a_user_with_nothing_left_loses_their_list(trained, newcomer):
    movie = Movie.objects.get(movielens_id=1)
    rating = Rating.objects.create(
        user=newcomer, movie=movie, score=4, created_at=timezone.now(), updated_at=timezone.now()
    )
    user_recommendations_refresh(user_id=newcomer.pk)
    rating.delete()

    user_recommendations_refresh(user_id=newcomer.pk)

    assert store.user_list(user_id=newcomer.pk) is None


def test_a_retrain_while_people_read_and_rate(empty_store, monkeypatch):
    """Readers poll after every write to the store during a retrain: until the switch they get the old
    version's complete lists, after it the new one's. A rating committed during the retrain is in the new
    version."""
    first = training.recommender_train()
    readers = list(User.objects.filter(movielens_id__in=(1, 2, 3)).order_by("movielens_id"))
    changed = readers[0]
    # Different data for the second training, so that its lists differ from the first one's.
    Rating.objects.filter(pk__in=Rating.objects.filter(user=changed).order_by("id").values("pk")[:100]).delete()
    old_lists = {reader.pk: listed_movies(reader) for reader in readers}
    late_rater = User.objects.create(username="late-rater")
    toy_story = Movie.objects.get(movielens_id=1)
    observed: list[tuple[str, int, list[int]]] = []
    backend = caches[store.ALIAS]
    writing = []  # non-empty while a write is under way (a file cache's set_many calls its set)

    def polled(write):
        def write_then_read(*args, **kwargs):
            writing.append(write)
            try:
                write(*args, **kwargs)
            finally:
                writing.pop()
            if writing:
                return
            if not Rating.objects.filter(user=late_rater).exists():
                now = timezone.now()
                Rating.objects.create(user=late_rater, movie=toy_story, score=5, created_at=now, updated_at=now)
            observed.extend((store.current_version(), reader.pk, listed_movies(reader)) for reader in readers)

        return write_then_read

    monkeypatch.setattr(backend, "set_many", polled(backend.set_many))
    monkeypatch.setattr(backend, "set", polled(backend.set))
    second = training.recommender_train()
    new_lists = {reader.pk: listed_movies(reader) for reader in readers}

    assert old_lists[changed.pk] != new_lists[changed.pk]
    versions = [version for version, _, _ in observed]
    switch = versions.index(second.version)
    assert switch > 0 and set(versions[:switch]) == {first.version}
    assert set(versions[switch:]) == {second.version}
    expected = {first.version: old_lists, second.version: new_lists}
    assert all(movies == expected[version][reader] for version, reader, movies in observed)
    assert second.metrics["refreshed_after_switch"] >= 1
    late = store.user_list(user_id=late_rater.pk)
    assert late is not None and toy_story.pk not in late["movie"]


def test_a_failed_training_is_recorded_and_the_current_version_stays(trained, monkeypatch):
    monkeypatch.setattr(training, "choose_algorithm", lambda **sizes: "svd")

    with pytest.raises(KeyError):
        training.recommender_train()

    failed = ModelRun.objects.order_by("-id").first()
    assert failed.status == ModelRun.Status.FAILED
    assert failed.error == "KeyError: 'svd'"
    assert set(failed.timings) == {"load"} and failed.finished_at is not None
    assert store.current_version() == trained.version


def test_workers_split_the_cores_between_their_processes_blas_threads():
    code = (
        "import json, os, types\n"
        "import numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from nexus.celery import limit_blas_threads\n"
        "limit_blas_threads(sender=types.SimpleNamespace(concurrency=2))\n"
        "blas = [pool['num_threads'] for pool in threadpool_info() if pool['user_api'] == 'blas']\n"
        "print(json.dumps({'variable': os.environ['OPENBLAS_NUM_THREADS'], 'blas': blas}))\n"
    )
    blas_variables = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    environment = {name: value for name, value in os.environ.items() if name not in blas_variables}
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )

    limited = json.loads(completed.stdout)
    threads = max(1, len(os.sched_getaffinity(0)) // 2)
    assert limited["variable"] == str(threads)
    assert limited["blas"] and set(limited["blas"]) == {threads}
