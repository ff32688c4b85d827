"""The outbox of per-user refreshes: a change to a user's library is never lost on its way to their list.

A change records a ``PendingRefresh`` row in its own transaction (``refresh_request_record``). Once it commits,
``refresh_publish`` queues the ``refresh_user`` task; when the broker or Redis is down that fails quickly and
the row simply stays. ``refresh_requests_drain`` queues a refresh for every row left (a periodic task, and once
whenever a worker starts), and the refresh deletes the row when it has read the change (``user_refresh_run``).
So a refresh can run twice, never not at all.
"""

import logging
import time
import uuid
from contextlib import suppress

from django.utils import timezone
from kombu.exceptions import OperationalError

from recommender import store
from recommender.models import PendingRefresh
from recommender.tasks import refresh_user

logger = logging.getLogger(__name__)

# After a failed publish this process stops trying for a while: requests during a broker outage pay for one
# timeout, not one each. What they record waits in the outbox for the drain.
PUBLISH_PAUSE_SECONDS = 10.0
DRAIN_BATCH = 5_000

_publishing_paused_until = 0.0


def refresh_request_record(*, user_id: int) -> None:
    """Records, in the caller's transaction, that the user's list must be recomputed (one row per user: a
    second change replaces the token of the first)."""
    PendingRefresh.objects.bulk_create(
        [PendingRefresh(user_id=user_id, token=uuid.uuid4(), requested_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["token", "requested_at"],
    )


def refresh_publish(*, user_id: int) -> bool:
    """Queues the user's refresh unless one is queued already. Returns False when it could not be queued (the
    broker or the store is unreachable): the outbox row stays for ``refresh_requests_drain``."""
    global _publishing_paused_until
    if time.monotonic() < _publishing_paused_until:
        return False
    try:
        # A change that finds a refresh queued is picked up by it: the refresh reads the database after it
        # starts. The mark lives in the store: without it there is nothing to refresh into either.
        if not store.refresh_queued_mark(user_id=user_id):
            return True
    except store.StoreUnavailable:
        logger.warning("Refresh of user %s left in the outbox: the recommendation store is unreachable", user_id)
        return False
    try:
        refresh_user.delay(user_id=user_id)
    except OperationalError:
        _publishing_paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
        logger.warning("Refresh of user %s left in the outbox: the broker is unreachable", user_id, exc_info=True)
        # Nothing is queued: let the drain queue it (without the store, the mark expires by itself).
        with suppress(store.StoreUnavailable):
            store.refresh_queued_clear(user_id=user_id)
        return False
    return True


def refresh_requests_drain() -> int:
    """Queues a refresh for every user still in the outbox (oldest first, at most ``DRAIN_BATCH`` a call);
    stops at the first that cannot be queued. Returns how many were handled."""
    global _publishing_paused_until
    _publishing_paused_until = 0.0  # the drain is the retry: always try
    user_ids = PendingRefresh.objects.order_by("requested_at").values_list("user_id", flat=True)[:DRAIN_BATCH]
    drained = 0
    for user_id in user_ids:
        if not refresh_publish(user_id=user_id):
            break
        drained += 1
    if drained:
        logger.info("Outbox: %s pending refresh(es) queued", drained)
    return drained


def user_refresh_run(*, user_id: int) -> bool:
    """Refreshes the user's list (``recommender.services.user_recommendations_refresh``) and settles their
    outbox row — unless a change came in after the refresh read the library, which keeps it pending.

    Returns what the refresh returns. When it raises (Redis down, worker lost) the row stays for a retry.
    """
    from recommender.services import user_recommendations_refresh

    # Read before the refresh reads the library: a change whose row this does not see had not committed yet, so
    # it replaces the token and its row survives the delete below.
    token = PendingRefresh.objects.filter(user_id=user_id).values_list("token", flat=True).first()
    refreshed = user_recommendations_refresh(user_id=user_id)
    # A refresh without a model (none trained yet) settles too: the first training covers every user.
    if token is not None:
        PendingRefresh.objects.filter(user_id=user_id, token=token).delete()
    return refreshed
