# ruff: noqa: F811 - tests take the fixtures imported from tests.faults
"""Precompute fanned out to real Celery workers over RabbitMQ (recommender/training.py, docs/scaling.md): each test
has its own copy of a small trained stack (tests/faults.py: database, Redis, model folder) and its own queues on the
machine's broker. `train_recommender --shards N` runs in the foreground while the workers take the shards."""

import os
import pickle
import re
import shutil
import subprocess
import time
from pathlib import Path

import psycopg2
import pytest
import redis
from django.conf import settings
from kombu import Connection

from recommender import store
from tests.conftest import need
from tests.faults import (  # noqa: F401 - prepared is a fixture
    Service,
    held_table,
    manage,
    prepared,
    stack_copy,
    stopped_at_exit,
    wait_for,
)
from tests.servers import PROJECT_DIR, PYTHON, queues_of

PREFIX = "nexus-recommendations:1:"


@pytest.fixture
def stack(prepared, tmp_path):
    """A copy of the prepared stack on the machine's broker, with queues of its own (deleted afterwards)."""
    need(bool(settings.CELERY_BROKER_URL), "needs a broker: set CELERY_BROKER_URL=amqp://...")
    queue = f"nexus-precompute-test-{os.getpid()}-{time.monotonic_ns()}"
    with stack_copy(prepared, tmp_path) as copy:
        copy["env"].update(CELERY_BROKER_URL=settings.CELERY_BROKER_URL, CELERY_TASK_DEFAULT_QUEUE=queue)
        copy["queue"] = queue
        try:
            yield copy
        finally:
            with Connection(settings.CELERY_BROKER_URL) as broker:
                for name in queues_of(queue):
                    broker.default_channel.queue_delete(name)


def worker_service(stack, log: Path, *, rank_threads: int = 1) -> Service:
    """A worker on every queue of the stack, with a node name of its own (the broker is shared), ranking on
    ``rank_threads`` threads (``NEXUS_RANK_THREADS``, 1 as the image's worker role sets it)."""
    queues = ",".join(queues_of(stack["queue"]))
    command = [PYTHON, "-m", "celery", "-A", "nexus", "worker", "-Q", queues, "-c", "1", "-l", "info"]
    command += ["-n", f"{log.stem}-{stack['queue']}@%h", "--without-gossip", "--without-mingle"]
    env = {**stack["env"], "PYTHONUNBUFFERED": "1", "NEXUS_RANK_THREADS": str(rank_threads)}
    return Service("worker", command, env=env, log=log)


def redis_of(stack) -> redis.Redis:
    return redis.Redis.from_url(f"{stack['redis_url']}/0")


def live_version(stack) -> str:
    with redis_of(stack) as client:
        return pickle.loads(client.get(f"{PREFIX}{store.POINTER_KEY}"))[0]  # noqa: S301 - our own store's value


def lists_of(stack, version: str) -> dict[int, list]:
    """Every user list of a version, by user id, as plain lists of records."""
    with redis_of(stack) as client:
        keys = client.keys(f"{PREFIX}{version}:user:*")
        values = client.mget(keys)
    return {
        int(key.decode().rsplit("{", 1)[1].rstrip("}")): pickle.loads(value).tolist()  # noqa: S301 - ours
        for key, value in zip(keys, values, strict=True)
    }


def assert_same_lists(lists: dict[int, list], expected: dict[int, list]) -> None:
    """The same movies in the same order, for the same reasons; scores equal up to float32 rounding (the content
    score's BLAS product rounds by the shape of the batch of users, and a shard's batches are smaller)."""
    assert lists.keys() == expected.keys()
    for user_id, entries in lists.items():
        without_scores = [(movie, *rest) for movie, _, *rest in entries]
        assert without_scores == [(movie, *rest) for movie, _, *rest in expected[user_id]], user_id
        scores = [score for _, score, *_ in entries]
        assert scores == pytest.approx([score for _, score, *_ in expected[user_id]], rel=1e-6), user_id


def latest_run(stack) -> dict:
    with psycopg2.connect(stack["env"]["DATABASE_URL"]) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status, version, error, metrics FROM recommender_modelrun ORDER BY id DESC LIMIT 1")
        status, version, error, metrics = cursor.fetchone()
    return {"status": status, "version": version, "error": error, "metrics": metrics}


def shards_run_by(worker) -> int:
    return worker.log.read_text().count("Task recommender.tasks.precompute_shard[")


def ranked_on_threads(worker) -> list[int]:
    """How many threads each shard the worker ran ranked its lists on (recommender.precompute's log line)."""
    return [int(threads) for threads in re.findall(r"lists ranked on (\d+) threads? in", worker.log.read_text())]


def test_shards_on_two_workers_give_the_lists_of_one_process(stack, tmp_path):
    """Each worker's shards rank on the threads it is configured with (NEXUS_RANK_THREADS: 1, as the image's
    worker role sets it, and 3, more than this machine's CPUs), and the lists are those of the one process that
    ranked on one thread per CPU."""
    previous = live_version(stack)
    one_process = lists_of(stack, previous)
    workers = [
        worker_service(stack, tmp_path / f"worker-{number}.log", rank_threads=threads)
        for number, threads in ((1, 1), (2, 3))
    ]
    with stopped_at_exit(*workers):
        for worker in workers:
            worker.start()
        for worker in workers:
            wait_for(lambda w=worker: " ready." in w.log.read_text(), timeout=60, what="worker ready", log=worker.log)

        manage(stack["env"], "train_recommender", "--shards", "4")

        run = latest_run(stack)
        assert run["status"] == "succeeded" and run["metrics"]["shards"] == 4
        assert live_version(stack) == run["version"] != previous
        assert_same_lists(lists_of(stack, run["version"]), one_process)
        assert all(shards_run_by(worker) > 0 for worker in workers)  # both workers took shards
        assert sum(shards_run_by(worker) for worker in workers) == 4 * 2  # "received" and "succeeded" lines
        for worker, threads in zip(workers, (1, 3), strict=True):
            assert ranked_on_threads(worker) == [threads] * (shards_run_by(worker) // 2), worker.log


def training_in_background(stack, tmp_path) -> subprocess.Popen:
    """`train_recommender --shards 2` started with no worker up: once its shards wait in the broker's precompute
    queue, the model they need is saved (the training saves it before it queues them)."""
    log = (tmp_path / "train.log").open("wb")
    command = [PYTHON, "manage.py", "train_recommender", "--shards", "2", "--timeout", "120"]
    training = subprocess.Popen(command, cwd=PROJECT_DIR, env=stack["env"], stdout=log, stderr=subprocess.STDOUT)
    precompute = f"{stack['queue']}.precompute"

    def shards_waiting() -> bool:
        with Connection(settings.CELERY_BROKER_URL) as broker:
            return broker.default_channel.queue_declare(precompute, passive=True).message_count == 2

    wait_for(shards_waiting, timeout=120, what="the training queued its shards", log=tmp_path / "train.log")
    return training


def test_a_failing_shard_is_retried_and_the_run_completes(stack, tmp_path):
    """The model folder is away when the shard first runs (an unmounted volume), back before its retry."""
    previous = live_version(stack)
    training = training_in_background(stack, tmp_path)
    model_folder = Path(stack["env"]["NEXUS_VAR_DIR"]) / "models" / latest_run(stack)["version"]
    shutil.move(model_folder, tmp_path / "away")
    worker = worker_service(stack, tmp_path / "worker.log")
    with stopped_at_exit(worker):
        worker.start()
        wait_for(lambda: "Retry in" in worker.log.read_text(), timeout=60, what="a shard retried", log=worker.log)
        shutil.move(tmp_path / "away", model_folder)
        assert training.wait(timeout=120) == 0, (tmp_path / "train.log").read_text()[-3000:]

    run = latest_run(stack)
    assert run["status"] == "succeeded"
    assert live_version(stack) == run["version"] != previous


def test_a_shard_that_keeps_failing_fails_the_run_and_the_old_version_stays(stack, tmp_path):
    previous = live_version(stack)
    training = training_in_background(stack, tmp_path)
    version = latest_run(stack)["version"]
    shutil.rmtree(Path(stack["env"]["NEXUS_VAR_DIR"]) / "models" / version)
    worker = worker_service(stack, tmp_path / "worker.log")
    with stopped_at_exit(worker):
        worker.start()
        assert training.wait(timeout=120) != 0

    run = latest_run(stack)
    assert run["status"] == "failed"
    assert "precompute shard" in run["error"] and "after 3 attempts" in run["error"], run["error"]
    assert f"Training {version} failed" in (tmp_path / "train.log").read_text()
    assert live_version(stack) == previous  # readers never saw the new version
    assert lists_of(stack, version) == {}  # what the shard that succeeded wrote is discarded


def shard_waiting_on_the_lock(stack) -> bool:
    """A shard's COPY of its users' events is running in some worker's connection, waiting for a lock."""
    with psycopg2.connect(stack["env"]["DATABASE_URL"]) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE 'COPY %'"
        )
        return cursor.fetchone()[0] == 1


def messages_in(queue: str) -> int:
    with Connection(settings.CELERY_BROKER_URL) as broker:
        return broker.default_channel.queue_declare(queue, passive=True).message_count


RECEIVED = r"Task recommender\.tasks\.precompute_shard\[([0-9a-f-]+)\] received"


def test_a_worker_killed_in_the_middle_of_a_shard_loses_nothing(stack, tmp_path):
    """The worker (main process and pool child) is SIGKILLed while its shard waits for the ratings table (held by
    the test: the shard is surely in the middle of its work); RabbitMQ puts the unacknowledged message back when
    the worker's connection closes, and a second worker runs that same task (same id) and the other shard."""
    previous = live_version(stack)
    one_process = lists_of(stack, previous)
    training = training_in_background(stack, tmp_path)
    precompute = f"{stack['queue']}.precompute"
    first = worker_service(stack, tmp_path / "first.log")
    second = worker_service(stack, tmp_path / "second.log")
    with stopped_at_exit(first, second):
        with held_table(stack["env"]["DATABASE_URL"], "users_rating"):
            first.start()
            wait_for(lambda: shard_waiting_on_the_lock(stack), timeout=60, what="a shard reads", log=first.log)
            received = re.findall(RECEIVED, first.log.read_text())
            assert len(received) == 1, first.log.read_text()[-3000:]  # prefetch 1: the other shard waits
            assert messages_in(precompute) == 1
            first.kill()  # SIGKILL to the process group: the worker and its pool child
        wait_for(lambda: messages_in(precompute) == 2, timeout=30, what="the shard's message back in its queue")

        second.start()
        assert training.wait(timeout=120) == 0, (tmp_path / "train.log").read_text()[-3000:]

    assert f"precompute_shard[{received[0]}] succeeded" in second.log.read_text()  # the same task, redelivered
    assert shards_run_by(second) == 2 * 2  # both shards, once each ("received" and "succeeded" lines)
    assert "] succeeded" not in first.log.read_text()
    run = latest_run(stack)
    assert run["status"] == "succeeded" and run["metrics"]["shards"] == 2
    assert live_version(stack) == run["version"] != previous
    assert_same_lists(lists_of(stack, run["version"]), one_process)
