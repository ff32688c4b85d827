"""The importers' Celery tasks; thin: they call the importers."""

from celery import shared_task

from importers.library.run import library_import_run

# A large file (10 MB of CSV, some 200,000 rows) takes minutes, not half an hour.
IMPORT_SOFT_TIME_LIMIT = 15 * 60


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_SOFT_TIME_LIMIT + 60,
)
def library_import(job_id: int) -> str | None:
    """Import a user's uploaded library file (users.portability.import_job_create queues it by this name)."""
    return library_import_run(job_id=job_id)
