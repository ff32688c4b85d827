"""Training and the ``ModelRun`` lifecycle: the database's interactions → the models of
``recommender.algorithms`` → ranked, explained lists in the score store (``recommender.store``) under a new
version, then the switch.

- ``recommender_train`` trains a new version end to end and switches readers to it (run by the ``train_model``
  task and the ``train_recommender`` command; each run is recorded as a ``ModelRun``).
- ``recommender_training_enqueue`` queues a run for the ``train_model`` task (by task name: nothing here imports
  ``recommender.tasks``, which stands above); ``recommender_train_queued`` runs it, once a worker took it.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta

import numpy as np
from celery import chord, signature
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from nexus.progress import Progress
from recommender import store
from recommender.algorithms import choose_algorithm, fit_hybrid, production_model
from recommender.catalog_artifact import catalog_load
from recommender.interactions_db import (
    EVENT_SOURCES,
    declared_genre_ids,
    event_log,
    has_positive,
    interactions_from_events,
)
from recommender.lists import LIST_LENGTH, UserRows, every_users_lists, similar_lists, trending_lists
from recommender.metrics import catalog_coverage
from recommender.model_files import model_delete, model_save, models_prune
from recommender.models import ModelRun
from recommender.precompute import shard_precompute, shards_plan, summaries_check, summaries_metrics
from recommender.ranking import NO_ITEM
from recommender.refresh import user_recommendations_refresh
from recommender.store import Reason
from users.models import User

logger = logging.getLogger(__name__)

TRAIN_TASK = "recommender.tasks.train_model"
SHARD_TASK, FINISH_TASK = "recommender.tasks.precompute_shard", "recommender.tasks.precompute_finish"
# A precompute shard that fails is tried this many more times (after 2, then 4 seconds) before its run fails.
SHARD_RETRIES = 2
# Deliveries of a training task that may start it: a second worker death gives it up.
MAX_TRAINING_ATTEMPTS = 2
# Changes committed this long before a training read the database may still have been invisible to it.
SNAPSHOT_MARGIN = timedelta(minutes=1)


class NothingToTrainOn(Exception):
    pass


# The steps of _train, in order: the progress of a training counts them.
STEPS = ("load", "fit", "recommend", "similar", "trending", "save_model", "write", "activate")


@contextmanager
def _timed(timings: dict[str, float], step: str, progress: Progress | None = None) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - started, 3)
    if progress is not None:
        progress.update(step=step)


def recommender_train(
    *,
    triggered_by: str = ModelRun.Trigger.COMMAND,
    run_id: int | None = None,
    show_progress: bool = False,
    shard_users: int = 0,
    shards: int = 0,
) -> ModelRun:
    """Trains a new version on everything in the database and switches readers to it.

    Steps (each timed in ``ModelRun.timings``): load interactions and item features with SQL into arrays;
    fit the collaborative model ``choose_algorithm`` picks for the data's size and the hybrid around it; rank
    the top ``LIST_LENGTH`` with reasons for every user with interactions, in batches; precompute every
    movie's similar movies and the trending lists; save the model (for per-user refreshes); write everything
    under the new version; switch. ``run_id`` is a run queued by ``recommender_training_enqueue``; without it
    a run is created. ``show_progress``: a bar over the steps on a terminal, log lines elsewhere.

    ``shard_users`` (or ``shards``) > 0: the lists are precomputed as a fan-out instead (``_train_fanned_out``):
    shards of that many users (that many shards) on the workers' ``precompute`` queue, and the run is left
    ``running`` for the chord's callback to finish (at once when tasks run inline, without a broker).
    """
    run = ModelRun.objects.create(triggered_by=triggered_by) if run_id is None else ModelRun.objects.get(pk=run_id)
    run.started_at = timezone.now()
    run.version = f"{run.started_at:%Y%m%d-%H%M%S}-{run.pk}"
    run.status = ModelRun.Status.RUNNING
    run.save(update_fields=["started_at", "version", "status"])
    timings: dict[str, float] = {}
    try:
        with (
            _timed(timings, "total"),
            Progress("training", total=len(STEPS), unit="steps", enabled=show_progress) as progress,
        ):
            if shard_users > 0 or shards > 0:
                _train_fanned_out(run, timings, progress, shard_users=shard_users, shards=shards)
            else:
                replaced = _train(run, timings, progress)
    except Exception as error:
        logger.exception("Recommender training %s failed", run.version)
        run.status, run.error, run.finished_at = (
            ModelRun.Status.FAILED,
            f"{type(error).__name__}: {error}",
            timezone.now(),
        )
        run.timings = timings
        run.save(update_fields=["status", "error", "finished_at", "timings"])
        _unfinished_version_discard(run.version)
        raise
    if shard_users > 0 or shards > 0:
        run.refresh_from_db()
        return run
    run.status, run.timings, run.finished_at = ModelRun.Status.SUCCEEDED, timings, timezone.now()
    run.save(update_fields=["status", "timings", "finished_at"])
    logger.info("Recommender version %s is live (replaced %s) after %.1f s", run.version, replaced, timings["total"])
    return run


def _unfinished_version_discard(version: str) -> None:
    """Removes what a failed training wrote, unless it had already gone live (then it stays, and serves)."""
    with suppress(store.StoreUnavailable):
        if store.current_version() != version:
            store.version_discard(version=version)
            model_delete(version)


def _train(run: ModelRun, timings: dict[str, float], progress: Progress | None = None) -> str | None:
    snapshot_at = timezone.now()
    with _timed(timings, "load", progress):
        catalog, features, events, interactions = _training_data()
        users = UserRows.of(events, interactions, catalog.declared_genres(declared_genre_ids(interactions.user_ids)))
    with _timed(timings, "fit", progress):
        model = _fit(run, interactions, features)
    with _timed(timings, "recommend", progress):
        user_lists = every_users_lists(model, catalog, users, interactions)
    with _timed(timings, "similar", progress):
        similar = similar_lists(model, catalog)
    with _timed(timings, "trending", progress):
        trending = trending_lists(model, catalog, interactions)
    with _timed(timings, "save_model", progress):
        model_save(run.version, model, catalog)
    with _timed(timings, "write", progress):
        store.version_write(
            version=run.version,
            user_lists=user_lists,
            similar_movie_ids=catalog.item_ids,
            similar=similar,
            trending=trending,
        )
    with _timed(timings, "activate", progress):
        replaced = store.activate(version=run.version)
        models_prune(live=run.version)
        caught_up = _changed_users_refresh(since=snapshot_at - SNAPSHOT_MARGIN)

    run.parameters = model.state()[0]
    run.n_users, run.n_items, run.n_interactions = interactions.n_users, interactions.n_items, len(events)
    run.metrics = _list_metrics(user_lists, n_items=interactions.n_items, caught_up=caught_up)
    run.save(update_fields=["algorithm", "parameters", "n_users", "n_items", "n_interactions", "metrics"])
    return replaced


def _training_data():
    """The catalog with its item features, every user's events, and the interactions built from them."""
    catalog, features = catalog_load()
    events = event_log()
    if not has_positive(events):
        raise NothingToTrainOn("no ratings, favorites or viewings yet: import MovieLens first")
    return catalog, features, events, interactions_from_events(events, user_ids=None, item_ids=catalog.item_ids)


def _fit(run: ModelRun, interactions, features):
    run.algorithm = choose_algorithm(
        n_users=interactions.n_users, n_items=interactions.n_items, n_interactions=interactions.confidence.nnz
    )
    collaborative = production_model(run.algorithm, n_interactions=interactions.confidence.nnz).fit(
        interactions.confidence, interactions.last_activity
    )
    return fit_hybrid(interactions=interactions, item_features=features, collaborative=collaborative)


# --- Precompute as a fan-out (recommender/precompute.py) -----------------------------------------------------------


def _train_fanned_out(
    run: ModelRun, timings: dict[str, float], progress: Progress, *, shard_users: int, shards: int
) -> None:
    """Fits once, saves the model where every worker reads it (``NEXUS_MODEL_DIR``), writes the similar and
    trending lists and the manifest of the users to come under the new version, then queues a chord: one
    ``precompute_shard`` task per ``shard_users`` users with interactions (or ``shards`` tasks), and
    ``precompute_finish``, which checks every shard and switches readers to the version (``precompute_finished``).
    """
    snapshot_at = timezone.now()
    with _timed(timings, "load", progress):
        catalog, features, events, interactions = _training_data()
    with _timed(timings, "fit", progress):
        model = _fit(run, interactions, features)
    with _timed(timings, "similar", progress):
        similar = similar_lists(model, catalog)
    with _timed(timings, "trending", progress):
        trending = trending_lists(model, catalog)
    with _timed(timings, "save_model", progress):
        model_save(run.version, model, catalog)
    warm = interactions.user_ids[np.diff(interactions.confidence.indptr) > 0]
    plan = shards_plan(warm, shard_users=shard_users or -(-len(warm) // shards))
    with _timed(timings, "write", progress):
        store.version_write(
            version=run.version,
            user_lists={},
            similar_movie_ids=catalog.item_ids,
            similar=similar,
            trending=trending,
            planned_user_ids=warm,
        )
    run.parameters = model.state()[0]
    run.n_users, run.n_items, run.n_interactions = interactions.n_users, interactions.n_items, len(events)
    run.timings = timings
    run.save(update_fields=["algorithm", "parameters", "n_users", "n_items", "n_interactions", "timings"])
    finish = {"run_id": run.pk, "shards": len(plan), "snapshot_at": snapshot_at.isoformat()}
    parts = [
        {"run_id": run.pk, "version": run.version, "shard": index, "user_ids": ids} for index, ids in enumerate(plan)
    ]
    if settings.CELERY_TASK_ALWAYS_EAGER:  # no broker: the shards one after the other, here
        precompute_finished([precompute_shard_run(**part) for part in parts], **finish)
    else:
        chord([signature(SHARD_TASK, kwargs=part) for part in parts])(signature(FINISH_TASK, kwargs=finish))
    logger.info("Recommender version %s: %s precompute shards queued", run.version, len(plan))


def precompute_shard_run(*, run_id: int, version: str, shard: int, user_ids: list[int]) -> dict:
    """One shard of a fanned-out run (the ``precompute_shard`` task); nothing when the run is over already."""
    status = ModelRun.objects.filter(pk=run_id, version=version).values_list("status", flat=True).first()
    if status != ModelRun.Status.RUNNING:
        logger.warning("Precompute shard %s of %s skipped: the run is %s", shard, version, status)
        return {"skipped": f"the run is {status}"}
    return shard_precompute(version=version, user_ids=user_ids)


def precompute_finished(summaries: list, *, run_id: int, shards: int, snapshot_at: str) -> ModelRun:
    """The chord's callback: checks that every shard finished and every user with interactions has a list, then
    switches readers to the version with one atomic set (``store.activate``); else the run fails and the
    version it replaced stays live."""
    with transaction.atomic():
        run = ModelRun.objects.select_for_update().get(pk=run_id)
        if run.status != ModelRun.Status.RUNNING:
            return run
        planned = store.version_planned_user_ids(version=run.version)
        problem = "the version's manifest is gone" if planned is None else None
        if planned is not None:
            in_store = store.version_user_lists_count(version=run.version, user_ids=planned)
            problem = summaries_check(summaries, shards=shards, planned=len(planned), written_in_store=in_store)
        if problem is None:
            replaced = store.activate(version=run.version)
            run.status, run.finished_at = ModelRun.Status.SUCCEEDED, timezone.now()
            run.timings["precompute"] = round(
                (run.finished_at - run.started_at).total_seconds() - sum(run.timings.values()), 3
            )
            run.timings["total"] = round((run.finished_at - run.started_at).total_seconds(), 3)
            run.metrics = summaries_metrics(summaries, n_items=run.n_items)
            run.save(update_fields=["status", "finished_at", "timings", "metrics"])
    if problem is not None:
        return precompute_failed(run_id=run_id, reason=problem)
    models_prune(live=run.version)
    since = datetime.fromisoformat(snapshot_at) - SNAPSHOT_MARGIN
    run.metrics["refreshed_after_switch"] = _changed_users_refresh(since=since)
    run.save(update_fields=["metrics"])
    logger.info(
        "Recommender version %s is live (replaced %s) after %.1f s", run.version, replaced, run.timings["total"]
    )
    return run


def precompute_failed(*, run_id: int, reason: str) -> ModelRun:
    """Gives a fanned-out run up (a shard failed for good, or the callback's check did): the version it would have
    replaced stays live, and what it wrote is discarded."""
    with transaction.atomic():
        run = ModelRun.objects.select_for_update().get(pk=run_id)
        if run.status != ModelRun.Status.RUNNING:
            return run
        run.status, run.error, run.finished_at = ModelRun.Status.FAILED, reason, timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
    logger.error("Recommender training %s failed: %s", run.version, reason)
    _unfinished_version_discard(run.version)
    return run


def _list_metrics(user_lists: dict[int, np.ndarray], *, n_items: int, caught_up: int) -> dict[str, float | int]:
    """What the lists look like: how much of the catalog they reach and how many reasons name a movie."""
    if not user_lists:
        return {"users_with_lists": 0, "refreshed_after_switch": caught_up}
    padded = np.full((len(user_lists), LIST_LENGTH), NO_ITEM, dtype=np.int64)
    for row, entries in enumerate(user_lists.values()):
        padded[row, : len(store.balanced(entries))] = store.balanced(entries)["movie"]
    reasons = np.concatenate([store.balanced(entries)["reason"] for entries in user_lists.values()])
    return {
        "users_with_lists": len(user_lists),
        "catalog_coverage@10": round(catalog_coverage(padded, n_items, 10), 4),
        f"catalog_coverage@{LIST_LENGTH}": round(catalog_coverage(padded, n_items, LIST_LENGTH), 4),
        "reasons_naming_a_movie": round(
            float(np.isin(reasons, [Reason.RATED, Reason.FAVORITED, Reason.WATCHED]).mean()), 4
        ),
        "refreshed_after_switch": caught_up,
    }


def _changed_users_refresh(*, since) -> int:
    """Refreshes, in the new version, users whose library changed while it trained: their refreshes went to
    the version it replaced. Returns how many."""
    parts = [
        model.objects.filter(**{f"{at}__gte": since}).order_by().values_list("user_id")
        for _, model, _, at in EVENT_SOURCES
    ]
    user_ids = [user_id for (user_id,) in parts[0].union(*parts[1:])]
    for user_id in user_ids:
        user_recommendations_refresh(user_id=user_id)
    return len(user_ids)


def recommender_training_enqueue(*, triggered_by: str, requested_by: User | None = None) -> ModelRun:
    """Queues a training (a ``queued`` run, picked up by the ``train_model`` task once this transaction
    commits)."""
    run = ModelRun.objects.create(triggered_by=triggered_by, requested_by=requested_by)
    transaction.on_commit(lambda: signature(TRAIN_TASK, kwargs={"run_id": run.pk}).delay())
    return run


def recommender_train_queued(*, run_id: int) -> ModelRun:
    """Runs the queued training ``run_id`` (the ``train_model`` task). Its message comes back when a worker dies
    mid-way: a run found ``running`` starts over once, after discarding what the lost attempt wrote (the version
    it served stays live meanwhile); one that died again is given up as failed, so that a training that kills
    its worker (out of memory) cannot loop; one that had finished is not run again."""
    run = ModelRun.objects.get(pk=run_id)
    if run.status in (ModelRun.Status.SUCCEEDED, ModelRun.Status.FAILED):
        logger.warning("Recommender training run %s was delivered again after it %s: not run again", run.pk, run.status)
        return run
    if run.status == ModelRun.Status.RUNNING:
        logger.warning("Recommender training %s lost its worker (attempt %s)", run.version, run.attempts)
        _unfinished_version_discard(run.version)
        if run.attempts >= MAX_TRAINING_ATTEMPTS:
            run.status, run.finished_at = ModelRun.Status.FAILED, timezone.now()
            run.error = f"its worker died in each of {run.attempts} attempts (out of memory?)"
            run.save(update_fields=["status", "finished_at", "error"])
            return run
    ModelRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1)
    return recommender_train(run_id=run.pk, shard_users=fan_out_shard_users())


def fan_out_shard_users() -> int:
    """Users per precompute shard for trainings on the workers (``NEXUS_PRECOMPUTE_SHARD_USERS``), or 0: in the
    training's own process (no result backend for the chord, or the setting is 0)."""
    return settings.NEXUS_PRECOMPUTE_SHARD_USERS if settings.CELERY_RESULT_BACKEND else 0
