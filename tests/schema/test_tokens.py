"""JWT access tokens and server-side refresh tokens through HTTP requests to /graphql."""

import time
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time
from graphql_jwt.settings import jwt_settings

from tests.conftest import GraphQLClient
from tests.users.factories import PASSWORD, person_create
from users import services
from users.models import RefreshTokenFamily, User

pytestmark = pytest.mark.django_db

TOKEN_AUTH = """mutation($username: String!, $password: String!) {
  tokenAuth(username: $username, password: $password) { token refreshToken refreshExpiresIn payload }
}"""
REFRESH = "mutation($token: String) { refreshToken(refreshToken: $token) { token refreshToken payload } }"
REVOKE = "mutation($token: String) { revokeToken(refreshToken: $token) { revoked } }"
VERIFY = "mutation($token: String) { verifyToken(token: $token) { payload } }"
ME = "{ me { username } }"


def log_in(gql, username="ada", password=PASSWORD) -> dict:
    return gql.data(TOKEN_AUTH, {"username": username, "password": password})["tokenAuth"]


def error_code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


@pytest.fixture
def ada():
    return person_create("ada")


def test_access_tokens_are_short_lived_and_name_the_account_by_id(gql, ada):
    tokens = log_in(gql)
    claims = jwt.decode(tokens["token"], settings.JWT_SECRET_KEY, algorithms=["HS256"])
    assert claims == tokens["payload"]
    assert claims["sub"] == str(ada.pk) and claims["username"] == "ada"
    assert claims["exp"] - claims["iat"] == 15 * 60 <= 60 * 60
    assert settings.JWT_SECRET_KEY != settings.SECRET_KEY
    refresh_lifetime = tokens["refreshExpiresIn"] - claims["iat"]
    assert abs(refresh_lifetime - jwt_settings.JWT_REFRESH_EXPIRATION_DELTA.total_seconds()) <= 2


def test_an_expired_access_token_is_refused_with_a_clear_error(gql, ada):
    token = log_in(gql)["token"]
    with freeze_time(timezone.now() + timedelta(minutes=14)):
        assert gql.data(ME, token=token)["me"] == {"username": "ada"}
    with freeze_time(timezone.now() + timedelta(minutes=16)):
        body = gql.execute(ME, token=token)
    assert "data" not in body  # 401: refused before anything ran (tests/schema/test_graphql_over_http.py)
    assert error_code(body) == "TOKEN_EXPIRED"
    assert "refreshToken" in body["errors"][0]["message"]


FOREVER = 4102444800  # 2100-01-01
INVALID_TOKENS = {
    "garbage": lambda: "garbage",
    "not-base64": lambda: "a.b.c",
    "other-key": lambda: jwt.encode(
        {"sub": "1", "exp": FOREVER}, "some other signing key, long enough for HS256", algorithm="HS256"
    ),
    "unsigned": lambda: jwt.encode({"sub": "1", "exp": FOREVER}, None, algorithm="none"),
    "no-subject": lambda: jwt.encode({"username": "ada", "exp": FOREVER}, settings.JWT_SECRET_KEY, algorithm="HS256"),
}


@pytest.mark.parametrize("kind", INVALID_TOKENS)
def test_invalid_access_tokens_get_a_client_error_never_a_500(client, ada, kind):
    token = INVALID_TOKENS[kind]()
    response = client.post(
        "/graphql", {"query": ME}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    body = response.json()
    assert "data" not in body
    assert error_code(body) == "INVALID_TOKEN"
    assert body["errors"][0]["message"].startswith("The access token is not valid")


def test_refresh_rotates_and_revoke_ends_the_session(gql, ada):
    first = log_in(gql)
    second = gql.data(REFRESH, {"token": first["refreshToken"]})["refreshToken"]
    assert second["refreshToken"] != first["refreshToken"]
    assert gql.data(ME, token=second["token"])["me"] == {"username": "ada"}

    assert gql.data(REVOKE, {"token": second["refreshToken"]})["revokeToken"]["revoked"] > 0
    assert error_code(gql.execute(REFRESH, {"token": second["refreshToken"]})) == "INVALID_TOKEN"
    assert error_code(gql.execute(REVOKE, {"token": second["refreshToken"]})) == "INVALID_TOKEN"
    assert error_code(gql.execute(REFRESH, {})) == "BAD_USER_INPUT"


def test_refresh_tokens_expire(gql, ada):
    refresh_token = log_in(gql)["refreshToken"]
    with freeze_time(timezone.now() + jwt_settings.JWT_REFRESH_EXPIRATION_DELTA + timedelta(minutes=1)):
        body = gql.execute(REFRESH, {"token": refresh_token})
    assert error_code(body) == "TOKEN_EXPIRED"


def test_an_expired_access_token_in_the_header_does_not_stop_refresh_verify_or_logout(gql, ada):
    tokens = log_in(gql)
    with freeze_time(timezone.now() + timedelta(hours=1)):
        refreshed = gql.data(REFRESH, {"token": tokens["refreshToken"]}, token=tokens["token"])["refreshToken"]
        verified = gql.data(VERIFY, {"token": refreshed["token"]}, token=tokens["token"])["verifyToken"]
        assert verified["payload"]["sub"] == str(ada.pk)
        assert gql.data(REVOKE, {"token": refreshed["refreshToken"]}, token=tokens["token"])["revokeToken"]
        assert log_in(gql)["token"]


def test_verify_token_reports_why_a_token_is_refused(gql, ada):
    token = log_in(gql)["token"]
    assert gql.data(VERIFY, {"token": token})["verifyToken"]["payload"]["username"] == "ada"
    assert error_code(gql.execute(VERIFY, {"token": "garbage"})) == "INVALID_TOKEN"
    with freeze_time(timezone.now() + timedelta(minutes=16)):
        assert error_code(gql.execute(VERIFY, {"token": token})) == "TOKEN_EXPIRED"


def test_a_token_of_a_deleted_account_never_opens_a_new_account_of_the_same_name(gql, ada):
    token = log_in(gql)["token"]
    User.objects.filter(pk=ada.pk).delete()
    person_create("ada")
    body = gql.execute(ME, token=token)
    assert "data" not in body
    assert error_code(body) == "INVALID_TOKEN"


def test_a_disabled_account_is_refused(gql, ada):
    token = log_in(gql)["token"]
    User.objects.filter(pk=ada.pk).update(is_active=False)
    assert error_code(gql.execute(ME, token=token)) == "INVALID_TOKEN"


# --- Refresh-token reuse (issue 12, finding 8) --------------------------------------------------------------------


def test_replaying_a_rotated_refresh_token_logs_out_thief_and_owner(gql, ada):
    """RFC 9700, section 4.14.2: a rotated token used again revokes every token descended from the same login."""
    stolen = log_in(gql)["refreshToken"]
    owners = gql.data(REFRESH, {"token": stolen})["refreshToken"]  # the owner refreshes, the thief kept a copy
    other_device = log_in(gql)["refreshToken"]

    replay = gql.execute(REFRESH, {"token": stolen})
    assert replay["data"]["refreshToken"] is None
    assert error_code(replay) == "INVALID_TOKEN"
    for mutation in (REFRESH, REVOKE):
        assert error_code(gql.execute(mutation, {"token": owners["refreshToken"]})) == "INVALID_TOKEN"
    assert gql.data(REFRESH, {"token": other_device})["refreshToken"]["refreshToken"]  # another login is untouched
    assert log_in(gql)["refreshToken"]  # and the owner can log in again


def test_the_family_stays_revoked_when_the_refusing_mutation_is_rolled_back(gql, ada, monkeypatch):
    """The refusal's transaction is rolled back (as ATOMIC_MUTATIONS does to a mutation answering with errors):
    the revocation of the family must survive it."""
    rotate = services.refresh_token_rotate

    def rotate_rolled_back_when_refused(*, token):
        try:
            return rotate(token=token)
        except ValidationError:
            transaction.set_rollback(True)
            raise

    monkeypatch.setattr(services, "refresh_token_rotate", rotate_rolled_back_when_refused)
    stolen = log_in(gql)["refreshToken"]
    owners = gql.data(REFRESH, {"token": stolen})["refreshToken"]
    assert error_code(gql.execute(REFRESH, {"token": stolen})) == "INVALID_TOKEN"
    assert RefreshTokenFamily.objects.get(members__token__token=stolen).revoked is not None
    assert error_code(gql.execute(REFRESH, {"token": owners["refreshToken"]})) == "INVALID_TOKEN"


@pytest.mark.parametrize("text", ["\x00", "abc\x00def", "\x1b[2J"])
def test_refresh_tokens_with_control_characters_are_bad_input_not_a_500(gql, ada, text):
    for mutation in (REFRESH, REVOKE):
        body = gql.execute(mutation, {"token": text})
        assert error_code(body) == "BAD_USER_INPUT", body
        assert "refreshToken" in body["errors"][0]["message"]


# --- Access tokens must carry exp, iat and sub (issue 12, finding 9) ------------------------------------------------


def forged_token(user, *, without: str | None = None) -> str:
    """An access token signed with the real key, with every claim Nexus issues except ``without``."""
    now = int(time.time())
    claims = {"sub": str(user.pk), "username": user.username, "iat": now, "exp": now + 600}
    claims.pop(without, None)
    return jwt.encode(claims, settings.GRAPHQL_JWT["JWT_SECRET_KEY"], algorithm="HS256")


@pytest.mark.parametrize("claim", ["exp", "iat", "sub"])
def test_an_access_token_without_exp_iat_or_sub_is_refused(gql, ada, claim):
    assert gql.data(ME, token=forged_token(ada))["me"] == {"username": "ada"}  # the forgery is otherwise perfect
    token = forged_token(ada, without=claim)
    body = gql.execute(ME, token=token)
    assert "data" not in body
    assert error_code(body) == "INVALID_TOKEN"
    assert error_code(gql.execute(VERIFY, {"token": token})) == "INVALID_TOKEN"


@pytest.mark.parametrize("claim", ["exp", "iat"])
def test_the_rate_limit_identity_refuses_the_same_tokens(client, ada, settings, claim):
    """The request's identity for rate limits and the response cache (schema/pipeline/identity.py) decodes with the same
    handler: a token without exp or iat spends the address's budget, not the account's."""
    settings.NEXUS_RATE_LIMIT_USER, settings.NEXUS_RATE_LIMIT_ANON = 1000, 500

    def budget(token: str) -> str:
        response = client.post(
            "/graphql", {"query": ME}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        return response["RateLimit-Limit"]

    assert budget(forged_token(ada)) == "1000"
    assert budget(forged_token(ada, without=claim)) == "500"


# --- Cookie mode --------------------------------------------------------------------------------------------------


@pytest.fixture
def browser(settings):
    """A browser client in cookie mode, with Django's CSRF checks on (the test client skips them by default)."""
    settings.NEXUS_JWT_COOKIE = True
    return GraphQLClient(Client(enforce_csrf_checks=True))


def csrf_header(browser) -> dict:
    """What the page's script sends: the CSRF cookie's current value (each login or refresh rotates it)."""
    return {"HTTP_X_CSRFTOKEN": browser.client.cookies[settings.CSRF_COOKIE_NAME].value}


def test_cookie_mode_sets_http_only_cookies_and_enforces_csrf(browser, ada):
    tokens = log_in(browser)
    cookies = browser.client.cookies
    access_cookie, refresh_cookie = (
        cookies[jwt_settings.JWT_COOKIE_NAME],
        cookies[jwt_settings.JWT_REFRESH_TOKEN_COOKIE_NAME],
    )
    assert access_cookie.value == tokens["token"] and refresh_cookie.value == tokens["refreshToken"]
    assert access_cookie["httponly"] and refresh_cookie["httponly"]
    assert access_cookie["samesite"] == "Lax"

    # A forged cross-site request carries the cookies but cannot know the CSRF token.
    forged = browser.client.post("/graphql", {"query": ME}, content_type="application/json")
    assert forged.status_code == 403
    assert browser.data(ME, **csrf_header(browser))["me"] == {"username": "ada"}

    refreshed = browser.data(REFRESH, **csrf_header(browser))["refreshToken"]  # from the refresh token's cookie
    assert cookies[jwt_settings.JWT_REFRESH_TOKEN_COOKIE_NAME].value == refreshed["refreshToken"]
    assert browser.data(REVOKE, **csrf_header(browser))["revokeToken"]["revoked"]
    for name in (jwt_settings.JWT_COOKIE_NAME, jwt_settings.JWT_REFRESH_TOKEN_COOKIE_NAME):
        assert (cookies[name].value, cookies[name]["max-age"]) == ("", 0)  # logout clears both cookies
        del cookies[name]  # as the browser does
    assert browser.data(ME, **csrf_header(browser))["me"] is None


def test_bearer_clients_need_no_csrf_token(browser, ada):
    token = log_in(browser)["token"]
    browser.client.cookies.clear()
    assert browser.data(ME, token=token)["me"] == {"username": "ada"}
