"""GraphQL over HTTP: which media type an answer is served as, and with which status.

The GraphQL over HTTP specification defines two response media types:

- ``application/graphql-response+json`` — chosen when the ``Accept`` header prefers it (Apollo Client 4 sends
  ``application/graphql-response+json,application/json;q=0.9``). Status codes follow the specification: a
  request whose document does not parse or validate, whose variables do not coerce, or that the limits refuse
  before anything runs is answered 400 with no ``data``; clients read the body whatever the status.
- ``application/json`` — for every other client (no ``Accept``, ``*/*``, ``application/json``): such clients may
  not read the body of a non-2xx answer, so every GraphQL error of a well-formed request is answered 200.

Either way, refusals of the HTTP request itself keep their status: a body that is not JSON or not a request (400),
a batch too large (400), a document too large (413), a method other than GET and POST (405), a token that does not
verify (401, with ``WWW-Authenticate: Bearer error="invalid_token"``, RFC 6750), a rate limit (429). Every error
carries ``extensions.code`` (README, "Error codes").
"""

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
_WILDCARDS = ("*/*", "application/*")

# RFC 6750, section 3: the challenge of a bearer token that was sent but does not verify (fixed texts: nothing
# about the token or its account is echoed).
_CHALLENGES = {
    "TOKEN_EXPIRED": 'Bearer error="invalid_token", error_description="The access token expired"',
    "INVALID_TOKEN": 'Bearer error="invalid_token", error_description="The access token is invalid"',
}


def response_media_type(request) -> str:
    """The media type to answer ``request`` with: ``application/graphql-response+json`` when its ``Accept`` header
    ranks it at least as high as ``application/json``, else ``application/json`` (also for no or an unsupported
    ``Accept``: the specification lets a server ignore it rather than answer 406)."""
    accept = request.headers.get("Accept", "")
    ranks = {GRAPHQL_RESPONSE_JSON: 0.0, JSON: 0.0}
    explicit = set()
    for entry in accept.split(","):
        media_type, *parameters = (part.strip() for part in entry.split(";"))
        media_type = media_type.lower()
        quality = _quality(parameters)
        if media_type in ranks:
            ranks[media_type] = quality if media_type not in explicit else max(ranks[media_type], quality)
            explicit.add(media_type)
        elif media_type in _WILDCARDS and JSON not in explicit:
            ranks[JSON] = max(ranks[JSON], quality)  # a wildcard gets the classic type
    if ranks[GRAPHQL_RESPONSE_JSON] > 0 and ranks[GRAPHQL_RESPONSE_JSON] >= ranks[JSON]:
        return GRAPHQL_RESPONSE_JSON
    return JSON


def response_status(status: int, *, request_error: bool, media_type: str) -> int:
    """The HTTP status of an answer: ``status`` as the specification sets it for graphql-response+json, or 200
    for an error of a well-formed GraphQL request (``request_error``: parse, validation, variables, limits)
    answered as application/json."""
    if request_error and media_type == JSON:
        return 200
    return status


def graphql_response(content: bytes, *, status: int, media_type: str, codes) -> HttpResponse:
    """An answer with its media type, ``Vary: Accept`` (the same URL answers in either type, so no cache may
    serve one for the other) and, for 401, the bearer challenge of the first token error in ``codes``."""
    response = HttpResponse(content, status=status, content_type=media_type)
    patch_vary_headers(response, ("Accept", "Authorization"))
    if status == 401:
        code = next((code for code in codes if code in _CHALLENGES), "INVALID_TOKEN")
        response["WWW-Authenticate"] = _CHALLENGES[code]
        response["Cache-Control"] = "no-store"
    return response


def _quality(parameters) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0
