"""The admin shows accounts and libraries, and deletes through the services so movie statistics stay exact."""

import pytest
from django.urls import reverse

from tests.users.factories import PASSWORD, assert_statistics_exact, movie_create, person_create
from users import services
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent, WatchlistItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "an admin passphrase"))
    return client


@pytest.mark.parametrize("model", [User, Rating, Favorite, WatchlistItem, HiddenMovie, WatchEvent])
def test_every_library_model_has_a_working_changelist(staff_client, model):
    ada, movie = person_create("ada"), movie_create()
    services.rating_upsert(user=ada, movie=movie, score=4)
    services.watch_event_create(user=ada, movie=movie)
    response = staff_client.get(reverse(f"admin:users_{model._meta.model_name}_changelist"))
    assert response.status_code == 200


def test_ratings_are_read_only_in_the_admin(staff_client):
    rating = services.rating_upsert(user=person_create("ada"), movie=movie_create(), score=4)
    assert staff_client.get(reverse("admin:users_rating_add")).status_code == 403
    change = staff_client.post(reverse("admin:users_rating_change", args=[rating.pk]), {"score": "1.0"})
    assert change.status_code in (302, 403)
    rating.refresh_from_db()
    assert rating.score == 4


def test_deleting_accounts_or_ratings_in_the_admin_keeps_statistics_exact(staff_client):
    ada, grace = person_create("ada"), person_create("grace")
    movie = movie_create()
    services.rating_upsert(user=ada, movie=movie, score=5)
    grace_rating = services.rating_upsert(user=grace, movie=movie, score=2)

    staff_client.post(reverse("admin:users_user_delete", args=[ada.pk]), {"post": "yes"})
    assert not User.objects.filter(pk=ada.pk).exists()
    assert_statistics_exact(movie)
    assert movie.rating_count == 1

    staff_client.post(
        reverse("admin:users_rating_changelist"),
        {"action": "delete_selected", "_selected_action": [grace_rating.pk], "post": "yes"},
    )
    assert not Rating.objects.filter(movie=movie).exists()
    assert_statistics_exact(movie)
    assert movie.rating_count == 0


# --- Logging in to the admin: the API's login service and throttle (issue 12, finding 4) -----------------------

ADMIN_PASSWORD = "an admin passphrase"
TOKEN_AUTH = "mutation($u: String!, $p: String!) { tokenAuth(username: $u, password: $p) { token } }"


@pytest.fixture
def staff():
    return User.objects.create_superuser("admin", "admin@example.com", ADMIN_PASSWORD)


def admin_login(client, username: str, password: str, address: str = "198.51.100.7"):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def throttled(response) -> bool:
    """The login page again, saying why."""
    return response.status_code == 200 and "Too many failed login attempts" in response.content.decode()


def signed_in(client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def test_the_admin_login_works_under_any_spelling_of_the_name(client, staff):
    assert admin_login(client, "ＡＤＭＩＮ", ADMIN_PASSWORD).status_code == 302
    assert signed_in(client)


def test_fifteen_wrong_passwords_lock_the_admin_login_even_for_the_right_one(client, staff):
    for _ in range(15):
        response = admin_login(client, "admin", "wrong")
        assert response.status_code == 200 and not signed_in(client)
    # From another address too: the account's budget is spent.
    assert throttled(admin_login(client, "admin", ADMIN_PASSWORD, address="203.0.113.9"))
    assert not signed_in(client)


def test_admin_and_api_logins_spend_the_same_account_budget(client, gql, staff):
    for _ in range(5):
        admin_login(client, "admin", "wrong", address="192.0.2.1")
    for _ in range(5):
        gql.execute(TOKEN_AUTH, {"u": "Admin", "p": "wrong"}, REMOTE_ADDR="192.0.2.2")
    body = gql.execute(TOKEN_AUTH, {"u": "admin", "p": ADMIN_PASSWORD}, REMOTE_ADDR="192.0.2.3")
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert throttled(admin_login(client, "admin", ADMIN_PASSWORD, "192.0.2.4"))
    assert not signed_in(client)


def test_api_failures_from_one_address_lock_the_admin_login_from_there(client, gql, staff):
    for number in range(10):
        gql.execute(TOKEN_AUTH, {"u": f"guess{number}", "p": "wrong"}, REMOTE_ADDR="192.0.2.1")
    assert throttled(admin_login(client, "admin", ADMIN_PASSWORD, "192.0.2.1"))
    assert admin_login(client, "admin", ADMIN_PASSWORD, "192.0.2.2").status_code == 302


def test_people_without_staff_status_cannot_use_the_admin(client):
    person_create("ada")
    response = admin_login(client, "ada", PASSWORD)
    assert response.status_code == 200 and not signed_in(client)
    assert "staff account" in response.content.decode()
