"""Text inputs refuse control characters, and malformed ids are the client's error: issue 12, findings 6 and 7,
through HTTP requests to /graphql. Each of these once answered INTERNAL_SERVER_ERROR (NUL cannot be stored in, or
even compared by, PostgreSQL) or stored text that hides itself from people reading it."""

import base64

import pytest
from graphql_jwt.shortcuts import get_token

from tests.users.factories import PASSWORD, person_create
from users.models import User

pytestmark = pytest.mark.usefixtures("movielens")

ERRORS = "errors { field code message }"
CONTROL = ["\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\u009f"]  # C0, DEL and C1 controls: all Unicode Cc

REGISTER = f"""mutation($username: String!, $email: String!, $password: String!, $genres: [String!]) {{
  register(username: $username, email: $email, password: $password, favoriteGenres: $genres) {{ token {ERRORS} }}
}}"""
UPDATE_PROFILE = f"""mutation($displayName: String, $bio: String, $email: String, $genres: [String!]) {{
  updateProfile(displayName: $displayName, bio: $bio, email: $email, favoriteGenres: $genres) {{
    user {{ displayName bio }} {ERRORS} }}
}}"""
CHANGE_PASSWORD = f"""mutation($old: String!, $new: String!) {{
  changePassword(oldPassword: $old, newPassword: $new) {{ {ERRORS} }} }}"""
DELETE_ACCOUNT = f"mutation($password: String!) {{ deleteAccount(password: $password) {{ {ERRORS} }} }}"
TOKEN_AUTH = """mutation($username: String!, $password: String!) {
  tokenAuth(username: $username, password: $password) { token } }"""


def field_errors(payload: dict) -> list[tuple[str, str]]:
    return [(error["field"], error["code"]) for error in payload["errors"]]


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


def global_id(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def by_id(field: str, decoded_id: str) -> str:
    return f'{{ {field}(id: "{global_id(decoded_id)}") {{ __typename }} }}'


@pytest.fixture
def ada(gql):
    user = person_create("ada")
    gql.token = get_token(user)
    return user


# --- Mutation payloads: field errors with code BAD_USER_INPUT, nothing written ---------------------------------------


@pytest.mark.parametrize("control", CONTROL)
def test_profile_text_with_control_characters_is_refused(gql, ada, control):
    for field in ("displayName", "bio"):
        payload = gql.data(UPDATE_PROFILE, {field: f"Ada{control}Lovelace"})["updateProfile"]
        assert payload["user"] is None
        assert field_errors(payload) == [(field, "BAD_USER_INPUT")]
        assert "control characters" in payload["errors"][0]["message"].lower()
    ada.refresh_from_db()
    assert (ada.display_name, ada.bio) == ("", "")


def test_a_bio_may_span_lines_but_a_display_name_may_not(gql, ada):
    bio = "Analyst.\r\n\tPoet of science."
    assert gql.data(UPDATE_PROFILE, {"bio": bio})["updateProfile"]["user"]["bio"] == bio
    payload = gql.data(UPDATE_PROFILE, {"displayName": "Ada\nLovelace"})["updateProfile"]
    assert field_errors(payload) == [("displayName", "BAD_USER_INPUT")]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"username": "ada\x00"}, "username"),
        ({"username": "\x00"}, "username"),
        ({"email": "grace@example.com\x00"}, "email"),
        ({"password": "a long passphrase\x00"}, "password"),
        ({"genres": ["Drama\x00"]}, "favoriteGenres"),
    ],
)
def test_register_refuses_control_characters_in_every_argument(gql, variables, field):
    arguments = {"username": "grace", "email": "grace@example.com", "password": "a long passphrase", **variables}
    payload = gql.data(REGISTER, arguments)["register"]
    assert payload["token"] is None
    assert (field, "BAD_USER_INPUT") in field_errors(payload)
    assert not User.objects.filter(email__startswith="grace").exists()


def test_password_arguments_refuse_control_characters(gql, ada):
    payload = gql.data(CHANGE_PASSWORD, {"old": PASSWORD, "new": "a brand new passphrase\x00"})["changePassword"]
    assert field_errors(payload) == [("newPassword", "BAD_USER_INPUT")]
    payload = gql.data(CHANGE_PASSWORD, {"old": f"{PASSWORD}\x00", "new": "a brand new passphrase"})["changePassword"]
    assert field_errors(payload) == [("oldPassword", "BAD_USER_INPUT")]
    payload = gql.data(DELETE_ACCOUNT, {"password": "\x00"})["deleteAccount"]
    assert field_errors(payload) == [("password", "BAD_USER_INPUT")]
    ada.refresh_from_db()
    assert ada.check_password(PASSWORD)


@pytest.mark.parametrize("movie_id", [global_id("Movie:abc"), global_id("Movie:\x00"), global_id("Movie:²")])
def test_movie_ids_whose_key_is_not_a_number_are_field_errors(gql, ada, movie_id):
    mutation = f"mutation($id: ID!) {{ addFavorite(movieId: $id) {{ {ERRORS} }} }}"
    assert field_errors(gql.data(mutation, {"id": movie_id})["addFavorite"]) == [("movieId", "BAD_USER_INPUT")]


# --- Other mutations and queries: BAD_USER_INPUT ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password"), [("ada\x00", PASSWORD), ("\x00", "x"), ("ada", f"{PASSWORD}\x00"), ("ada\x1b", PASSWORD)]
)
def test_token_auth_refuses_control_characters_as_bad_input(gql, username, password):
    person_create("ada")
    body = gql.execute(TOKEN_AUTH, {"username": username, "password": password})
    assert code(body) == "BAD_USER_INPUT", body
    assert body["data"] == {"tokenAuth": None}


@pytest.mark.parametrize(
    "query",
    [
        '{ movies(search: "Toy\\u0000Story") { totalCount } }',
        '{ movies(search: "\\u001b[2J") { totalCount } }',
        '{ movies(genres: ["Comedy\\u0000"]) { totalCount } }',
        '{ movies(anyGenres: ["\\u0085"]) { totalCount } }',
        '{ movies(after: "\\u0000") { totalCount } }',
        '{ popular(genre: "Drama\\u0000") { title } }',
        '{ trending(genre: "\\u0000") { title } }',
        '{ recommendations(genre: "\\u0000") { score } }',
        '{ movie(imdbId: "tt\\u0000114709") { title } }',
        '{ movie(imdbId: "tt²") { title } }',
        by_id("movie", "Movie:abc"),
        by_id("movie", "Movie:99999999999999999999999"),
        by_id("node", "Movie:abc"),
        by_id("node", "Movie:-1"),
        by_id("node", "Movie: 1"),
        by_id("node", "Movie:99999999999999999999999"),
        by_id("node", "Movie:\x00"),
        '{ node(id: "\\u0000") { id } }',
    ],
)
def test_query_arguments_with_control_characters_or_bad_ids_are_bad_user_input(gql, query):
    body = gql.execute(query)
    assert code(body) == "BAD_USER_INPUT", body


def test_the_viewers_connections_refuse_bad_cursors(gql, ada):
    body = gql.execute('{ me { ratings(after: "\\u0000") { totalCount } history(before: "x\\u0001") { totalCount } } }')
    assert {error["extensions"]["code"] for error in body["errors"]} == {"BAD_USER_INPUT"}
