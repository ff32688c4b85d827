"""Data versions: counters in the shared cache that cached data is keyed by, so that bumping one makes everything
cached under the old value unreachable at once (it then simply expires).

A bump runs once the current transaction commits: bumped earlier, a reader could still read the old data and
cache it under the new version. A counter that was lost (Redis flushed or restarted) restarts from the clock,
never from a value that entries may still be cached under. When the cache cannot be reached, versions read as
None: callers then neither read nor write what they would key by them.
"""

import logging
import time
from collections.abc import Sequence

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)


def versions_get(keys: Sequence[str]) -> list[int] | None:
    """The current value of each counter (one round trip when all exist), or None when the cache is unreachable."""
    try:
        # A copy: with Redis down, django-redis answers every get_many with one shared {} that must stay empty.
        found = dict(cache.get_many(keys))
        for key in keys:
            if key not in found:
                cache.add(key, _fresh_version(), timeout=None)
                found[key] = cache.get(key)
        if any(found[key] is None for key in keys):  # the cache ignored the write: nothing can be keyed safely
            return None
        return [int(found[key]) for key in keys]
    except Exception:  # noqa: BLE001 - an unreachable cache must only switch caching off
        logger.warning("Data versions unavailable: the cache is unreachable", exc_info=True)
        return None


def version_bump(key: str) -> None:
    """Bump the counter after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: version_bump_now(key))


def version_bump_now(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # not set yet, or evicted
        cache.add(key, _fresh_version(), timeout=None)
    except Exception:  # noqa: BLE001 - an unreachable cache holds no stale entries to invalidate
        logger.warning("Data version %s not bumped: the cache is unreachable", key, exc_info=True)


def _fresh_version() -> int:
    return time.time_ns() // 1000
