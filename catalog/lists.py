"""Catalog lists served from the cache: the count and the first ids of each list (``selectors.movie_list`` with
the same arguments), kept under the catalog version, so that requests asking for other fields, or with variables
that come down to the same arguments, share them; the movies themselves come from their cards (catalog/cards.py).

An entry lives in Redis, shared by every process, and in a small copy per process, both keyed by the catalog
version: whatever changes a list (an import, an edit, rating statistics within their staleness bound) bumps it,
and the old entries are never read again. Pages beyond the first ``CACHED_IDS`` ids read their ids from the
database, with the cached count.
"""

import hashlib
import logging
from collections import OrderedDict
from functools import cached_property

import orjson
from django.core.cache import cache
from django.db.models import QuerySet

from catalog import selectors
from catalog.cache import catalog_version
from catalog.cards import in_order, movie_cards
from catalog.models import Movie

logger = logging.getLogger(__name__)

# Ids kept per list: every page a client reaches from the start with the largest page size.
CACHED_IDS = 100
# Entries of an old catalog version are never read again: they only need to outlive the version.
LIST_TIMEOUT = 60 * 60
LOCAL_ENTRIES = 256

# (count, first ids) by cache key: this process' copies, least recently used first.
_local: OrderedDict[str, tuple[int, list[int]]] = OrderedDict()


class MovieList:
    """``selectors.movie_list(**arguments)`` as ``schema.core.pagination.paginate`` reads it (``count()`` and
    slices of movies), from one cache entry when one exists. Invalid arguments raise ``ValidationError`` as the
    selector does, when first read."""

    def __init__(self, **arguments):
        self._arguments = arguments

    def count(self) -> int:
        return self._entry[0]

    def __getitem__(self, window: slice) -> list[Movie]:
        _, first_ids = self._entry
        if window.stop is not None and window.stop <= len(first_ids):
            page_ids = first_ids[window]
        else:
            page_ids = list(self._queryset.values_list("pk", flat=True)[window])
        return in_order(movie_cards(page_ids), page_ids)

    @cached_property
    def _queryset(self) -> QuerySet[Movie]:
        return selectors.movie_list(**self._arguments)

    @cached_property
    def _entry(self) -> tuple[int, list[int]]:
        version = catalog_version()
        if version is None:
            return self._load()
        key = self._key(version)
        entry = _local.get(key)
        if entry is None:
            entry = _cache_get(key)
            if entry is None:
                entry = self._load()
                _cache_set(key, entry)
            _local[key] = entry
            while len(_local) > LOCAL_ENTRIES:
                _local.popitem(last=False)
        _local.move_to_end(key)
        return entry

    def _load(self) -> tuple[int, list[int]]:
        queryset = self._queryset
        return queryset.count(), list(queryset.values_list("pk", flat=True)[:CACHED_IDS])

    def _key(self, version: int) -> str:
        arguments = orjson.dumps(self._arguments, option=orjson.OPT_SORT_KEYS, default=_name_or_text)
        return f"movie-list:{version}:{hashlib.sha256(arguments).hexdigest()}"


def _name_or_text(value) -> str:
    return getattr(value, "name", None) or str(value)  # enums by name, dates in ISO


def _cache_get(key: str) -> tuple[int, list[int]] | None:
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - an unreachable cache only costs the queries it saves
        logger.warning("Movie list not read: the cache is unreachable", exc_info=True)
        return None


def _cache_set(key: str, entry: tuple[int, list[int]]) -> None:
    try:
        cache.set(key, entry, timeout=LIST_TIMEOUT)
    except Exception:  # noqa: BLE001 - the next request loads it again
        logger.warning("Movie list not written: the cache is unreachable", exc_info=True)
