"""Whole responses to anonymous queries, cached in the default cache (Redis in production).

Only anonymous queries are cached: nothing about a viewer can leak into another viewer's response. The key
covers everything a response depends on — the schema, the document (normalized: whitespace and comments do not
matter), the operation name, the variables, the catalog's data version (bumped by imports and rating
statistics, catalog/cache.py) and the recommender's live model version (anonymous recommendations and trending
lists come from it) — so a change of any of them makes older entries unreachable; they expire after
``NEXUS_RESPONSE_CACHE_SECONDS``. When a version cannot be read (cache or store unreachable), nothing is cached.
"""

import functools
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import cache
from graphql import GraphQLSchema, print_schema
from graphql_jwt.settings import jwt_settings

from catalog.cache import catalog_version
from recommender import store

logger = logging.getLogger(__name__)

_KEY_PREFIX = "response"


def response_cache_enabled() -> bool:
    return settings.NEXUS_RESPONSE_CACHE_SECONDS > 0


def is_anonymous_request(request) -> bool:
    """No credentials at all: no Authorization header and no token cookie."""
    return not request.META.get(jwt_settings.JWT_AUTH_HEADER_NAME) and (
        jwt_settings.JWT_COOKIE_NAME not in request.COOKIES
        and jwt_settings.JWT_REFRESH_TOKEN_COOKIE_NAME not in request.COOKIES
    )


def response_cache_key(
    *,
    schema: GraphQLSchema,
    normalized_document_hash: str,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> str | None:
    """The key a response is cached under, or None when it must not be cached (a version is unavailable)."""
    catalog = catalog_version()
    if catalog is None:
        return None
    try:
        model = store.current_version()
    except store.StoreUnavailable:
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
        str(catalog).encode(),
        (model or "").encode(),
    ):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no two part lists hash alike
        digest.update(part)
    return f"{_KEY_PREFIX}:{digest.hexdigest()}"


def cached_data_get(key: str) -> bytes | None:
    """The JSON of the cached response's ``data``, or None (a miss, or the cache is unreachable)."""
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - an unreachable cache: the request is simply executed
        logger.warning("Response cache lookup failed: the cache is unreachable", exc_info=True)
        return None


def cached_data_set(key: str, data_json: bytes) -> None:
    try:
        cache.set(key, data_json, timeout=settings.NEXUS_RESPONSE_CACHE_SECONDS)
    except Exception:  # noqa: BLE001 - the response was served; only the next request misses
        logger.warning("Response not cached: the cache is unreachable", exc_info=True)


@functools.cache
def _schema_hash(schema: GraphQLSchema) -> str:
    return hashlib.sha256(print_schema(schema).encode()).hexdigest()
