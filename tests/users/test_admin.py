"""The admin shows accounts and libraries, and deletes through the services so movie statistics stay exact."""

import pytest
from django.urls import reverse

from tests.users.factories import assert_statistics_exact, movie_create, person_create
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
