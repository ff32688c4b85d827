"""Data versions: counters in the shared ``limits`` cache (never evicted: nexus/caches.py) that cached data is keyed
by, so that bumping one makes everything cached under the old value unreachable at once (it then simply expires).

A bump runs once the current transaction commits: bumped earlier, a reader could still read the old data and
cache it under the new version. A counter that was lost (Redis flushed or restarted) restarts from the clock,
never from a value that entries may still be cached under. When the cache cannot be reached, versions read as
None: callers then neither read nor write what they would key by them.

Versions of shared data (the catalog's, the recommender model's) may also be read through ``recently_read``: a
copy per process, re-read at most every ``NEXUS_SHARED_VERSION_SECONDS``, so that a cached answer costs no round
trip for them. Entries keyed by them may then be served that much longer after a change made by another process;
a bump made in this process drops its copy at once. Per-user versions are always read afresh: users see their own
changes immediately.
"""

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from django.conf import settings
from django.db import transaction

from nexus.caches import limits_cache

logger = logging.getLogger(__name__)

T = TypeVar("T")
# name → (monotonic time read, value): this process' copies of shared versions.
_recent: dict[str, tuple[float, object]] = {}


def versions_get(keys: Sequence[str]) -> list[int] | None:
    """The current value of each counter (one round trip when all exist), or None when the cache is unreachable."""
    try:
        # A copy: with Redis down, django-redis answers every get_many with one shared {} that must stay empty.
        found = dict(limits_cache.get_many(keys))
        for key in keys:
            if key not in found:
                limits_cache.add(key, _fresh_version(), timeout=None)
                found[key] = limits_cache.get(key)
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
    forget_recent(key)
    try:
        limits_cache.incr(key)
    except ValueError:  # not set yet, or lost
        limits_cache.add(key, _fresh_version(), timeout=None)
    except Exception:  # noqa: BLE001 - an unreachable cache holds no stale entries to invalidate
        logger.warning("Data version %s not bumped: the cache is unreachable", key, exc_info=True)


def _fresh_version() -> int:
    return time.time_ns() // 1000


def recently_read(name: str, read: Callable[[], T]) -> T:
    """``read()``, or what it returned in this process less than ``NEXUS_SHARED_VERSION_SECONDS`` ago (None, for
    "unavailable", is never kept)."""
    max_age = settings.NEXUS_SHARED_VERSION_SECONDS
    now = time.monotonic()
    copy = _recent.get(name)
    if copy is not None and now - copy[0] < max_age:
        return copy[1]
    value = read()
    if value is not None and max_age > 0:
        _recent[name] = (now, value)
    return value


def forget_recent(name: str) -> None:
    """Drop this process' copy: the next ``recently_read`` reads again."""
    _recent.pop(name, None)


class VersionsBumpedOnChange:
    """Admin mixin: what staff save or delete bumps, once committed, the versions that cached readers of those
    objects are keyed by (``version_keys``, read before a deletion clears primary keys). Admins that delete through
    a service read the keys first and call ``versions_bump`` themselves."""

    def version_keys(self, objects: Iterable) -> set[str]:
        raise NotImplementedError

    @staticmethod
    def versions_bump(keys: Iterable[str]) -> None:
        for key in keys:
            version_bump(key)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self.versions_bump(self.version_keys([obj]))

    def delete_model(self, request, obj):
        keys = self.version_keys([obj])
        super().delete_model(request, obj)
        self.versions_bump(keys)

    def delete_queryset(self, request, queryset):
        keys = self.version_keys(queryset)
        super().delete_queryset(request, queryset)
        self.versions_bump(keys)
