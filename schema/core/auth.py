from graphql_jwt.exceptions import JSONWebTokenError
from graphql_jwt.settings import jwt_settings
from graphql_jwt.utils import get_credentials, get_payload

from schema.core.errors import unauthenticated


def viewer(info):
    """The authenticated user making the request, or None for an anonymous caller."""
    user = getattr(info.context, "user", None)
    return user if user is not None and user.is_authenticated else None


def require_viewer(info):
    user = viewer(info)
    if user is None:
        raise unauthenticated()
    return user


def request_has_credentials(request) -> bool:
    """Whether the request carries an access or refresh token at all (header or cookies), valid or not."""
    return bool(request.META.get(jwt_settings.JWT_AUTH_HEADER_NAME)) or (
        jwt_settings.JWT_COOKIE_NAME in request.COOKIES or jwt_settings.JWT_REFRESH_TOKEN_COOKIE_NAME in request.COOKIES
    )


_NO_SUBJECT = object()


def request_token_subject(request) -> str | None:
    """The account id that the request's access token names, when the token verifies (signature and expiry; no
    database query: the account itself is checked when the operation runs). Read once per request."""
    subject = getattr(request, "_nexus_token_subject", _NO_SUBJECT)
    if subject is _NO_SUBJECT:
        subject = _token_subject(request)
        request._nexus_token_subject = subject
    return subject


def _token_subject(request) -> str | None:
    token = get_credentials(request)
    if not token:
        return None
    try:
        payload = get_payload(token, request)
    except JSONWebTokenError:
        return None
    return jwt_settings.JWT_PAYLOAD_GET_USERNAME_HANDLER(payload)
