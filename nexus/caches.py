"""Cache roles: which Django cache alias keeps what. nexus/settings.py configures each from its own URL
(``REDIS_CACHE_URL``, ``REDIS_LIMITS_URL``, ``REDIS_STORE_URL``, each ``REDIS_URL`` unless set); docs/security.md
("Redis layout") says which Redis eviction policy each needs.

- ``default`` — volatile: cached responses, persisted documents, movie cards. Anything may be evicted at any
  time (production: maxmemory with allkeys-lru), so what clients send can fill it without harm.
- ``limits`` — state that must never be evicted: rate-limit counters, persisted-document registrations, login
  throttles, data versions (production: noeviction). Evicting a counter would reset a limit; evicting a version
  could serve stale answers.
- ``recommendations`` — the recommender's score store (recommender/store.py; noeviction, persisted).
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import caches
from django.utils.connection import ConnectionProxy

logger = logging.getLogger(__name__)
T = TypeVar("T")

LIMITS = "limits"

# Like ``django.core.cache.cache`` for ``default``: resolved on every use, so that settings overrides apply.
limits_cache = ConnectionProxy(caches, LIMITS)


def quietly(what: str, operation: Callable[[], T], default: T = None) -> T:
    """``operation()`` on a cache whose loss costs only the work it saves: when the cache is unreachable, logs
    "``what``: the cache is unreachable" and returns ``default``."""
    try:
        return operation()
    except Exception:  # noqa: BLE001 - an unreachable cache must only switch caching off
        logger.warning("%s: the cache is unreachable", what, exc_info=True)
        return default
