"""Errors as clients see them: a client's own mistakes keep their message and ``extensions.code``; anything
unexpected becomes "Internal server error." with an ``errorId`` that is logged with the traceback."""

import logging
import uuid

from graphql import GraphQLError
from graphql_jwt.exceptions import JSONWebTokenError, JSONWebTokenExpired
from graphql_jwt.exceptions import PermissionDenied as JSONWebTokenPermissionDenied

logger = logging.getLogger("nexus.graphql")

# Errors raised on purpose, whose message is written for clients; anything else is masked.
_CLIENT_ERROR_CODES = {
    "BAD_REQUEST",
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "RATE_LIMITED",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "INVALID_TOKEN",
    "TOKEN_EXPIRED",
    "QUERY_TOO_DEEP",
    "TOO_MANY_ALIASES",
    "QUERY_TOO_COSTLY",
    "TOO_MANY_MUTATIONS",
    "DOCUMENT_TOO_LARGE",
    "UPLOAD_TOO_LARGE",
    "BATCH_TOO_LARGE",
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_NOT_SUPPORTED",
    "PERSISTED_QUERY_HASH_MISMATCH",
}


def client_error_format(error) -> dict:
    """An error as the client sees it: errors meant for clients keep their message and code; anything else
    becomes "Internal server error." with an id, logged with its traceback."""
    if isinstance(error, GraphQLError):
        error = _with_token_error_code(error)
    if isinstance(error, GraphQLError) and _is_client_error(error):
        formatted = error.formatted
        if not (formatted.get("extensions") or {}).get("code"):  # every error carries a code
            code = "INTERNAL_SERVER_ERROR" if error.path else "BAD_REQUEST"
            formatted["extensions"] = {**(formatted.get("extensions") or {}), "code": code}
        return formatted
    error_id = uuid.uuid4().hex
    original = getattr(error, "original_error", None) or error
    logger.error(
        "Unexpected error %s in GraphQL request",
        error_id,
        exc_info=(type(original), original, original.__traceback__),
    )
    formatted = {
        "message": "Internal server error.",
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
    }
    if isinstance(error, GraphQLError):
        formatted["locations"] = [loc._asdict() for loc in error.locations or []] or None
        formatted["path"] = error.path
    return formatted


def token_error(problem: Exception, *, nodes=None, path=None) -> GraphQLError | None:
    """The client's error for django-graphql-jwt's refusal of an access token (``TOKEN_EXPIRED``,
    ``INVALID_TOKEN`` or ``FORBIDDEN``), or None when ``problem`` is not one."""
    if isinstance(problem, JSONWebTokenExpired):
        message, code = (
            "The access token has expired: get a new one with refreshToken, or log in again.",
            "TOKEN_EXPIRED",
        )
    elif isinstance(problem, JSONWebTokenPermissionDenied):
        message, code = str(problem), "FORBIDDEN"
    elif isinstance(problem, JSONWebTokenError):
        message, code = f"The access token is not valid ({problem}): log in again.", "INVALID_TOKEN"
    else:
        return None
    return GraphQLError(message, nodes=nodes, path=path, extensions={"code": code})


def _with_token_error_code(error: GraphQLError) -> GraphQLError:
    """django-graphql-jwt refuses a bad access token with plain exceptions: report them as the client's errors."""
    return token_error(error.original_error, nodes=error.nodes, path=error.path) or error


def _is_client_error(error: GraphQLError) -> bool:
    """Syntax/validation errors and errors raised on purpose for the client keep their message."""
    original = error.original_error
    if original is None:
        return True  # parse and validation errors: they describe the client's document
    if isinstance(original, GraphQLError):
        return True
    return (error.extensions or {}).get("code") in _CLIENT_ERROR_CODES
