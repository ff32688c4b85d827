"""Queues by job (README, "Scaling"): refreshes, precompute shards and trainings each go to a queue of their own,
so that a long training never delays a user's refresh; the rest goes to the default queue."""

import os
import subprocess

import pytest
from django.conf import settings
from kombu import Connection

from nexus.celery import app
from tests.conftest import need
from tests.servers import PROJECT_DIR, PYTHON, queues_of

ROUTED = {
    "recommender.tasks.refresh_user": "refresh",
    "recommender.tasks.precompute_shard": "precompute",
    "recommender.tasks.precompute_finish": "training",
    "recommender.tasks.train_model": "training",
}
UNROUTED = (
    "recommender.tasks.refresh_outbox_drain",
    "recommender.tasks.train_model_scheduled",
    "users.tasks.movie_statistics_repair",
)


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize(("task_name", "job"), ROUTED.items())
def test_each_job_has_its_queue(task_name, job):
    assert queue_of(task_name) == settings.NEXUS_QUEUES[job]


@pytest.mark.parametrize("task_name", UNROUTED)
def test_everything_else_goes_to_the_default_queue(task_name):
    assert queue_of(task_name) == settings.CELERY_TASK_DEFAULT_QUEUE


def test_a_worker_without_queues_given_consumes_every_queue():
    # The configured queues (a worker process starts from them); app.amqp.queues of this test process also holds
    # the queues that other tests sent tasks to.
    assert {queue.name for queue in app.conf.task_queues} == set(queues_of(settings.CELERY_TASK_DEFAULT_QUEUE))


PUBLISH = """
import django
django.setup()
from celery import signature
from nexus.celery import app
with app.connection_for_write() as connection:
    for queue in app.amqp.queues.values():  # every queue and its binding, as workers declare them
        queue(connection.default_channel).declare()
    for name, kwargs in (("recommender.tasks.refresh_user", {"user_id": 0}),
                         ("recommender.tasks.train_model", {"run_id": 0}),
                         ("recommender.tasks.refresh_outbox_drain", {})):
        signature(name, kwargs=kwargs).apply_async(connection=connection)
"""


def test_tasks_published_by_name_reach_their_queues_on_the_broker(tmp_path):
    """What the library and the training do (queue by name, users/events.py, recommender/training.py), in a process
    whose default queue is its own, with every queue declared as a worker declares them: each message waits in its
    job's queue, and only there."""
    need(bool(settings.CELERY_BROKER_URL), "needs a broker: set CELERY_BROKER_URL=amqp://...")
    default = f"nexus-queues-test-{os.getpid()}"
    env = {**os.environ, "CELERY_TASK_DEFAULT_QUEUE": default, "DJANGO_SETTINGS_MODULE": "nexus.settings"}
    queues = queues_of(default)
    try:
        done = subprocess.run([PYTHON, "-c", PUBLISH], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        with Connection(settings.CELERY_BROKER_URL) as broker:
            channel = broker.default_channel
            waiting = {name: channel.queue_declare(name, passive=True).message_count for name in queues}
        # One message each: no queue is bound to another's messages.
        assert waiting == {default: 1, f"{default}.refresh": 1, f"{default}.precompute": 0, f"{default}.training": 1}
    finally:
        with Connection(settings.CELERY_BROKER_URL) as broker:
            for name in queues:
                broker.default_channel.queue_delete(name)
