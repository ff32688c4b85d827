"""The recommender's side of the library's outbox: every change to a user's library reaches their list.

The library records each change as a ``users.models.LibraryChange`` row in the change's own transaction and, once
it commits, queues the ``refresh_user`` task by name (``users.events``); when the broker or Redis is down that
fails quickly and the row simply stays. ``refresh_requests_drain`` queues a refresh for every row left (a periodic
task, and once whenever a worker starts), and the refresh deletes the row when it has read the change
(``user_refresh_run``). So a refresh can run twice, never not at all.
"""

import logging

from recommender import refresh
from users import events
from users.models import LibraryChange

logger = logging.getLogger(__name__)

DRAIN_BATCH = 5_000


def refresh_requests_drain() -> int:
    """Queues a refresh for every user still in the outbox (oldest first, at most ``DRAIN_BATCH`` a call);
    stops at the first that cannot be queued. Returns how many were handled."""
    events.refresh_publishing_resume()  # the drain is the retry: always try
    user_ids = LibraryChange.objects.order_by("requested_at").values_list("user_id", flat=True)[:DRAIN_BATCH]
    drained = 0
    for user_id in user_ids:
        if not events.refresh_publish(user_id=user_id):
            break
        drained += 1
    if drained:
        logger.info("Outbox: %s pending refresh(es) queued", drained)
    return drained


def user_refresh_run(*, user_id: int) -> bool:
    """Refreshes the user's list (``recommender.refresh.user_recommendations_refresh``) and settles their
    outbox row — unless a change came in after the refresh read the library, which keeps it pending.

    Returns what the refresh returns. When it raises (Redis down, worker lost) the row stays for a retry.
    """
    # Read before the refresh reads the library: a change whose row this does not see had not committed yet, so
    # it replaces the token and its row survives the delete below.
    token = LibraryChange.objects.filter(user_id=user_id).values_list("token", flat=True).first()
    refreshed = refresh.user_recommendations_refresh(user_id=user_id)
    # A refresh without a model (none trained yet) settles too: the first training covers every user.
    if token is not None:
        LibraryChange.objects.filter(user_id=user_id, token=token).delete()
    return refreshed
