"""The library's periodic work (Celery beat, settings.CELERY_BEAT_SCHEDULE); tasks stay thin."""

from celery import shared_task

from users.statistics import movie_stats_refresh


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=600, time_limit=660)
def movie_statistics_repair() -> None:
    """Recompute every movie's rating statistics from the ratings: ratings add their changes one by one
    (users.statistics.movie_stats_add); this repairs whatever could have drifted (a write outside the services,
    a restored backup). Writes, and invalidates, only the movies whose statistics were wrong."""
    movie_stats_refresh()
