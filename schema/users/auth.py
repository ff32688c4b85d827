"""Logging in with JSON Web Tokens (django-graphql-jwt, configured by ``GRAPHQL_JWT`` in settings).

An access token is a short-lived signed JWT sent as ``Authorization: Bearer <token>``; it names the account by id
(``sub``), so a token outlives neither its account nor a reuse of its username. A refresh token is a random string
stored server side: exchanged once for a new pair (rotation), revocable, and revoked when the password changes. In
cookie mode (``settings.NEXUS_JWT_COOKIE``) both are also set as HttpOnly cookies; the view
(``schema.pipeline.view``) then enforces CSRF on every request that carries them.
"""

from calendar import timegm

import graphene
import jwt
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.middleware.csrf import rotate_token
from django.utils import timezone
from graphene.types.generic import GenericScalar
from graphql import GraphQLError
from graphql_jwt.exceptions import JSONWebTokenError
from graphql_jwt.settings import jwt_settings
from graphql_jwt.utils import get_payload, get_user_by_payload

from nexus.request_context import client_address
from schema.core.errors import bad_input, bad_input_from_validation_error
from schema.pipeline.identity import request_identity
from schema.users.types import UserType
from users import services
from users.cache import account_get
from users.models import User

# Service refusals (ValidationError codes) → extensions.code of the GraphQL error.
_REFUSAL_CODES = {
    "invalid_credentials": "UNAUTHENTICATED",
    "rate_limited": "RATE_LIMITED",
    "invalid_token": "INVALID_TOKEN",
    "token_expired": "TOKEN_EXPIRED",
}


# --- django-graphql-jwt handlers (named in settings.GRAPHQL_JWT) --------------------------------------------------


def jwt_payload(user: User, context=None) -> dict:
    """The claims of an access token: the account id, the username for convenience, issue and expiry times."""
    issued_at = timezone.now()
    return {
        "sub": str(user.pk),
        "username": user.get_username(),
        "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + jwt_settings.JWT_EXPIRATION_DELTA).timestamp()),
    }


def jwt_decode(token: str, context=None) -> dict:
    """graphql_jwt's decoding (signature, expiry, audience, issuer as configured), refusing tokens that lack any
    claim jwt_payload sets: a token without ``exp`` would never expire."""
    return jwt.decode(
        token,
        jwt_settings.JWT_PUBLIC_KEY or jwt_settings.JWT_SECRET_KEY,
        options={
            "require": ["exp", "iat", "sub"],
            "verify_exp": jwt_settings.JWT_VERIFY_EXPIRATION,
            "verify_aud": jwt_settings.JWT_AUDIENCE is not None,
            "verify_signature": jwt_settings.JWT_VERIFY,
        },
        leeway=jwt_settings.JWT_LEEWAY,
        audience=jwt_settings.JWT_AUDIENCE,
        issuer=jwt_settings.JWT_ISSUER,
        algorithms=[jwt_settings.JWT_ALGORITHM],
    )


def jwt_subject(payload: dict) -> str | None:
    return payload.get("sub")


def user_by_jwt_subject(subject: str) -> User:
    subject = str(subject)
    user = account_get(user_id=int(subject)) if subject.isascii() and subject.isdigit() else None
    if user is None:
        raise JSONWebTokenError("the account no longer exists")
    return user


def end_account_session(info) -> None:
    """The caller's account is gone: the rest of the request runs as nobody (schema/pipeline/identity.py). This
    mutation's payload still resolves; later fields that need a user are refused."""
    info.context.user = AnonymousUser()
    request_identity(info.context).end()
    forget_token_cookies(info)


# --- Payload fields -----------------------------------------------------------------------------------------------

ACCESS_HELP = "Access token: send it as `Authorization: Bearer <token>`. Short-lived: refresh it before it expires."
REFRESH_HELP = "Refresh token: exchange it once, with refreshToken, for a new pair; log out with revokeToken."


class TokenPairFields:
    token = graphene.String(required=True, description=ACCESS_HELP)
    refresh_token = graphene.String(required=True, description=REFRESH_HELP)
    payload = GenericScalar(required=True, description="The access token's claims: sub (account id), username, exp.")
    refresh_expires_in = graphene.Int(required=True, description="When the refresh token expires (Unix time).")


def issue_tokens(info, user: User, refresh_token) -> dict:
    """Payload fields for a new login session of ``user`` with a stored ``refresh_token``. The payload resolves as
    ``user`` (the request's other fields keep the request's own identity); in cookie mode the tokens are set as
    HttpOnly cookies too, under a new CSRF token."""
    payload = jwt_settings.JWT_PAYLOAD_HANDLER(user, info.context)
    token = jwt_settings.JWT_ENCODE_HANDLER(payload, info.context)
    info.context.user = user
    if settings.NEXUS_JWT_COOKIE:
        # Read by graphql_jwt's jwt_cookie view decorator (nexus/urls.py) when it builds the response.
        info.context.jwt_token, info.context.jwt_refresh_token = token, refresh_token
        rotate_token(info.context)
    expires = refresh_token.created + jwt_settings.JWT_REFRESH_EXPIRATION_DELTA
    return {
        "token": token,
        "refresh_token": refresh_token.get_token(),
        "payload": payload,
        "refresh_expires_in": timegm(expires.utctimetuple()),
    }


def forget_token_cookies(info) -> None:
    """Logging out in cookie mode: the response clears both token cookies (graphql_jwt's jwt_cookie does it)."""
    if settings.NEXUS_JWT_COOKIE:
        info.context.delete_jwt_cookie = info.context.delete_refresh_token_cookie = True


def refused(exc: ValidationError) -> GraphQLError:
    """A service's refusal as a GraphQL error; refused arguments (errors by field) are BAD_USER_INPUT."""
    code = _REFUSAL_CODES.get(getattr(exc, "code", None))
    if code is None:
        return bad_input_from_validation_error(exc)
    return GraphQLError(" ".join(exc.messages), extensions={"code": code})


def _with_refresh_token(service, info, refresh_token: str | None):
    """Call a refresh-token service with the token given, or in cookie mode the one in its cookie."""
    if refresh_token is None and settings.NEXUS_JWT_COOKIE:
        refresh_token = info.context.COOKIES.get(jwt_settings.JWT_REFRESH_TOKEN_COOKIE_NAME)
    if not refresh_token:
        raise bad_input("Give the refresh token (`refreshToken`).")
    try:
        return service(token=refresh_token)
    except ValidationError as exc:
        raise refused(exc) from None


# --- Mutations ----------------------------------------------------------------------------------------------------


class TokenAuth(TokenPairFields, graphene.Mutation):
    """Log in with username and password. After too many failed attempts for one account name or from one
    address, logins are refused for a while (code RATE_LIMITED), even with the right password."""

    user = graphene.Field(graphene.NonNull(UserType), description="Your account.")

    class Arguments:
        username = graphene.String(required=True, description="Your username, in any case.")
        password = graphene.String(required=True, description="Your password.")

    @classmethod
    def mutate(cls, root, info, username, password):
        try:
            user = services.user_login(
                username=username, password=password, client_address=client_address(info.context)
            )
        except ValidationError as exc:
            raise refused(exc) from None
        return cls(user=user, **issue_tokens(info, user, services.refresh_token_create(user=user)))


class RefreshTokenArguments:
    refresh_token = graphene.String(
        description="The refresh token; in cookie mode it may be left out and is read from its cookie."
    )


class RefreshToken(TokenPairFields, graphene.Mutation):
    """Exchange a refresh token for a new access token and a new refresh token. The old refresh token stops
    working: used again (code INVALID_TOKEN), it is taken for stolen, and every refresh token of its login session
    is revoked too, so that the session must log in again."""

    class Arguments(RefreshTokenArguments):
        pass

    @classmethod
    def mutate(cls, root, info, refresh_token=None):
        rotated = _with_refresh_token(services.refresh_token_rotate, info, refresh_token)
        return cls(**issue_tokens(info, rotated.user, rotated))


class RevokeToken(graphene.Mutation):
    """Log out: revoke a refresh token (in cookie mode, also clear the cookies). Access tokens already issued
    stay valid until they expire, minutes later."""

    revoked = graphene.Int(required=True, description="When the token was revoked (Unix time).")

    class Arguments(RefreshTokenArguments):
        pass

    @classmethod
    def mutate(cls, root, info, refresh_token=None):
        revoked = _with_refresh_token(services.refresh_token_revoke, info, refresh_token)
        forget_token_cookies(info)
        return cls(revoked=timegm(revoked.revoked.utctimetuple()))


class VerifyToken(graphene.Mutation):
    """Check an access token: its claims when it is valid, otherwise an error with code INVALID_TOKEN or
    TOKEN_EXPIRED."""

    payload = GenericScalar(required=True, description="The token's claims: sub (account id), username, exp.")

    class Arguments:
        token = graphene.String(
            description="The access token; in cookie mode it may be left out (read from its cookie)."
        )

    @classmethod
    def mutate(cls, root, info, token=None):
        if token is None and settings.NEXUS_JWT_COOKIE:
            token = info.context.COOKIES.get(jwt_settings.JWT_COOKIE_NAME)
        if not token:
            raise bad_input("Give the access token (`token`).")
        # Invalid and expired tokens raise graphql_jwt's errors, which schema.pipeline.view reports with their codes.
        payload = get_payload(token, info.context)
        get_user_by_payload(payload)
        return cls(payload=payload)
