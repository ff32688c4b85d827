"""Apollo automatic persisted queries: clients send a document's sha256 instead of the document.

A request carries ``extensions: {"persistedQuery": {"version": 1, "sha256Hash": "…"}}``. With the document too,
the hash is checked, and the document is stored in the volatile default cache once it has parsed and validated
(``persisted_query_register``, called by the view once schema/pipeline/documents.py accepted it); without it,
the stored document is used, or the client is told ``PersistedQueryNotFound`` (code ``PERSISTED_QUERY_NOT_FOUND``),
on which Apollo clients resend the request with the document.

Each rate-limit subject (a user, or an anonymous client address) may store
``NEXUS_PERSISTED_QUERY_MAX_REGISTRATIONS`` new documents per rate-limit window, counted in the ``limits`` cache;
beyond that a document still runs, with a ``PERSISTED_QUERY_REGISTRATION_LIMITED`` error beside its data, but is
not stored. Re-sending a stored document is not a new registration.
"""

import hashlib
from collections.abc import Mapping

from django.conf import settings
from django.core.cache import cache
from graphql import GraphQLError

from nexus.caches import quietly
from schema.pipeline.ratelimit import rate_limit_spend

SUPPORTED_VERSION = 1
# Clients re-register a document whenever it has expired (one extra round trip), so this only bounds how long an
# unused document occupies the cache.
STORE_SECONDS = 24 * 3600
_KEY_PREFIX = "apq"
_REGISTRATIONS_PREFIX = "apq-registrations"


class PersistedQueryError(Exception):
    """The persisted-query part of a request cannot be honoured; ``error`` says why, for the client."""

    def __init__(self, message: str, code: str, status: int):
        super().__init__(message)
        self.error = GraphQLError(message, extensions={"code": code})
        self.status = status


def persisted_query_resolve(*, query: str | None, extensions: Mapping | None) -> tuple[str | None, str | None]:
    """The document text a request runs (``query`` as sent, or the stored one its persisted-query hash names), and
    the hash to register it under once it has validated (None: nothing to register).

    Raises ``PersistedQueryError`` for an unknown hash without a document, a hash that does not match the
    document, or an unsupported protocol version.
    """
    persisted = (extensions or {}).get("persistedQuery") if isinstance(extensions, Mapping) else None
    if persisted is None:
        return query, None
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
        return stored, None
    if hashlib.sha256(query.encode()).hexdigest() != digest:
        raise PersistedQueryError(
            "extensions.persistedQuery.sha256Hash does not match the sha256 of the query sent with it.",
            "PERSISTED_QUERY_HASH_MISMATCH",
            400,
        )
    return query, digest


def persisted_query_register(*, digest: str, query: str, subject: str) -> GraphQLError | None:
    """Store ``query``, a document that parsed and validated, under its hash, unless ``subject`` (a rate-limit
    subject, see schema/pipeline/ratelimit.py) has stored its share of new documents in this window: then the error
    to report beside the result, which runs anyway."""
    if _stored(digest) is not None:
        return None  # already known: nothing new is kept
    maximum = settings.NEXUS_PERSISTED_QUERY_MAX_REGISTRATIONS
    registrations = (
        rate_limit_spend(subject=f"{_REGISTRATIONS_PREFIX}:{subject}", limit=maximum, cost=1)[0]
        if maximum > 0
        else None
    )
    if registrations is not None and registrations.refused:
        return GraphQLError(
            f"The document was not stored as a persisted query (it runs all the same): at most {maximum} new "
            f"documents may be stored per {settings.NEXUS_RATE_LIMIT_WINDOW}-second window, and this client's are "
            f"used up; retry in {registrations.reset_seconds} seconds, or keep sending the document in full.",
            extensions={"code": "PERSISTED_QUERY_REGISTRATION_LIMITED", "retryAfter": registrations.reset_seconds},
        )
    _store(digest, query)
    return None


def _key(digest: str) -> str:
    return f"{_KEY_PREFIX}:{digest}"


def _stored(digest: str) -> str | None:
    # Unreachable, the lookup misses: the client sends the document again.
    return quietly("Persisted query lookup failed", lambda: cache.get(_key(digest)))


def _store(digest: str, query: str) -> None:
    quietly("Persisted query not stored", lambda: cache.set(_key(digest), query, timeout=STORE_SECONDS))
