"""Catalog lists served from the cache: the count and the keys (sort key values and id) of the first movies of
each list (``selectors.movie_list`` with the same arguments), kept under the catalog version, so that requests
asking for other fields, or with variables that come down to the same arguments, share them; the movies
themselves come from their cards (catalog/cards.py).

An entry lives in Redis, shared by every process, and in a small copy per process, both keyed by the catalog
version: whatever changes a list (an import, an edit, rating statistics within their staleness bound) bumps it,
and the old entries are never read again. Pages are keyset windows (``nexus.keyset``): those the cached keys
hold (the first page, or the page after a key the entry holds) come from them; others (beyond the first
``CACHED_IDS``, or after a movie whose key changed since) read their keys from the database, with the cached count.
"""

import hashlib
from collections import OrderedDict
from functools import cached_property

import orjson
from django.core.cache import cache
from django.db.models import QuerySet

from catalog import selectors
from catalog.cache import catalog_version
from catalog.cards import movie_cards
from catalog.models import Movie
from nexus.caches import quietly
from nexus.keyset import keyset_slice

# Keys kept per list: every page a client reaches from the start with the largest page size, and one more to know
# whether more follow.
CACHED_IDS = 100
CACHED_KEYS = CACHED_IDS + 1
# Entries of an old catalog version are never read again: they only need to outlive the version.
LIST_TIMEOUT = 60 * 60
LOCAL_ENTRIES = 256

# (count, keys of the first movies: sort key values and id) by cache key: this process' copies, least recently
# used first.
_local: OrderedDict[str, tuple[int, list[list]]] = OrderedDict()


class MovieList:
    """``selectors.movie_list(**arguments)`` as ``schema.core.pagination.paginate`` pages through it (its count,
    windows of (movie, key) between keys: see ``nexus.keyset.QuerysetPages``), from one cache entry when one
    answers exactly. Invalid arguments raise ``ValidationError`` as the selector does."""

    def __init__(self, **arguments):
        self._arguments = arguments
        self.keyset = selectors.movie_list_keyset(
            search=arguments.get("search"), order=arguments.get("order"), descending=arguments.get("descending", True)
        )

    def count(self) -> int:
        return self._entry[0]

    def window(self, *, after=None, before=None, limit: int, from_end: bool = False) -> list[tuple[Movie, list]]:
        """Up to ``limit`` movies strictly between the keys (the first ones, or the last ones ``from_end``), each
        with its key. From the cached keys when they hold that window: those of the list as the cache entry saw
        it, keys included, so the window after a key it holds is exactly the one the database gives at that
        version; else from the database (one query)."""
        keys = self._cached_window(after, before, limit, from_end)
        if keys is None:
            rows = keyset_slice(
                self._queryset.values_list(*self.keyset.names),
                self.keyset,
                after=after,
                before=before,
                limit=limit,
                from_end=from_end,
            )
            keys = [list(row) for row in rows]
        movie_ids = [key[-1] for key in keys]
        cards = movie_cards(movie_ids)
        return [(cards[key[-1]].movie, key) for key in keys if key[-1] in cards]

    def any_up_to(self, key: list) -> bool:
        if _index(self._entry[1], key) is not None:
            return True
        return self._queryset.filter(self.keyset.before(key, inclusive=True)).exists()

    def any_from(self, key: list) -> bool:
        if _index(self._entry[1], key) is not None:
            return True
        return self._queryset.filter(self.keyset.after(key, inclusive=True)).exists()

    def _cached_window(self, after, before, limit: int, from_end: bool) -> list[list] | None:
        keys = self._entry[1]
        complete = len(keys) < CACHED_KEYS  # fewer than asked for: the whole list
        start, end = 0, len(keys)
        if after is not None:
            start = _index(keys, after)
            if start is None:
                return None
            start += 1
        if before is not None:
            end = _index(keys, before)
            if end is None:
                return None
            end = max(end, start)
        elif not complete and (from_end or start + limit > end):
            return None
        if from_end:
            return keys[max(start, end - limit) : end]
        return keys[start : min(end, start + limit)]

    @cached_property
    def _queryset(self) -> QuerySet[Movie]:
        return selectors.movie_list(**self._arguments)

    @cached_property
    def _entry(self) -> tuple[int, list[list]]:
        version = catalog_version()
        if version is None:
            return self._load()
        key = self._key(version)
        entry = _local.get(key)
        if entry is None:
            entry = quietly("Movie list not read", lambda: cache.get(key))
            if entry is None:
                entry = self._load()
                quietly("Movie list not written", lambda: cache.set(key, entry, timeout=LIST_TIMEOUT))
            _local[key] = entry
            while len(_local) > LOCAL_ENTRIES:
                _local.popitem(last=False)
        _local.move_to_end(key)
        return entry

    def _load(self) -> tuple[int, list[list]]:
        queryset = self._queryset
        keys = queryset.values_list(*self.keyset.names)[:CACHED_KEYS]
        return queryset.count(), [list(row) for row in keys]

    def _key(self, version: int) -> str:
        arguments = orjson.dumps(self._arguments, option=orjson.OPT_SORT_KEYS, default=_name_or_text)
        return f"movie-list-keys:{version}:{hashlib.sha256(arguments).hexdigest()}"


def _index(keys: list[list], key: list) -> int | None:
    """Where ``key`` is among the cached keys, or None."""
    try:
        return keys.index(key)
    except ValueError:
        return None


def _name_or_text(value) -> str:
    return getattr(value, "name", None) or str(value)  # enums by name, dates in ISO
