"""Read replicas (``DATABASE_REPLICA_URLS``, docs/scaling.md "Read replicas"): shared reads go to a replica,
everything else to the primary.

- Reads of the catalog's models (movies, genres, keywords, tags: the same for every viewer) go to a replica, one
  chosen per request (or per read outside requests).
- Writes go to the primary; so do reads of every other model — a signed-in user's library (ratings, favorites,
  watchlist, history), accounts, runs — so that a user reads what they just wrote (read-your-writes) whatever the
  replicas' lag.
- Once a request has written, and inside a transaction on the primary, every read of that request goes to the
  primary too: what a mutation returns shows what it wrote.

Migrations run on the primary only; replicas follow it by streaming replication.
"""

import random

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from nexus.request_context import request_memo

REPLICA_APPS = frozenset({"catalog"})
_PINNED, _CHOSEN = "nexus.database_router.pinned", "nexus.database_router.replica"


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica")]


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        if model._meta.app_label not in REPLICA_APPS or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        memo = request_memo()
        if memo is None:
            return random.choice(replica_aliases())  # noqa: S311 - load spreading, not security
        if memo.get(_PINNED):
            return DEFAULT_DB_ALIAS
        if _CHOSEN not in memo:
            memo[_CHOSEN] = random.choice(replica_aliases())  # noqa: S311 - load spreading, not security
        return memo[_CHOSEN]

    def db_for_write(self, model, **hints):
        memo = request_memo()
        if memo is not None:
            memo[_PINNED] = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, copied: rows from a replica relate to rows of the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
