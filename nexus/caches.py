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

from django.core.cache import caches
from django.utils.connection import ConnectionProxy

LIMITS = "limits"

# Like ``django.core.cache.cache`` for ``default``: resolved on every use, so that settings overrides apply.
limits_cache = ConnectionProxy(caches, LIMITS)
