"""Library events: the library records that a user's library changed; the layers above it react without the
library knowing them (it never imports the recommender).

``library_changed`` writes a ``LibraryChange`` row in the caller's transaction, so the event exists exactly when
the change does, whatever happens to the broker or Redis afterwards. Once the transaction commits,
``refresh_publish`` queues the recommender's refresh task by its name; when the broker or Redis is down that
fails quickly and the row simply stays. The recommender drains the rows left (``recommender.outbox``) and deletes
a row when a refresh has read the change it stands for. So a refresh can run twice, never not at all.
"""

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from celery import signature
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from nexus.caches import limits_cache
from users.models import LibraryChange

logger = logging.getLogger(__name__)

REFRESH_TASK = "recommender.tasks.refresh_user"
# While a user's refresh is queued, further changes ride along with it; after this, a lost one is re-queued.
REFRESH_QUEUED_SECONDS = 60
# After a failed publish this process stops trying for a while: requests during a broker outage pay for one
# timeout, not one each. What they record waits in the outbox for the drain.
PUBLISH_PAUSE_SECONDS = 10.0

_publishing_paused_until = 0.0
# Users whose change the current batch recorded already (``library_changes_batched``).
_batch: ContextVar[set[int] | None] = ContextVar("library_changes_batch", default=None)


def library_changed(*, user_id: int) -> None:
    """Records, in the caller's transaction, that the user's library changed (one row per user: a second change
    replaces the token of the first), and queues the refresh of their recommendations once it commits; a burst
    of changes runs one refresh."""
    batch = _batch.get()
    if batch is not None and user_id in batch:
        return  # recorded in this transaction already (its row stays locked): its refresh follows the commit
    LibraryChange.objects.bulk_create(
        [LibraryChange(user_id=user_id, token=uuid.uuid4(), requested_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["token", "requested_at"],
    )
    transaction.on_commit(lambda: refresh_publish(user_id=user_id), robust=True)
    if batch is not None:
        batch.add(user_id)


@contextmanager
def library_changes_batched() -> Iterator[None]:
    """Inside one transaction (an import of a whole library): a user's first change is recorded and queues one
    refresh after the commit; the following ones ride along with it instead of writing the outbox again."""
    token = _batch.set(set())
    try:
        yield
    finally:
        _batch.reset(token)


def _refresh_queued_key(user_id: int) -> str:
    return f"refresh-queued:{user_id}"


def refresh_publish(*, user_id: int) -> bool:
    """Queues the user's refresh unless one is queued already. Returns False when it could not be queued (the
    broker or Redis is unreachable): the ``LibraryChange`` row stays for the recommender's drain."""
    global _publishing_paused_until
    if time.monotonic() < _publishing_paused_until:
        return False
    # A change that finds a refresh queued is picked up by it: the refresh reads the database after it starts.
    # The mark lives in the never-evicted cache that web processes and workers share on Redis (in-process without
    # Redis, where tasks run eagerly); that cache logs and ignores Redis errors, and answers None.
    marked = limits_cache.add(_refresh_queued_key(user_id), True, timeout=REFRESH_QUEUED_SECONDS)
    if marked is None:
        logger.warning("Refresh of user %s left in the outbox: Redis is unreachable", user_id)
        return False
    if not marked:
        return True
    try:
        # A little later: a burst of changes (rating several movies in a row) then costs one refresh.
        signature(REFRESH_TASK, kwargs={"user_id": user_id}).apply_async(countdown=settings.NEXUS_REFRESH_DELAY_SECONDS)
    except OperationalError:
        _publishing_paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
        logger.warning("Refresh of user %s left in the outbox: the broker is unreachable", user_id, exc_info=True)
        # Nothing is queued: let the drain queue it (without Redis, the mark expires by itself).
        refresh_queued_clear(user_id=user_id)
        return False
    return True


def refresh_publishing_resume() -> None:
    """Ends a pause after a failed publish: the drain is the retry, and always tries."""
    global _publishing_paused_until
    _publishing_paused_until = 0.0


def refresh_queued_clear(*, user_id: int) -> None:
    """The refresh has started: the next change must queue another one."""
    limits_cache.delete(_refresh_queued_key(user_id))
