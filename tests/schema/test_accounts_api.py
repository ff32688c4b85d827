"""Accounts through HTTP requests to /graphql: register, log in, profile, password, account deletion, throttling."""

import pytest

from catalog.models import Genre
from tests.users.factories import (
    PASSWORD,
    assert_statistics_exact,
    movie_create,
    movie_global_id,
    people,
    person_create,
)
from users import services
from users.models import Rating, User

pytestmark = pytest.mark.django_db

ERRORS = "errors { field message code }"
REGISTER = f"""mutation($username: String!, $email: String!, $password: String!, $genres: [String!]) {{
  register(username: $username, email: $email, password: $password, favoriteGenres: $genres) {{
    user {{ username email favoriteGenres {{ name }} }} token refreshToken {ERRORS}
  }}
}}"""
TOKEN_AUTH = """mutation($username: String!, $password: String!) {
  tokenAuth(username: $username, password: $password) { token refreshToken refreshExpiresIn payload user { username } }
}"""
ME = "{ me { username email displayName bio favoriteGenres { name } } }"
UPDATE_PROFILE = f"""mutation($displayName: String, $bio: String, $email: String, $genres: [String!]) {{
  updateProfile(displayName: $displayName, bio: $bio, email: $email, favoriteGenres: $genres) {{
    user {{ displayName bio email favoriteGenres {{ name }} }} {ERRORS}
  }}
}}"""
CHANGE_PASSWORD = f"""mutation($old: String!, $new: String!) {{
  changePassword(oldPassword: $old, newPassword: $new) {{ user {{ username }} token refreshToken {ERRORS} }}
}}"""
DELETE_ACCOUNT = (
    f"""mutation($password: String!) {{ deleteAccount(password: $password) {{ deletedUsername {ERRORS} }} }}"""
)
REFRESH = "mutation($token: String) { refreshToken(refreshToken: $token) { token refreshToken } }"
RATE = f"""mutation($movie: ID!, $score: Float!) {{ rateMovie(movieId: $movie, score: $score) {{ {ERRORS} }} }}"""


def register(gql, username="ada", email="ada@example.com", password=PASSWORD, genres=None) -> dict:
    return gql.data(REGISTER, {"username": username, "email": email, "password": password, "genres": genres})[
        "register"
    ]


def token_auth(gql, username, password, **headers) -> dict:
    return gql.execute(TOKEN_AUTH, {"username": username, "password": password}, **headers)


def error_code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


def test_register_log_in_and_read_me(gql):
    for name, slug in (("Comedy", "comedy"), ("Sci-Fi", "sci-fi")):
        Genre.objects.get_or_create(name=name, defaults={"slug": slug})
    registered = register(gql, username="Ada", email="ada@example.com", genres=["sci-fi", "COMEDY"])
    assert registered["errors"] == []
    assert registered["user"] == {
        "username": "Ada",
        "email": "ada@example.com",
        "favoriteGenres": [{"name": "Comedy"}, {"name": "Sci-Fi"}],
    }
    assert registered["token"] and registered["refreshToken"]
    assert gql.data(ME, token=registered["token"])["me"]["username"] == "Ada"

    logged_in = token_auth(gql, "ada", PASSWORD)["data"]["tokenAuth"]  # usernames match in any case
    assert logged_in["user"] == {"username": "Ada"}
    assert logged_in["payload"]["username"] == "Ada"
    assert logged_in["refreshToken"] != registered["refreshToken"]
    me = gql.data(ME, token=logged_in["token"])["me"]
    assert me == {
        "username": "Ada",
        "email": "ada@example.com",
        "displayName": "",
        "bio": "",
        "favoriteGenres": [{"name": "Comedy"}, {"name": "Sci-Fi"}],
    }


def test_me_is_null_for_anonymous_callers(gql):
    assert gql.data(ME) == {"me": None}


def test_duplicates_weak_passwords_and_bad_emails_come_back_in_errors(gql):
    register(gql, username="ada", email="ada@example.com")
    duplicate = register(gql, username="ADA", email="Ada@Example.com")
    assert duplicate["user"] is None and duplicate["token"] is None
    assert {(error["field"], error["code"]) for error in duplicate["errors"]} == {
        ("username", "UNIQUE"),
        ("email", "UNIQUE"),
    }
    weak = register(gql, username="grace", email="grace@example", password="12345678")
    fields = {(error["field"], error["code"]) for error in weak["errors"]}
    assert ("password", "PASSWORD_TOO_WEAK") in fields and ("email", "BAD_USER_INPUT") in fields
    assert all(error["message"] for error in weak["errors"])
    assert list(people().values_list("username", flat=True)) == ["ada"]


def test_register_works_with_a_stale_token_still_in_the_header(gql):
    """A client that logged out may still send its old token: registering must not depend on it."""
    assert register(gql, username="ada")["errors"] == []
    body = gql.execute(
        REGISTER,
        {"username": "grace", "email": "grace@example.com", "password": PASSWORD},
        token="not.a.token",
    )
    assert body["data"]["register"]["errors"] == []
    assert body["data"]["register"]["user"]["email"] == "grace@example.com"


def test_update_profile_changes_what_is_given_and_nothing_on_errors(gql):
    Genre.objects.get_or_create(name="Drama", defaults={"slug": "drama"})
    gql.token = register(gql)["token"]
    changed = gql.data(UPDATE_PROFILE, {"displayName": "Ada Lovelace", "bio": "Analyst.", "genres": ["drama"]})
    assert changed["updateProfile"] == {
        "user": {
            "displayName": "Ada Lovelace",
            "bio": "Analyst.",
            "email": "ada@example.com",
            "favoriteGenres": [{"name": "Drama"}],
        },
        "errors": [],
    }
    refused = gql.data(UPDATE_PROFILE, {"displayName": "Someone else", "bio": "x" * 2001, "email": "nope"})
    assert refused["updateProfile"]["user"] is None
    assert {(error["field"], error["code"]) for error in refused["updateProfile"]["errors"]} == {
        ("bio", "BAD_USER_INPUT"),
        ("email", "BAD_USER_INPUT"),
    }
    assert gql.data(ME)["me"]["displayName"] == "Ada Lovelace"


def test_update_profile_needs_a_login(gql):
    body = gql.execute(UPDATE_PROFILE, {"displayName": "Anyone"})
    assert body["data"]["updateProfile"] is None
    assert error_code(body) == "UNAUTHENTICATED"


def test_change_password_logs_out_other_sessions_and_returns_a_new_pair(gql):
    registered = register(gql)
    gql.token = registered["token"]
    other_session = token_auth(gql, "ada", PASSWORD)["data"]["tokenAuth"]

    wrong = gql.data(CHANGE_PASSWORD, {"old": "not it", "new": "a brand new passphrase"})["changePassword"]
    assert wrong["errors"] == [
        {"field": "oldPassword", "message": "The password is not correct.", "code": "WRONG_PASSWORD"}
    ]
    weak = gql.data(CHANGE_PASSWORD, {"old": PASSWORD, "new": "ada"})["changePassword"]
    assert {error["field"] for error in weak["errors"]} == {"newPassword"}

    changed = gql.data(CHANGE_PASSWORD, {"old": PASSWORD, "new": "a brand new passphrase"})["changePassword"]
    assert changed["errors"] == [] and changed["token"] and changed["refreshToken"]
    for old_refresh_token in (registered["refreshToken"], other_session["refreshToken"]):
        assert error_code(gql.execute(REFRESH, {"token": old_refresh_token})) == "INVALID_TOKEN"
    assert gql.data(REFRESH, {"token": changed["refreshToken"]})["refreshToken"]["token"]
    assert error_code(token_auth(gql, "ada", PASSWORD)) == "UNAUTHENTICATED"
    assert token_auth(gql, "ada", "a brand new passphrase")["data"]["tokenAuth"]["token"]


def test_deleted_account_cannot_log_in_and_its_ratings_leave_the_statistics(gql):
    movie = movie_create()
    grace = person_create("grace")
    token = register(gql)["token"]
    services.rating_upsert(user=grace, movie=movie, score=2)
    assert gql.data(RATE, {"movie": movie_global_id(movie), "score": 5.0}, token=token)["rateMovie"]["errors"] == []
    movie.refresh_from_db()
    assert (movie.rating_count, movie.rating_mean) == (2, 3.5)

    refused = gql.data(DELETE_ACCOUNT, {"password": "wrong"}, token=token)["deleteAccount"]
    assert refused == {
        "deletedUsername": None,
        "errors": [{"field": "password", "message": "The password is not correct.", "code": "WRONG_PASSWORD"}],
    }
    deleted = gql.data(DELETE_ACCOUNT, {"password": PASSWORD}, token=token)["deleteAccount"]
    assert deleted == {"deletedUsername": "ada", "errors": []}

    assert not User.objects.filter(username="ada").exists()
    assert error_code(token_auth(gql, "ada", PASSWORD)) == "UNAUTHENTICATED"
    assert error_code(gql.execute(ME, token=token)) == "INVALID_TOKEN"
    movie.refresh_from_db()
    assert (movie.rating_count, movie.rating_mean) == (1, 2.0)
    assert list(Rating.objects.filter(movie=movie).values_list("user__username", flat=True)) == ["grace"]
    assert_statistics_exact(movie)


def test_twelve_wrong_passwords_lock_the_account_for_a_while(gql):
    register(gql)
    codes = [error_code(token_auth(gql, "ada", f"wrong {attempt}")) for attempt in range(12)]
    assert codes == ["UNAUTHENTICATED"] * 10 + ["RATE_LIMITED"] * 2
    refused = token_auth(gql, "ada", PASSWORD, REMOTE_ADDR="203.0.113.5")
    assert refused["data"]["tokenAuth"] is None
    assert error_code(refused) == "RATE_LIMITED"
    assert "Try again" in refused["errors"][0]["message"]


def test_a_throttled_unknown_account_looks_like_a_throttled_real_one(gql):
    register(gql)
    bodies = {}
    for username, address in (("ada", "192.0.2.1"), ("nobody", "192.0.2.2")):
        for _ in range(11):
            bodies[username] = token_auth(gql, username, "wrong", REMOTE_ADDR=address)
    assert bodies["ada"] == bodies["nobody"]
    assert error_code(bodies["ada"]) == "RATE_LIMITED"


def test_mutations_after_delete_account_in_the_same_request_do_not_act_for_it(gql):
    movie = movie_create()
    token = register(gql)["token"]
    body = gql.execute(
        f"""mutation($movie: ID!) {{
          deleteAccount(password: "{PASSWORD}") {{ deletedUsername }}
          rateMovie(movieId: $movie, score: 4.0) {{ errors {{ code }} }}
        }}""",
        {"movie": movie_global_id(movie)},
        token=token,
    )
    assert body["data"]["deleteAccount"] == {"deletedUsername": "ada"}
    assert body["data"]["rateMovie"] is None
    assert error_code(body) == "INVALID_TOKEN"  # the token's account no longer exists
    assert not people().filter(username="ada").exists()
    assert not Rating.objects.filter(movie=movie).exists()
