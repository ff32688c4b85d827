"""The catalog's data version: one counter in the shared cache that every cached catalog response and movie card
(catalog/cards.py) is keyed by.

Anything that changes what catalog queries return bumps it once its transaction commits, so that what was cached
under the old version is never served again and simply expires: rating statistics that changed
(``movie_stats_refresh``), every MovieLens import (once, changed or not), a TMDb import that changed movies, and
admin edits of movies and genres.
"""

import logging
import time

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

_KEY = "catalog:version"


def catalog_version() -> int | None:
    """The current version, or None when the cache cannot be reached (callers then neither read nor write it)."""
    try:
        version = cache.get(_KEY)
        if version is None:
            cache.add(_KEY, _fresh_version(), timeout=None)
            version = cache.get(_KEY)
        return int(version) if version is not None else None
    except Exception:  # noqa: BLE001 - an unreachable cache must only switch caching off
        logger.warning("Catalog version unavailable: the cache is unreachable", exc_info=True)
        return None


def catalog_version_bump() -> None:
    """Bump the version after the current transaction commits (at once outside one): readers of the old data
    could otherwise cache it under the new version."""
    transaction.on_commit(catalog_version_bump_now)


def catalog_version_bump_now() -> None:
    """Bump the version at once: what ``catalog_version_bump`` runs when the transaction commits."""
    try:
        cache.incr(_KEY)
    except ValueError:  # not set yet, or evicted
        cache.add(_KEY, _fresh_version(), timeout=None)
    except Exception:  # noqa: BLE001 - an unreachable cache holds no stale responses to invalidate
        logger.warning("Catalog version not bumped: the cache is unreachable", exc_info=True)


def _fresh_version() -> int:
    # A counter that was lost (Redis flushed or restarted) restarts from the clock, never from a value that
    # responses may still be cached under.
    return time.time_ns() // 1000
