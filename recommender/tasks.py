"""Celery tasks of the recommender: thin wrappers around its services (``recommender.training`` and
``recommender.outbox``), and the top of the recommender: no module imports it (the app registers it when Django
starts, ``recommender/apps.py``). Services and the library queue these tasks by name (``recommender.tasks.<name>``).

Every task acknowledges its message only when done (``acks_late``) and gives it back when its worker dies
(``reject_on_worker_lost``): a worker killed mid-task loses nothing, the message goes to another worker, so each
task must be safe to run again.
"""

import threading

from celery import Task, shared_task
from celery.signals import worker_process_init

from nexus.database import statement_timeout_lifted
from recommender import outbox, refresh, training
from recommender.models import ModelRun


@shared_task(acks_late=True, reject_on_worker_lost=True)
def train_model(*, run_id: int | None = None, triggered_by: str = ModelRun.Trigger.SCHEDULE) -> None:
    """Trains and activates a new version: the queued run ``run_id`` (after an import or a staff request), or
    a run of its own. A redelivered run starts over or, when it had finished, is left as it is."""
    with statement_timeout_lifted():  # training reads and writes whole tables
        if run_id is None:
            training.recommender_train(triggered_by=triggered_by)
        else:
            training.recommender_train_queued(run_id=run_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def train_model_scheduled() -> None:
    """The nightly retrain: queues a run (so that a redelivery finds it) and its ``train_model`` task."""
    training.recommender_training_enqueue(triggered_by=ModelRun.Trigger.SCHEDULE)


# Folding one user's row into a loaded model takes well under a second; the first refresh in a worker also
# loads the model from disk.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def refresh_user(*, user_id: int) -> None:
    """Rewrites one user's list in the current version after their library changed, and settles their outbox
    entry."""
    outbox.user_refresh_run(user_id=user_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=120, time_limit=180)
def refresh_outbox_drain() -> None:
    """Queues the refreshes that changes recorded while the broker or Redis was unreachable."""
    outbox.refresh_requests_drain()


class _PrecomputeShardTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Called once a shard has failed for good (its retries spent): its run fails, the live version stays."""
        reason = f"precompute shard {kwargs.get('shard')} failed after {self.request.retries + 1} attempts: {exc!r}"
        training.precompute_failed(run_id=kwargs["run_id"], reason=reason)


# Shards are minutes of work at most (5,000 users at ML-20M size: about 5 s); a failure is retried twice.
@shared_task(
    base=_PrecomputeShardTask,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=False,  # the chord's callback receives every shard's summary
    autoretry_for=(Exception,),
    max_retries=training.SHARD_RETRIES,
    retry_backoff=2,
    retry_jitter=False,
    soft_time_limit=20 * 60,
    time_limit=21 * 60,
)
def precompute_shard(*, run_id: int, version: str, shard: int, user_ids: list[int]) -> dict:
    """Ranks and writes one shard of users' lists under a fanned-out training's new version (not live yet)."""
    with statement_timeout_lifted():
        return training.precompute_shard_run(run_id=run_id, version=version, shard=shard, user_ids=user_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def precompute_finish(summaries: list, *, run_id: int, shards: int, snapshot_at: str) -> None:
    """The chord's callback: checks that every shard finished, then switches readers to the new version."""
    training.precompute_finished(summaries, run_id=run_id, shards=shards, snapshot_at=snapshot_at)


@worker_process_init.connect(weak=False)
def preload_live_model(**kwargs) -> None:
    """Each pool process reads the live model in the background as it starts, so that the first refresh it runs
    (a newcomer's first ratings, after a deploy) does not wait for the model to come off the disk."""
    threading.Thread(target=refresh.live_model_preload, name="live-model-preload", daemon=True).start()
