"""Who a request runs as, and under whose key its answers are cached: decided once per request, from its access
token alone (schema/pipeline/identity.py). Each test is an attack that once worked (issue 12, findings 1 and 2) and the
assertion that it no longer does."""

import json
import time
import uuid
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from graphql_jwt.shortcuts import get_token

from catalog.models import Movie
from nexus import versions
from tests.users.factories import PASSWORD, movie_global_id, person_create
from users import services
from users.models import Rating, User

PRIVATE = """query Private { me { username email }
  movie(movielensId: 1) { title myRating isFavorite inWatchlist } }"""
TOKEN_AUTH = "mutation($u: String!, $p: String!) { tokenAuth(username: $u, password: $p) { token } }"
REGISTER = """mutation($u: String!) {
  register(username: $u, email: "mallory@example.com", password: "a long passphrase 42") { token errors { code } } }"""


def post(client, body, **headers):
    return client.post("/graphql", data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def ada(movielens):
    """Ada, who rated and favorited Toy Story."""
    ada = person_create("ada", password=PASSWORD)
    toy_story = Movie.objects.get(movielens_id=1)
    services.rating_upsert(user=ada, movie=toy_story, score=5)
    services.favorite_add(user=ada, movie=toy_story)
    return ada


def assert_anonymous(data):
    assert data["me"] is None
    assert data["movie"]["myRating"] is None
    assert data["movie"]["isFavorite"] is False


@pytest.mark.parametrize("login", ["tokenAuth", "register"])
def test_a_login_inside_a_batch_does_not_sign_in_the_rest_of_the_batch(client, ada, login):
    if login == "tokenAuth":
        first = {"query": TOKEN_AUTH, "variables": {"u": "ada", "p": PASSWORD}}
    else:
        first = {"query": REGISTER, "variables": {"u": "mallory"}}
    answers = post(client, [first, {"query": PRIVATE}]).json()
    assert answers[0]["data"][login]["token"]  # the login itself worked, and answered with its tokens
    assert_anonymous(answers[1]["data"])

    # What the batch cached as anonymous is what an anonymous caller sees: nothing of Ada's, or of Mallory's.
    later = post(Client(), {"query": PRIVATE})
    assert later["X-Cache"] == "HIT"
    assert_anonymous(later.json()["data"])


def test_a_login_does_not_sign_in_the_later_fields_of_its_own_operation(client, ada):
    toy_story = movie_global_id(Movie.objects.get(movielens_id=1))
    document = """mutation($u: String!, $p: String!, $m: ID!) {
      tokenAuth(username: $u, password: $p) { token user { username } }
      rateMovie(movieId: $m, score: 1.0) { rating { score } } }"""
    body = post(client, {"query": document, "variables": {"u": "ada", "p": PASSWORD, "m": toy_story}}).json()
    assert body["data"]["tokenAuth"]["user"]["username"] == "ada"  # the login's own payload is Ada's
    assert body["data"]["rateMovie"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert Rating.objects.get(user=ada, movie__movielens_id=1).score == 5


def test_a_signed_in_batch_after_deleting_the_account_runs_as_nobody_and_is_not_cached(client, ada):
    token = {"HTTP_AUTHORIZATION": f"Bearer {get_token(ada)}"}
    delete = {"query": f'mutation {{ deleteAccount(password: "{PASSWORD}") {{ deletedUsername }} }}'}
    answers = post(client, [delete, {"query": PRIVATE}], **token).json()
    assert answers[0]["data"]["deleteAccount"]["deletedUsername"] == "ada"
    assert answers[1]["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
    assert post(client, {"query": PRIVATE}, **token)["X-Cache"] == "MISS"
    assert_anonymous(post(Client(), {"query": PRIVATE}).json()["data"])


def test_identity_is_one_for_every_operation_of_a_signed_in_batch(client, ada):
    token = {"HTTP_AUTHORIZATION": f"Bearer {get_token(ada)}"}
    login_as_bob = {"query": REGISTER.replace("mallory", "bob"), "variables": {"u": "bob"}}
    answers = post(client, [login_as_bob, {"query": PRIVATE}], **token).json()
    assert answers[1]["data"]["me"]["username"] == "ada"


@pytest.fixture
def staff_browser(ada):
    """A browser in which a staff member is signed in to /admin/ (a Django session cookie)."""
    staff = User.objects.create_user("staff", "staff@example.com", PASSWORD, is_staff=True, is_superuser=True)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    return browser


def test_an_admin_session_is_not_a_credential_of_the_api(staff_browser):
    response = staff_browser.get("/graphql", {"query": "{ me { email } }"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["data"]["me"] is None
    # Cached as anonymous, it holds no one's email.
    anonymous = Client().get("/graphql", {"query": "{ me { email } }"}, HTTP_ACCEPT="application/json")
    assert anonymous["X-Cache"] == "HIT"
    assert anonymous.json()["data"] == {"me": None}


def test_a_forged_cross_site_mutation_with_a_session_cookie_changes_nothing(staff_browser):
    toy_story = movie_global_id(Movie.objects.get(movielens_id=1))
    response = post(
        staff_browser,
        {"query": f'mutation {{ rateMovie(movieId: "{toy_story}", score: 0.5) {{ rating {{ score }} }} }}'},
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert not Rating.objects.filter(user__username="staff").exists()


def test_a_bearer_token_does_not_open_an_admin_session(client, ada):
    User.objects.filter(pk=ada.pk).update(is_staff=True, is_superuser=True)
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "ada", "password": "not her password", "next": "/admin/"},
        HTTP_AUTHORIZATION=f"Bearer {get_token(ada)}",
    )
    assert response.status_code == 200  # the login form again, with its error
    assert client.get("/admin/").status_code == 302  # still sent to the login page


# --- The account copy: read once per account version, never after a change (users/cache.py) --------------------


def account_reads(client, token, query="{ me { username } }") -> tuple[dict, int]:
    """The answer to ``query`` (a cache miss: a fresh unused variable) and how many reads of the account it made."""
    with CaptureQueriesContext(connection) as queries:
        answer = post(client, {"query": query, "variables": {"nonce": uuid.uuid4().hex}}, HTTP_AUTHORIZATION=token)
    return answer.json(), sum('FROM "users_user"' in query["sql"] for query in queries.captured_queries)


def test_a_signed_in_account_is_read_once_per_account_version(client, ada):
    token = f"Bearer {get_token(ada)}"
    query = "{ me { username displayName } }"
    answer, reads = account_reads(client, token, query)
    assert (answer["data"], reads) == ({"me": {"username": "ada", "displayName": ""}}, 1)
    assert account_reads(client, token, query)[1] == 0  # the next miss uses this process' copy
    toy_story = movie_global_id(Movie.objects.get(movielens_id=1))
    rate = f'mutation {{ rateMovie(movieId: "{toy_story}", score: 2) {{ rating {{ score }} }} }}'
    assert post(client, {"query": rate}, HTTP_AUTHORIZATION=token).json()["data"]["rateMovie"]["rating"]["score"] == 2
    assert account_reads(client, token, query)[1] == 0  # her library changed, not her account: the copy stands
    rename = 'mutation { updateProfile(displayName: "Ada L.") { errors { code } } }'
    assert post(client, {"query": rename}, HTTP_AUTHORIZATION=token).json()["data"]["updateProfile"]["errors"] == []
    answer, reads = account_reads(client, token, query)
    assert (answer["data"]["me"]["displayName"], reads) == ("Ada L.", 1)  # her account changed: read again


def test_an_account_disabled_by_staff_is_refused_at_once_though_its_copy_is_warm(
    client, ada, django_capture_on_commit_callbacks
):
    token = f"Bearer {get_token(ada)}"
    assert account_reads(client, token)[0]["data"]["me"]["username"] == "ada"
    ada.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        admin.site._registry[User].save_model(request=None, obj=ada, form=None, change=True)
    answer, _ = account_reads(client, token)
    assert answer["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


def test_an_account_deleted_is_refused_at_once_though_its_copy_is_warm(client, ada, django_capture_on_commit_callbacks):
    token = f"Bearer {get_token(ada)}"
    assert account_reads(client, token)[0]["data"]["me"]["username"] == "ada"
    with django_capture_on_commit_callbacks(execute=True):
        services.user_delete(user=User.objects.get(pk=ada.pk))
    person_create("ada")  # a new account of the same name gets nothing of the old token
    answer, _ = account_reads(client, token)
    assert answer["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


def test_an_account_changed_behind_the_services_back_is_refused_within_the_copy_bound(client, ada, monkeypatch):
    token = f"Bearer {get_token(ada)}"
    assert account_reads(client, token)[0]["data"]["me"]["username"] == "ada"
    User.objects.filter(pk=ada.pk).update(is_active=False)  # SQL that bumps no version
    later = time.monotonic() + versions.VIEWER_COPY_SECONDS
    monkeypatch.setattr(versions, "time", SimpleNamespace(monotonic=lambda: later, time=time.time))
    answer, reads = account_reads(client, token)
    assert (answer["errors"][0]["extensions"]["code"], reads) == ("INVALID_TOKEN", 1)


def test_one_accounts_copy_never_answers_for_another(client, ada):
    bob = person_create("bob", password=PASSWORD)
    for person, name in ((ada, "ada"), (bob, "bob"), (ada, "ada"), (bob, "bob")):
        answer, _ = account_reads(client, f"Bearer {get_token(person)}", "{ me { username email } }")
        assert answer["data"]["me"]["username"] == name
