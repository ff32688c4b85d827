"""Apollo automatic persisted queries: clients send a document's sha256 instead of the document.

A request carries ``extensions: {"persistedQuery": {"version": 1, "sha256Hash": "…"}}``. With the document too,
the hash is checked and the document stored in the default cache; without it, the stored document is used, or
the client is told ``PersistedQueryNotFound`` (code ``PERSISTED_QUERY_NOT_FOUND``), on which Apollo clients
resend the request with the document.
"""

import hashlib
import logging
from collections.abc import Mapping

from django.core.cache import cache
from graphql import GraphQLError

logger = logging.getLogger(__name__)

SUPPORTED_VERSION = 1
# Clients re-register a document whenever it has expired, so this only bounds what the cache holds.
STORE_SECONDS = 7 * 24 * 3600
_KEY_PREFIX = "apq"


class PersistedQueryError(Exception):
    """The persisted-query part of a request cannot be honoured; ``error`` says why, for the client."""

    def __init__(self, message: str, code: str, status: int):
        super().__init__(message)
        self.error = GraphQLError(message, extensions={"code": code})
        self.status = status


def persisted_query_resolve(*, query: str | None, extensions: Mapping | None) -> str | None:
    """The document text a request runs: ``query`` as sent, or the stored one its persisted-query hash names.

    Raises ``PersistedQueryError`` for an unknown hash without a document, a hash that does not match the
    document, or an unsupported protocol version.
    """
    persisted = (extensions or {}).get("persistedQuery") if isinstance(extensions, Mapping) else None
    if persisted is None:
        return query
    if not isinstance(persisted, Mapping) or persisted.get("version") != SUPPORTED_VERSION:
        raise PersistedQueryError(
            f"Unsupported persisted query: send extensions.persistedQuery with version {SUPPORTED_VERSION}.",
            "PERSISTED_QUERY_NOT_SUPPORTED",
            400,
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError(
            "extensions.persistedQuery.sha256Hash must be the 64-character hex sha256 of the document.",
            "PERSISTED_QUERY_HASH_MISMATCH",
            400,
        )
    digest = digest.lower()
    if query is None:
        stored = _stored(digest)
        if stored is None:
            # Apollo clients recognise this exact message (and code) and retry with the document.
            raise PersistedQueryError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 200)
        return stored
    if hashlib.sha256(query.encode()).hexdigest() != digest:
        raise PersistedQueryError(
            "extensions.persistedQuery.sha256Hash does not match the sha256 of the query sent with it.",
            "PERSISTED_QUERY_HASH_MISMATCH",
            400,
        )
    _store(digest, query)
    return query


def _key(digest: str) -> str:
    return f"{_KEY_PREFIX}:{digest}"


def _stored(digest: str) -> str | None:
    try:
        return cache.get(_key(digest))
    except Exception:  # noqa: BLE001 - an unreachable cache: the client resends the document
        logger.warning("Persisted query lookup failed: the cache is unreachable", exc_info=True)
        return None


def _store(digest: str, query: str) -> None:
    try:
        cache.set(_key(digest), query, timeout=STORE_SECONDS)
    except Exception:  # noqa: BLE001 - the document is served anyway; only the next lookup misses
        logger.warning("Persisted query not stored: the cache is unreachable", exc_info=True)
