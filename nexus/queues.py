"""Celery queues by job (README, "Scaling"), so that a long training never delays a user's refresh: `worker`
containers consume refresh, precompute and the default queue (beat's small periodic tasks), `trainer` containers
training. A worker started without -Q consumes them all (the embedded default and development).

Read by nexus/settings.py, before Django is set up: nothing here imports Django.
"""

from kombu import Exchange, Queue

JOBS = ("refresh", "precompute", "training")


def job_queue(default_queue: str, job: str) -> str:
    """The queue of a job: its name, or ``<default queue>.<job>`` when the default queue is not Celery's own
    ("celery"), so that deployments (and tests) sharing one broker keep every queue apart with one setting.
    docker/entrypoint.sh names them the same way."""
    return job if default_queue == "celery" else f"{default_queue}.{job}"


def job_queues(default_queue: str) -> dict[str, str]:
    return {job: job_queue(default_queue, job) for job in JOBS}


def task_queues(default_queue: str) -> list[Queue]:
    """Each queue bound to an exchange of its own by its own name (as Celery creates a queue it is routed to):
    queues declared without one would all share the default exchange and routing key, and each would get every
    message."""
    return [
        Queue(name, Exchange(name), routing_key=name) for name in (default_queue, *job_queues(default_queue).values())
    ]
