# ruff: noqa: F811 - tests take the fixtures imported from tests.faults and tests.recommender.support
"""A worker killed (SIGKILL) in the middle of a training: readers keep the previous model, the training's message
goes back to the broker, and a new worker finishes the same run. What a dead attempt leaves behind (a half-written
version, a model folder) is discarded when its run starts over; a run whose worker died twice is given up, and a
finished run delivered again is not trained again."""

import pickle
from pathlib import Path

import numpy as np
import psycopg2
import pytest
import redis
from django.conf import settings
from django.core.cache import caches

from recommender import store, tasks
from recommender.models import ModelRun
from tests.faults import (  # noqa: F401 - prepared is a fixture
    broker_up,
    held_table,
    manage,
    prepared,
    rabbitmq_service,
    stack_copy,
    stopped_at_exit,
    wait_for,
    worker_service,
)
from tests.recommender.support import empty_store  # noqa: F401 - a fixture

ENQUEUE = (
    "from django.db import transaction\n"
    "from recommender.training import recommender_training_enqueue\n"
    "with transaction.atomic():\n"
    "    run = recommender_training_enqueue(triggered_by='staff')\n"
    "print(run.pk)"
)


def run_row(database_url: str, run_id: int) -> dict:
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status, version, attempts FROM recommender_modelrun WHERE id = %s", [run_id])
        status, version, attempts = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM recommender_modelrun WHERE status = 'running'")
        (running,) = cursor.fetchone()
    return {"status": status, "version": version, "attempts": attempts, "running_runs": running}


def live_version(redis_url: str) -> str | None:
    client = redis.Redis.from_url(f"{redis_url}/0")
    try:
        pointer = client.get(f"nexus-recommendations:1:{store.POINTER_KEY}")
    finally:
        client.close()
    return pickle.loads(pointer)[0] if pointer else None  # noqa: S301 - our own store's value


def test_a_training_whose_worker_is_killed_completes_on_a_new_worker(prepared, tmp_path):
    broker, broker_url = rabbitmq_service(tmp_path / "rabbitmq")
    with stack_copy(prepared, tmp_path) as stack:
        env = {**stack["env"], "CELERY_BROKER_URL": broker_url, "CELERY_TASK_DEFAULT_QUEUE": "nexus-faults"}
        database_url, redis_url = env["DATABASE_URL"], stack["redis_url"]
        previous = live_version(redis_url)
        assert previous is not None
        first = worker_service(env, tmp_path / "first-worker.log")
        second = worker_service(env, tmp_path / "second-worker.log")
        with stopped_at_exit(first, second, broker):
            broker.start()
            wait_for(lambda: broker_up(broker_url), timeout=60, what="RabbitMQ starts", log=broker.log)
            first.start()
            wait_for(lambda: " ready." in first.log.read_text(), timeout=60, what="worker ready", log=first.log)

            # Holding the ratings table keeps the training in its first step however fast the machine is, so the
            # worker is surely killed in the middle of it.
            with held_table(database_url, "users_rating"):
                run_id = int(manage(env, "shell", "--no-imports", "--command", ENQUEUE).stdout.split()[-1])
                wait_for(
                    lambda: run_row(database_url, run_id)["status"] == "running",
                    timeout=30,
                    what="the first worker starts the training",
                    log=first.log,
                )
                first.kill()
            lost = run_row(database_url, run_id)
            assert lost["status"] == "running" and lost["attempts"] == 1, lost
            assert live_version(redis_url) == previous  # readers keep the previous model

            second.start()
            wait_for(
                lambda: run_row(database_url, run_id)["status"] in {"succeeded", "failed"},
                timeout=60,
                what="the second worker finishes the training",
                log=second.log,
            )
            finished = run_row(database_url, run_id)
            assert finished == {"status": "succeeded", "version": finished["version"], "attempts": 2, "running_runs": 0}
            assert live_version(redis_url) == finished["version"] != previous
            assert "lost its worker" in second.log.read_text()


# --- The same, in process: what the service does with a run delivered again ----------------------------------------


def dead_attempt(version: str, *, attempts: int) -> ModelRun:
    """A run that a dead worker left ``running``, with a half-written version in the store and a model folder."""
    run = ModelRun.objects.create(
        triggered_by=ModelRun.Trigger.STAFF, status=ModelRun.Status.RUNNING, version=version, attempts=attempts
    )
    entries = store.empty_entries(3)
    entries["movie"] = [1, 2, 3]
    similar = np.zeros((1, 2), dtype=store.SIMILAR_ENTRY)
    store.version_write(
        version=version, user_lists={1: entries}, similar_movie_ids=np.array([1]), similar=similar, trending={}
    )
    folder = Path(settings.NEXUS_MODEL_DIR) / version
    folder.mkdir(parents=True)
    (folder / "model.npz").write_bytes(b"half a model")
    return run


def leftovers(version: str) -> list[str]:
    found = []
    if caches[store.ALIAS].get(f"{version}:manifest") is not None:
        found.append("manifest")
    if caches[store.ALIAS].get(f"{version}:user:{{1}}") is not None:
        found.append("user list")
    if (Path(settings.NEXUS_MODEL_DIR) / version).exists():
        found.append("model folder")
    return found


@pytest.mark.usefixtures("movielens")
def test_a_run_delivered_again_discards_the_dead_attempt_and_trains(empty_store):
    run = dead_attempt("dead-attempt", attempts=1)
    assert leftovers("dead-attempt") == ["manifest", "user list", "model folder"]

    tasks.train_model(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.attempts) == (ModelRun.Status.SUCCEEDED, 2)
    assert store.current_version() == run.version != "dead-attempt"
    assert leftovers("dead-attempt") == []


@pytest.mark.usefixtures("movielens")
def test_a_run_whose_worker_died_twice_is_given_up(empty_store):
    run = dead_attempt("died-twice", attempts=2)

    tasks.train_model(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == ModelRun.Status.FAILED and "2 attempts" in run.error
    assert leftovers("died-twice") == []
    assert store.current_version() is None  # nothing was trained


@pytest.mark.usefixtures("movielens")
def test_a_finished_run_delivered_again_is_not_trained_again(empty_store):
    run = ModelRun.objects.create(
        triggered_by=ModelRun.Trigger.STAFF, status=ModelRun.Status.SUCCEEDED, version="done", attempts=1
    )

    tasks.train_model(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.version, run.attempts) == (ModelRun.Status.SUCCEEDED, "done", 1)
    assert store.current_version() is None
