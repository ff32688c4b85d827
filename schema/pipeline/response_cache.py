"""Whole query responses, cached in the default cache (Redis in production): anonymous ones, shared by every
anonymous caller, and each signed-in user's own.

The key covers everything a response depends on — the schema, the document (normalized: whitespace and comments
do not matter), the operation name, the variables, the versions the domains declared their answers depend on
(``nexus.versions``: the catalog's data version, the recommender's live model) and, for a signed-in caller, their
account and its data version (bumped by anything they change) — so a change of any of them makes older entries
unreachable; they expire after ``NEXUS_RESPONSE_CACHE_SECONDS``. Entries of different viewers never share a key,
so nothing about one viewer reaches another. When a version cannot be read (cache or store unreachable), nothing
is cached. This module knows no domain: it asks ``nexus.versions`` what answers depend on.

An answer that showed someone else's data (another user's public list) also recorded the versions of that data
(``nexus.answer_versions``): it is stored with them, and served only while they are unchanged.
"""

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import cache
from graphql import GraphQLSchema, print_schema

from nexus.answer_versions import answer_versions_current
from nexus.caches import quietly
from nexus.versions import shared_versions, viewer_version
from schema.pipeline.identity import request_identity

_KEY_PREFIX = "response"


def response_cache_enabled() -> bool:
    return settings.NEXUS_RESPONSE_CACHE_SECONDS > 0


@dataclass(frozen=True)
class CacheViewer:
    """Whose entries a request's queries read and write: the anonymous callers' (``user_id`` None) or one
    signed-in account's."""

    user_id: str | None


def response_cache_viewer(request) -> CacheViewer | None:
    """The request's viewer for caching (its identity, schema/pipeline/identity.py): anonymous when it carries no
    credentials at all, the account its access token names when that token verifies; None (no caching) for
    credentials that do not, which execution refuses."""
    viewer = request_identity(request).cache_viewer
    if viewer is None:
        return None
    return CacheViewer(viewer or None)


def response_cache_key(
    *,
    schema: GraphQLSchema,
    normalized_document_hash: str,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    viewer: CacheViewer,
) -> str | None:
    """The key a response is cached under for ``viewer``, or None when it must not be cached (a version is
    unavailable)."""
    versions = shared_versions()
    if versions is None:
        return None
    if viewer.user_id is not None:
        versions.append(viewer_version(viewer.user_id))
        if versions[-1] is None:
            return None
    try:
        canonical_variables = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None  # variables JSON cannot hold (not from a JSON body): not worth caching
    digest = hashlib.sha256()
    for part in (
        _schema_hash(schema).encode(),
        normalized_document_hash.encode(),
        (operation_name or "").encode(),
        canonical_variables,
        (viewer.user_id or "").encode(),
        *(str(version).encode() for version in versions),
    ):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no two part lists hash alike
        digest.update(part)
    return f"{_KEY_PREFIX}:{digest.hexdigest()}"


def cached_data_get(key: str) -> bytes | None:
    """The JSON of the cached response's ``data``, or None (a miss, a version it recorded moved on, or the cache
    is unreachable)."""
    cached = quietly("Response cache lookup failed", lambda: cache.get(key))
    if isinstance(cached, tuple):  # (data, the versions of others' data it shows)
        data_json, recorded = cached
        return data_json if answer_versions_current(recorded) else None
    return cached


def cached_data_set(key: str, data_json: bytes, depends_on: dict | None = None) -> None:
    """Cache the answer; ``depends_on``: the versions of others' data it showed (``nexus.answer_versions``), by
    key, as read before that data (an unreadable one, None, keeps it out of the cache)."""
    if depends_on and None in depends_on.values():
        return
    entry = (data_json, dict(depends_on)) if depends_on else data_json
    # Unreachable, the response is served all the same; only the next request misses.
    quietly("Response not cached", lambda: cache.set(key, entry, timeout=settings.NEXUS_RESPONSE_CACHE_SECONDS))


@functools.cache
def _schema_hash(schema: GraphQLSchema) -> str:
    return hashlib.sha256(print_schema(schema).encode()).hexdigest()
