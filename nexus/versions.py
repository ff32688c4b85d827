"""Data versions: counters in the shared ``limits`` cache (never evicted: nexus/caches.py) that cached data is keyed
by, so that bumping one makes everything cached under the old value unreachable at once (it then simply expires).

A bump runs once the current transaction commits: bumped earlier, a reader could still read the old data and
cache it under the new version. A counter that was lost (Redis flushed or restarted) restarts from the clock,
never from a value that entries may still be cached under. When the cache cannot be reached, versions read as
None: callers then neither read nor write what they would key by them.

Some changes may reach cached answers a little later, so that a stream of them does not keep every answer keyed by
one version cold: ``version_bump_soon`` makes one bump due within a bound, and the first reader after that applies
it (rating statistics: catalog/cache.py).

Versions of shared data (the catalog's, the recommender model's) may also be read through ``recently_read``: a
copy per process, re-read at most every ``NEXUS_SHARED_VERSION_SECONDS``, so that a cached answer costs no round
trip for them. Entries keyed by them may then be served that much longer after a change made by another process;
a bump made in this process drops its copy at once. Per-user versions are always read afresh: users see their own
changes immediately.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from django.conf import settings
from django.db import transaction

from nexus.caches import limits_cache

logger = logging.getLogger(__name__)

T = TypeVar("T")
# name → (monotonic time read, value): this process' copies of shared versions.
_recent: dict[str, tuple[float, object]] = {}
# key → when a bump of it is due (wall clock), as this process last set or read it.
_due_seen: dict[str, float] = {}
DUE_CLOCK_MARGIN_SECONDS = 1.0
# Inside ``request_reads``: the counters (and their due marks) this request read, by key; ``_ABSENT`` for one that
# was not there. A request reads each counter once, whoever asks (the response cache, the account copy).
_request_reads: ContextVar[dict[str, object] | None] = ContextVar("request_reads", default=None)
_ABSENT = object()
# Inside ``request_reads``: the counters this request will bump once its transaction commits (``version_bump``).
_request_bumps: ContextVar[set[str] | None] = ContextVar("request_bumps", default=None)


@contextmanager
def request_reads() -> Iterator[None]:
    """Inside, each counter is read at most once (a request's answers and account are keyed by the same value);
    a bump made inside drops its key, so what runs after a mutation reads the new value."""
    token, bumps_token = _request_reads.set({}), _request_bumps.set(set())
    try:
        yield
    finally:
        _request_reads.reset(token)
        _request_bumps.reset(bumps_token)


def request_bumps_now() -> None:
    """Bump now what this request will bump once its transaction commits: for a request whose transaction
    commits only after its answer is computed (a test's, ``ATOMIC_REQUESTS``), so that what runs after a mutation
    already sees its bumps. The bumps on commit still follow."""
    for key in sorted(_request_bumps.get() or ()):
        version_bump_now(key)


def counter_keys(keys: Sequence[str]) -> list[str]:
    """What ``versions_get(keys)`` reads: for another read to fetch in the same round trip (the rate limit's,
    schema/pipeline/ratelimit.py), then ``request_reads_record``."""
    return [*keys, *map(_due_key, keys)]


def request_reads_record(values: Mapping[str, object], *, keys: Sequence[str]) -> None:
    """``keys`` (from ``counter_keys``) were read, as ``values`` (a key missing: not there), for this request."""
    reads = _request_reads.get()
    if reads is not None:
        reads.update({key: values.get(key, _ABSENT) for key in keys})


def versions_get(keys: Sequence[str]) -> list[int] | None:
    """The current value of each counter (one round trip when all exist and none has a bump due; none when this
    request read them already), or None when the cache is unreachable."""
    try:
        reads = _request_reads.get()
        wanted = counter_keys(keys)
        if reads is not None and all(key in reads for key in wanted):
            found = {key: reads[key] for key in wanted if reads[key] is not _ABSENT}
        else:
            # A copy: with Redis down, django-redis answers every get_many with one shared {} that must stay empty.
            found = dict(limits_cache.get_many(wanted))
        now = time.time()
        for key in keys:
            due = found.get(_due_key(key))
            if due is not None and due <= now and limits_cache.delete(_due_key(key)):  # one reader bumps
                version_bump_now(key)
                found.pop(key, None)
                found.pop(_due_key(key), None)
            elif due is not None:
                _due_seen[key] = due
        for key in keys:
            if key not in found:
                limits_cache.add(key, _fresh_version(), timeout=None)
                found[key] = limits_cache.get(key)
        if any(found[key] is None for key in keys):  # the cache ignored the write: nothing can be keyed safely
            return None
        request_reads_record(found, keys=wanted)
        return [int(found[key]) for key in keys]
    except Exception:  # noqa: BLE001 - an unreachable cache must only switch caching off
        logger.warning("Data versions unavailable: the cache is unreachable", exc_info=True)
        return None


def version_bump(key: str) -> None:
    """Bump the counter after the current transaction commits (at once outside one)."""
    if (bumps := _request_bumps.get()) is not None and transaction.get_connection().in_atomic_block:
        bumps.add(key)
    transaction.on_commit(lambda: version_bump_now(key))


def version_bump_now(key: str) -> None:
    forget_recent(key)
    if (reads := _request_reads.get()) is not None:
        reads.pop(key, None)
    try:
        limits_cache.incr(key)
    except ValueError:  # not set yet, or lost
        limits_cache.add(key, _fresh_version(), timeout=None)
    except Exception:  # noqa: BLE001 - an unreachable cache holds no stale entries to invalidate
        logger.warning("Data version %s not bumped: the cache is unreachable", key, exc_info=True)


def version_bump_soon(key: str, *, within: float) -> None:
    """Bump the counter within ``within`` seconds after the current transaction commits: every change in that
    time shares one bump, which the first ``versions_get`` after it applies. For changes that cached answers may
    show that much later; what must show at once is invalidated on its own (a user's version, a movie's card)."""
    transaction.on_commit(lambda: version_bump_due(key, within=within))


def version_bump_due(key: str, *, within: float) -> None:
    """Make a bump of the counter due ``within`` seconds from now, unless one is due already (it comes sooner)."""
    now = time.time()
    # A bump this process knows to be due later than now covers this change (it is applied at or after its due
    # time, hence after this commit): no round trip. The margin absorbs clock skew between machines.
    if _due_seen.get(key, 0) > now + DUE_CLOCK_MARGIN_SECONDS:
        return
    try:
        if limits_cache.add(_due_key(key), now + within, timeout=None):
            _due_seen[key] = now + within
    except Exception:  # noqa: BLE001 - an unreachable cache holds no entries to invalidate
        logger.warning("Data version %s not marked for a bump: the cache is unreachable", key, exc_info=True)


def _due_key(key: str) -> str:
    return f"{key}:bump-due"


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


def process_copies_forget() -> None:
    """Drop everything this process remembers of the counters (for a cache that was emptied meanwhile)."""
    _recent.clear()
    _due_seen.clear()
    with _viewer_copies_lock:
        _viewer_copies.clear()


# --- Which rows invalidate which versions: one table, filled by the domains ---------------------------------------
# Each app declares, in its AppConfig.ready, for every model of its own: which versions key the cached answers
# that show its rows (or that none does). Write paths never name a version: they say which rows they changed
# (``rows_changed``), and tests/test_invalidation.py checks that every write path does, for every model it writes.

_row_versions: dict[type, Callable[[Iterable], set[str]] | None] = {}


def rows_shown_by(model: type, version_keys: Callable[[Iterable], set[str]] | None) -> None:
    """Declare the versions that key cached answers showing rows of ``model``: ``version_keys(rows)`` (rows may be
    empty: "some rows"); None when no cached answer shows them."""
    _row_versions[model] = version_keys


def row_versions() -> dict[type, Callable[[Iterable], set[str]] | None]:
    """The whole table: every declared model."""
    return dict(_row_versions)


def version_keys_for(model: type, rows: Iterable = ()) -> set[str]:
    keys_for = _row_versions[model]  # an undeclared model is a mistake: fail loudly
    return keys_for(list(rows)) if keys_for is not None else set()


def rows_changed(model: type, rows: Iterable = ()) -> None:
    """Rows of ``model`` were written (``rows`` empty: some, or all): once the current transaction commits, bump
    every version that keys cached answers showing them."""
    for key in sorted(version_keys_for(model, rows)):
        version_bump(key)


class VersionsBumpedOnChange:
    """Admin mixin: what staff save or delete bumps, once committed, the versions its model declared
    (``rows_changed``; keys read before a deletion clears primary keys). Admins that delete through a service read
    the keys first and call ``versions_bump`` themselves."""

    def version_keys(self, objects: Iterable) -> set[str]:
        return version_keys_for(self.model, objects)

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


# --- What cached answers depend on: declared by the domains, asked by the response cache ---------------------------
# Each app declares, in its AppConfig.ready, the versions its answers depend on; the GraphQL pipeline
# (schema/pipeline/response_cache.py) keys cached answers by them without knowing any domain.

_shared_versions: dict[str, Callable[[], object]] = {}
_shared_version_keys: set[str] = set()
_viewer_version_key: Callable[[str], str] | None = None
_viewer_counter_keys: list[Callable[[str], str]] = []


def shared_version_register(name: str, read: Callable[[], object], *, key: str | None = None) -> None:
    """Answers for everyone depend on ``read()`` (a version, "" when there is none yet, None when it cannot be
    read): the catalog's data version (a counter under ``key``), the recommender's live model."""
    _shared_versions[name] = read
    if key is not None:
        _shared_version_keys.add(key)


def keys_of_every_answer() -> set[str]:
    """The counters that key every cached answer: bumping one invalidates them all."""
    return set(_shared_version_keys)


def viewer_version_register(key_for: Callable[[str], str]) -> None:
    """A signed-in viewer's answers also depend on their own data version, kept under ``key_for(viewer_id)``."""
    global _viewer_version_key
    _viewer_version_key = key_for


def viewer_counter_register(key_for: Callable[[str], str]) -> None:
    """Some of a viewer's answers also depend on a counter of theirs under ``key_for(viewer_id)`` (their
    recommendations list's): those answers say so (``nexus.answer_versions.answer_depends_on``), and the counter is
    read with the viewer's data version, in the same round trip, so that checking it costs none."""
    if key_for not in _viewer_counter_keys:  # an app's ready() may run again (tests): read each counter once
        _viewer_counter_keys.append(key_for)


def shared_versions() -> list[object] | None:
    """Every shared version, in registration order; None when one cannot be read (nothing may be keyed then)."""
    values = [read() for read in _shared_versions.values()]
    return None if None in values else values


def viewer_version_keys(viewer_id: str) -> list[str]:
    """The counter keys ``viewer_version`` reads, and the viewer's other counters (``viewer_counter_register``),
    as ``counter_keys``: to fetch along with another read."""
    own = [_viewer_version_key(viewer_id)] if _viewer_version_key is not None else []
    return counter_keys([*own, *(key_for(viewer_id) for key_for in _viewer_counter_keys)])


def viewer_version(viewer_id: str) -> int | None:
    """The viewer's data version (always read afresh: users see their own changes at once), or None."""
    if _viewer_version_key is None:
        return 0
    versions = versions_get([_viewer_version_key(viewer_id)])
    return versions[0] if versions is not None else None


# This process' copies of what is computed from one viewer's data, by (viewer, name): (versions, time, value).
VIEWER_COPY_SECONDS = 30
VIEWER_COPIES = 4096
_viewer_copies: dict[tuple[str, str], tuple[tuple, float, object]] = {}
_viewer_copies_lock = threading.Lock()


def viewer_copy(
    viewer_id: str,
    name: str,
    compute: Callable[[], T],
    *,
    own: bool = True,
    shared: bool = True,
    also: Sequence[str] = (),
) -> T:
    """``compute()``, or what it returned in this process for the same viewer and ``name`` while the versions it is
    keyed by are the same (with ``own``, their data version; with ``shared``, the shared versions: what every answer
    is keyed by; and the counters ``also``), at most ``VIEWER_COPY_SECONDS`` ago: a signed-in miss of the response
    cache (another document, other variables) then reads nothing of the viewer's again. The versions are read
    before ``compute`` runs, so a change committed meanwhile moves past what is kept; a change made around the
    services (SQL) shows within the bound. Nothing is kept when a version cannot be read. What it returns is
    shared: callers must not change it."""
    versions = (
        *([viewer_version(viewer_id)] if own else []),
        *(shared_versions() or [None] if shared else []),
        *((versions_get(list(also)) or [None]) if also else []),
    )
    if None in versions:
        return compute()
    key = (viewer_id, name)
    held = _viewer_copies.get(key)
    if held is not None and held[0] == versions and time.monotonic() - held[1] < VIEWER_COPY_SECONDS:
        return held[2]
    value = compute()
    with _viewer_copies_lock:
        if len(_viewer_copies) >= VIEWER_COPIES and key not in _viewer_copies:
            _viewer_copies.pop(next(iter(_viewer_copies)))  # the copy kept longest ago
        _viewer_copies[key] = (versions, time.monotonic(), value)
    return value


def viewer_version_bump_now(viewer_id: str) -> None:
    if _viewer_version_key is not None:
        version_bump_now(_viewer_version_key(viewer_id))


def viewer_version_bump(viewer_id: str) -> None:
    if _viewer_version_key is not None:
        version_bump(_viewer_version_key(viewer_id))
