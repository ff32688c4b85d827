"""The Celery application. Tasks live in each app's ``tasks.py`` and stay thin: they call services."""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging, worker_init, worker_ready
from threadpoolctl import threadpool_limits

from nexus import metrics, request_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")

app = Celery("nexus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
metrics.connect_celery_signals()
request_context.connect_celery_signals()


@setup_logging.connect(weak=False)
def use_django_logging(**kwargs):
    """Workers and beat log like the web process (settings.LOGGING: JSON lines with request ids)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@worker_init.connect(weak=False)
def limit_blas_threads(sender=None, **kwargs):
    """Every pool process may train a model: BLAS gets cores / processes threads in each, so that a busy
    worker never runs more threads than there are cores. Runs before the pool starts (and before its processes
    load numpy, which reads these variables); an operator's own OPENBLAS_NUM_THREADS etc. wins."""
    cores = len(os.sched_getaffinity(0))
    concurrency = getattr(sender, "concurrency", None)  # "auto" is resolved later: one process per core
    processes = concurrency if isinstance(concurrency, int) and concurrency > 0 else cores
    threads = str(max(1, cores // processes))
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, threads)
    threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]))


@worker_ready.connect(weak=False)
def drain_refresh_outbox(sender=None, **kwargs):
    """A worker that starts (after an outage, typically) queues the per-user refreshes left in the outbox at once
    instead of waiting for beat's next drain."""
    from recommender.tasks import refresh_outbox_drain

    try:
        refresh_outbox_drain.delay()
    except Exception:  # noqa: BLE001 - beat's periodic drain is there when this one cannot be queued
        logging.getLogger(__name__).warning("Could not queue the outbox drain", exc_info=True)
