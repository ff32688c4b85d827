"""The catalog's periodic work (Celery beat, settings.CELERY_BEAT_SCHEDULE); tasks stay thin."""

from celery import shared_task

from catalog.tmdb.sync import sync_nightly


@shared_task(acks_late=True, soft_time_limit=4 * 3600, time_limit=4 * 3600 + 60)
def tmdb_sync_nightly() -> None:
    """Movies TMDb changed since the last sync, and new releases (catalog/tmdb/sync.py); a run that stopped is
    resumed by the next one. Does nothing, and logs that the sync is off, without a TMDb key."""
    sync_nightly()
