"""The /graphql endpoint: graphene-django's view with Nexus' request checks and error masking."""

import logging
import uuid

from django.conf import settings
from django.http import HttpResponseBadRequest
from django.views.decorators.csrf import csrf_protect
from graphene.validation import DisableIntrospection
from graphene_django.views import GraphQLView, HttpError
from graphql import GraphQLError, specified_rules
from graphql_jwt.exceptions import JSONWebTokenError, JSONWebTokenExpired
from graphql_jwt.exceptions import PermissionDenied as JSONWebTokenPermissionDenied
from graphql_jwt.settings import jwt_settings

from nexus import metrics

logger = logging.getLogger("nexus.graphql")

# Errors raised on purpose, whose message is written for clients; anything else is masked.
_CLIENT_ERROR_CODES = {
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "RATE_LIMITED",
    "GRAPHQL_VALIDATION_FAILED",
    "INVALID_TOKEN",
    "TOKEN_EXPIRED",
}


def validation_rules():
    rules = list(specified_rules)
    if not settings.NEXUS_GRAPHQL_INTROSPECTION:
        rules.append(DisableIntrospection)
    return rules


class NexusGraphQLView(GraphQLView):
    def __init__(self, **kwargs):
        kwargs.setdefault("graphiql", settings.NEXUS_GRAPHIQL)
        kwargs.setdefault("validation_rules", validation_rules())
        super().__init__(**kwargs)

    def dispatch(self, request, *args, **kwargs):
        dispatch = super().dispatch
        if _carries_token_cookie(request):
            # Browsers send cookies on their own, also on requests forged by other sites: a request that may
            # authenticate with one must prove it comes from a page of ours (bearer-token requests need not).
            dispatch = csrf_protect(dispatch)
        return dispatch(request, *args, **kwargs)

    def execute_graphql_request(self, request, data, query, variables, operation_name, *args, **kwargs):
        result = super().execute_graphql_request(request, data, query, variables, operation_name, *args, **kwargs)
        if result is not None:  # None: nothing ran (graphene-django's path for GraphiQL's page)
            metrics.graphql_operation_record(query=query, operation_name=operation_name, errors=result.errors)
        return result

    @staticmethod
    def get_graphql_params(request, data):
        query, variables, operation_name, request_id = GraphQLView.get_graphql_params(request, data)
        if query is not None and not isinstance(query, str):
            raise HttpError(HttpResponseBadRequest("`query` must be a string."))
        if variables is not None and not isinstance(variables, dict):
            raise HttpError(HttpResponseBadRequest("`variables` must be a JSON object."))
        if operation_name is not None and not isinstance(operation_name, str):
            raise HttpError(HttpResponseBadRequest("`operationName` must be a string."))
        return query, variables, operation_name, request_id

    @staticmethod
    def format_error(error):
        if isinstance(error, GraphQLError):
            error = _with_token_error_code(error)
        if isinstance(error, GraphQLError) and _is_client_error(error):
            return error.formatted
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


def _carries_token_cookie(request) -> bool:
    return any(
        name in request.COOKIES for name in (jwt_settings.JWT_COOKIE_NAME, jwt_settings.JWT_REFRESH_TOKEN_COOKIE_NAME)
    )


def _with_token_error_code(error: GraphQLError) -> GraphQLError:
    """django-graphql-jwt refuses a bad access token with plain exceptions: report them as the client's errors."""
    original = error.original_error
    if isinstance(original, JSONWebTokenExpired):
        message, code = (
            "The access token has expired: get a new one with refreshToken, or log in again.",
            "TOKEN_EXPIRED",
        )
    elif isinstance(original, JSONWebTokenPermissionDenied):
        message, code = str(original), "FORBIDDEN"
    elif isinstance(original, JSONWebTokenError):
        message, code = f"The access token is not valid ({original}): log in again.", "INVALID_TOKEN"
    else:
        return error
    return GraphQLError(message, nodes=error.nodes, path=error.path, extensions={"code": code})


def _is_client_error(error: GraphQLError) -> bool:
    """Syntax/validation errors and errors raised on purpose for the client keep their message."""
    original = error.original_error
    if original is None:
        return True  # parse and validation errors: they describe the client's document
    if isinstance(original, GraphQLError):
        return True
    return (error.extensions or {}).get("code") in _CLIENT_ERROR_CODES
