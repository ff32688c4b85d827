"""The score store: precomputed recommendation lists in the ``recommendations`` cache (Redis, or files on the
embedded default), one complete set per model version.

A training run writes every list under its new version, then ``activate`` flips the "current version"
pointer with one ``set``. Readers read the pointer, then a list under that version, so they see one complete
model or the previous one — never a half-written or mixed one. The version a flip replaces stays readable for
``RETIRED_GRACE`` seconds (readers that just read the old pointer finish), and is deleted at the next flip.

Lists are numpy record arrays (``ENTRY``: 25 bytes per entry), pickled by the cache backend as raw buffers.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import IntEnum

import numpy as np
from django.core.cache import caches
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from nexus.versions import forget_recent, recently_read, version_bump_now
from recommender.strategies import NOT_BALANCED

ALIAS = "recommendations"
POINTER_KEY = "current"
# Similar lists are written a bucket of consecutive movie ids per key: a file-based cache lists its whole
# folder on every write, so tens of thousands of keys would take minutes to write there.
SIMILAR_BUCKET = 64
RETIRED_GRACE = 10 * 60
WRITE_BATCH = 500
# Keys one round trip checks or retires when a version is switched (EXISTS of many keys, a pipeline of EXPIREs).
KEYS_PER_ROUND_TRIP = 10_000

# One recommended movie: its score (the model's relevance, comparable within the list only; serving turns
# places into ``recommender.scores``) and source (``recommender.algorithms.hybrid.Source`` codes), and why
# (``Reason``, about ``subject`` and ``other`` — movie or genre ids — with ``stars`` in half stars for ratings).
# What the strategies re-rank by (``recommender.strategies``): ``place`` in the balanced list (255: an extra
# candidate), ``familiarity`` (the movie's popularity percentile × 255) and ``genres`` (a bitmask).
ENTRY = np.dtype(
    [
        ("movie", "<i4"),
        ("score", "<f4"),
        ("source", "i1"),
        ("reason", "i1"),
        ("subject", "<i4"),
        ("stars", "i1"),
        ("other", "<i4"),
        ("place", "u1"),
        ("familiarity", "u1"),
        ("genres", "<u4"),
    ]
)
# Movies like one movie, most similar first (``movie`` -1 pads a short list).
SIMILAR_ENTRY = np.dtype([("movie", "<i4"), ("score", "<f4")])
NO_MOVIE = -1


class Reason(IntEnum):
    """Why a movie is recommended; ``subject`` names the movie or genre the reason is about."""

    RATED = 0  # subject: a movie the user rated (stars: their score)
    FAVORITED = 1  # subject: a movie among the user's favorites
    WATCHED = 2  # subject: a movie the user watched
    LIKED_GENRE = 3  # subject: the movie's genre the user likes most (history and declared favorites)
    POPULAR = 4
    TRENDING = 5
    TASTE = 6  # nothing more specific: the user's history as a whole
    LIKED_TOGETHER = 7  # subject and other: two movies the user liked that together speak for this one
    TRENDING_IN_GENRE = 8  # subject: a genre in which the movie trends (stars: 1 if it had activity this week)


class StoreUnavailable(Exception):
    """The store cannot serve: its backend is unreachable, or no model has been trained yet."""


@contextmanager
def _backend_errors() -> Iterator[None]:
    try:
        yield
    except (ConnectionInterrupted, RedisError, OSError) as error:
        raise StoreUnavailable(f"the recommendation store is unreachable: {error}") from error


def _cache():
    return caches[ALIAS]


def _user_key(version: str, user_id: int) -> str:
    # The user id is the key's Redis Cluster hash tag: one user's lists, in every version, live in one slot (and
    # on one shard), so a user's reads and writes never span nodes (docs/scaling.md, "Redis").
    return f"{version}:user:{{{user_id}}}"


def _similar_key(version: str, bucket: int) -> str:
    return f"{version}:similar:{bucket}"


def _trending_key(version: str, genre_id: int | None) -> str:
    return f"{version}:trending:{'all' if genre_id is None else genre_id}"


def _manifest_key(version: str) -> str:
    return f"{version}:manifest"


def empty_entries(length: int) -> np.ndarray:
    return np.zeros(length, dtype=ENTRY)


def balanced(entries: np.ndarray) -> np.ndarray:
    """A stored user list's balanced part (the production order), without the extra candidates."""
    return entries[entries["place"] != NOT_BALANCED]


def _current_format(entries: np.ndarray | None) -> np.ndarray | None:
    """Lists written before a field was added read as lists of today's ``ENTRY`` (the new fields zero)."""
    if entries is None or entries.dtype == ENTRY:
        return entries
    upgraded = empty_entries(len(entries))
    for name in entries.dtype.names:
        upgraded[name] = entries[name]
    return upgraded


# --- Reading ------------------------------------------------------------------------------------------------


def current_version() -> str | None:
    """The version readers are served, or None before the first training."""
    with _backend_errors():
        pointer = _cache().get(POINTER_KEY)
    return pointer[0] if pointer else None


def live_version_for_answers() -> str | None:
    """The live version as cached answers are keyed by it (``nexus.versions``): read through this process' copy
    (``NEXUS_SHARED_VERSION_SECONDS``), "" before the first training, None when the store is unreachable."""
    try:
        return recently_read(POINTER_KEY, current_version) or ""
    except StoreUnavailable:
        return None


def _serving_version() -> str:
    # This process' copy, as for cached answers: a retired version stays readable for RETIRED_GRACE.
    version = recently_read(POINTER_KEY, current_version)
    if version is None:
        raise StoreUnavailable("no recommender model has been trained yet")
    return version


def user_list_version_key(user_id: int | str) -> str:
    """The counter (``nexus.versions``) that answers showing the user's list depend on: ``user_list_write`` bumps
    it, so a refreshed list invalidates only those answers, not everything of the user's."""
    return f"user:{user_id}:recommendations-version"


def user_list(*, user_id: int) -> np.ndarray | None:
    """The user's list (``ENTRY`` records, best first) in the current version; None when it has none. Read
    ``user_list_version_key`` first to key what is made of it."""
    version = _serving_version()
    with _backend_errors():
        return _current_format(_cache().get(_user_key(version, user_id)))


def user_lists(*, user_ids: Iterable[int]) -> dict[int, np.ndarray]:
    """Lists of many users at once (one round trip) from one version; users without a list are left out."""
    version = _serving_version()
    keys = {_user_key(version, user_id): user_id for user_id in user_ids}
    with _backend_errors():
        found = _cache().get_many(list(keys))
    return {keys[key]: _current_format(entries) for key, entries in found.items()}


def similar_lists(*, movie_ids: Iterable[int]) -> dict[int, np.ndarray]:
    """``SIMILAR_ENTRY`` lists of the given movies in the current version; movies without one are left out."""
    version = _serving_version()
    movie_ids = list(movie_ids)
    buckets = {movie_id // SIMILAR_BUCKET for movie_id in movie_ids}
    with _backend_errors():
        found = _cache().get_many([_similar_key(version, bucket) for bucket in buckets])
    lists = {}
    for movie_id in movie_ids:
        bucket = found.get(_similar_key(version, movie_id // SIMILAR_BUCKET))
        if bucket is not None:
            row = bucket[movie_id % SIMILAR_BUCKET]
            if row[0]["movie"] != NO_MOVIE:
                lists[movie_id] = row[row["movie"] != NO_MOVIE]
    return lists


def trending_list(*, genre_id: int | None = None) -> np.ndarray | None:
    """Trending movies (``ENTRY`` records), overall or within one genre, in the current version."""
    version = _serving_version()
    with _backend_errors():
        return _current_format(_cache().get(_trending_key(version, genre_id)))


# --- Writing ------------------------------------------------------------------------------------------------


def _write_many(values: Mapping[str, object]) -> None:
    items = list(values.items())
    with _backend_errors():
        for start in range(0, len(items), WRITE_BATCH):
            _cache().set_many(dict(items[start : start + WRITE_BATCH]), timeout=None)


def _version_keys(version: str, manifest: dict, *, more_user_ids: Iterable[int] = ()) -> list[str]:
    """Every key of a version, from its manifest (a plain dict: it must unpickle after this code changes)."""
    user_ids = np.union1d(manifest["user_ids"], np.fromiter(more_user_ids, dtype=np.int64))
    return [
        *(_user_key(version, int(user_id)) for user_id in user_ids),
        *(_similar_key(version, int(bucket)) for bucket in manifest["similar_buckets"]),
        *(_trending_key(version, genre_id) for genre_id in manifest["trending_genre_ids"]),
    ]


def version_write(
    *,
    version: str,
    user_lists: Mapping[int, np.ndarray],
    similar_movie_ids: np.ndarray,
    similar: np.ndarray,
    trending: Mapping[int | None, np.ndarray],
    planned_user_ids: np.ndarray | None = None,
) -> None:
    """Writes a complete version, not yet visible to readers (see ``activate``).

    ``similar`` holds one ``SIMILAR_ENTRY`` row per movie of ``similar_movie_ids`` (ascending ids);
    ``trending`` maps a genre id (None: every genre) to its ``ENTRY`` list. The manifest goes first, so that a
    version that fails half-way can be discarded. ``planned_user_ids``: the users whose lists precompute
    shards will write later (``version_user_lists_write``), listed in the manifest with ``user_lists``' users.
    """
    buckets = similar_movie_ids // SIMILAR_BUCKET
    bucket_ids, starts = np.unique(buckets, return_index=True)
    written = np.fromiter(user_lists.keys(), dtype=np.int64, count=len(user_lists))
    manifest = {
        "user_ids": written if planned_user_ids is None else np.union1d(written, planned_user_ids),
        "similar_buckets": bucket_ids,
        "trending_genre_ids": list(trending),
    }
    _write_many({_manifest_key(version): manifest})
    _write_many({_user_key(version, user_id): entries for user_id, entries in user_lists.items()})
    bucket_rows = {}
    for bucket, start, end in zip(bucket_ids, starts, [*starts[1:], len(buckets)], strict=True):
        rows = np.zeros((SIMILAR_BUCKET, similar.shape[1]), dtype=SIMILAR_ENTRY)
        rows["movie"] = NO_MOVIE
        rows[similar_movie_ids[start:end] % SIMILAR_BUCKET] = similar[start:end]
        bucket_rows[_similar_key(version, int(bucket))] = rows
    _write_many(bucket_rows)
    _write_many({_trending_key(version, genre_id): entries for genre_id, entries in trending.items()})


def version_user_lists_write(*, version: str, user_lists: Mapping[int, np.ndarray]) -> None:
    """Writes users' lists into a version that is not live yet (a precompute shard's part of it)."""
    _write_many({_user_key(version, user_id): entries for user_id, entries in user_lists.items()})


def version_planned_user_ids(*, version: str) -> np.ndarray | None:
    """The users a version's manifest lists (every user with interactions when it was trained)."""
    with _backend_errors():
        manifest = _cache().get(_manifest_key(version))
    return None if manifest is None else np.asarray(manifest["user_ids"], dtype=np.int64)


def version_user_lists_count(*, version: str, user_ids: Iterable[int]) -> int:
    """How many of ``user_ids`` have a list in ``version``: the check before a precomputed version goes live.
    On Redis one ``EXISTS`` of many keys per round trip, without reading the lists."""
    keys = [_user_key(version, int(user_id)) for user_id in user_ids]
    cache = _cache()
    with _backend_errors():
        if not isinstance(cache, RedisCache):  # the embedded default's files
            return sum(cache.has_key(key) for key in keys)
        client = cache.client.get_client(write=False)
        full_keys = [cache.client.make_key(key) for key in keys]
        return sum(
            client.exists(*full_keys[start : start + KEYS_PER_ROUND_TRIP])
            for start in range(0, len(full_keys), KEYS_PER_ROUND_TRIP)
        )


def _expire_many(keys: list[str], seconds: int) -> None:
    """Gives each of ``keys`` ``seconds`` to live. On Redis one pipeline of ``EXPIRE`` per ``KEYS_PER_ROUND_TRIP``
    keys: a version holds a key per user, and one round trip each made the switch at ML-20M size take 15 seconds."""
    cache = _cache()
    if not isinstance(cache, RedisCache):  # the embedded default's files
        for key in keys:
            cache.touch(key, seconds)
        return
    client = cache.client.get_client(write=True)
    for start in range(0, len(keys), KEYS_PER_ROUND_TRIP):
        pipeline = client.pipeline(transaction=False)
        for key in keys[start : start + KEYS_PER_ROUND_TRIP]:
            pipeline.expire(cache.client.make_key(key), seconds)
        pipeline.execute()


def version_discard(*, version: str) -> None:
    """Deletes a version that was never activated (its training failed while writing)."""
    cache = _cache()
    with _backend_errors():
        manifest = cache.get(_manifest_key(version))
        if manifest is not None:
            cache.delete_many(_version_keys(version, manifest))
        cache.delete(_manifest_key(version))


def activate(*, version: str) -> str | None:
    """Makes ``version`` (completely written) the one readers get, with one atomic ``set`` of the pointer.

    The replaced version expires after ``RETIRED_GRACE``, the one before it is deleted. Returns the replaced
    one.
    """
    cache = _cache()
    with _backend_errors():
        current, previous = cache.get(POINTER_KEY) or (None, None)
        cache.set(POINTER_KEY, (version, current), timeout=None)
        forget_recent(POINTER_KEY)  # this process' readers switch at once (others within seconds)

        # Lists that per-user refreshes wrote after a version was trained are not in its manifest; those users
        # have interactions by then, so they are in the manifest of the version trained after it.
        def manifest(name: str | None) -> dict | None:
            return cache.get(_manifest_key(name)) if name else None

        new, replaced, older = manifest(version), manifest(current), manifest(previous)
        if replaced is not None and current != version:
            _expire_many(_version_keys(current, replaced, more_user_ids=new["user_ids"]), RETIRED_GRACE)
        if older is not None and previous not in (version, current):
            later_users = replaced["user_ids"] if replaced is not None else ()
            cache.delete_many(_version_keys(previous, older, more_user_ids=later_users))
            cache.delete(_manifest_key(previous))
    return current


def user_list_write(*, version: str, user_id: int, entries: np.ndarray | None) -> None:
    """Replaces one user's list in ``version``; ``None`` removes it (the user has nothing left to go on). Answers
    that showed the previous list are invalidated (``user_list_version_key``)."""
    with _backend_errors():
        if entries is None:
            _cache().delete(_user_key(version, user_id))
        else:
            _cache().set(_user_key(version, user_id), entries, timeout=None)
    version_bump_now(user_list_version_key(user_id))  # the list is written already: no transaction to wait for
