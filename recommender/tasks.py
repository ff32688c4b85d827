"""Celery tasks of the recommender: thin wrappers around ``recommender.services``.

Services are imported inside the tasks because the services enqueue these tasks (HackSoft's pattern).
"""

from celery import shared_task

from recommender.models import ModelRun


@shared_task(acks_late=True)
def train_model(*, run_id: int | None = None, triggered_by: str = ModelRun.Trigger.SCHEDULE) -> None:
    """Trains and activates a new recommender version (after an import, nightly, or on a staff request)."""
    from recommender.services import recommender_train

    recommender_train(run_id=run_id, triggered_by=triggered_by)


# Folding one user's row into a loaded model takes well under a second; the first refresh in a worker also
# loads the model from disk.
@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def refresh_user(*, user_id: int) -> None:
    """Rewrites one user's list in the current version after their library changed."""
    from recommender.services import user_recommendations_refresh

    user_recommendations_refresh(user_id=user_id)
