"""Account, session and library services, called directly."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from freezegun import freeze_time
from graphql_jwt.refresh_token.models import RefreshToken

from catalog.models import Genre
from tests.users.factories import PASSWORD, assert_statistics_exact, movie_create, people, person_create
from users import services
from users.models import Favorite, HiddenMovie, Rating, RefreshTokenFamily, User, WatchEvent, WatchlistItem

pytestmark = pytest.mark.django_db


def error_codes(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return {field: [error.code for error in errors] for field, errors in exc.value.error_dict.items()}


@pytest.fixture
def genres():
    return [Genre.objects.get_or_create(name=name, defaults={"slug": name.lower()})[0] for name in ("Comedy", "Drama")]


# --- Accounts ----------------------------------------------------------------------------------------------------


def test_register_hashes_with_argon2_and_sets_genres_by_name_or_slug(genres):
    user = services.user_register(
        username="  Ada ", email="Ada@Example.COM", password=PASSWORD, favorite_genres=["COMEDY", "drama"]
    )
    user.refresh_from_db()
    assert user.username == "Ada"
    assert user.email == "Ada@example.com"  # the domain is case-insensitive, the local part is not
    assert user.password.startswith("argon2")
    assert user.check_password(PASSWORD)
    assert set(user.favorite_genres.all()) == set(genres)


@pytest.mark.parametrize(
    ("username", "email", "field"),
    [("ADA", "other@example.com", "username"), ("other", "ADA@example.com", "email")],
)
def test_register_refuses_names_and_emails_taken_in_another_case(username, email, field):
    person_create("ada", email="ada@example.com")
    with pytest.raises(ValidationError) as exc:
        services.user_register(username=username, email=email, password=PASSWORD)
    assert error_codes(exc) == {field: ["unique"]}
    assert people().count() == 1


def test_register_lists_every_problem_at_once():
    with pytest.raises(ValidationError) as exc:
        services.user_register(username="no spaces!", email="not-an-email", password="123", favorite_genres=["Nope"])
    codes = error_codes(exc)
    assert codes["username"] == ["invalid"]
    assert codes["email"] == ["invalid"]
    assert set(codes["password"]) == {"password_too_weak"} and len(codes["password"]) >= 2
    assert codes["favorite_genres"] == ["invalid"]
    assert not people().exists()


@pytest.mark.parametrize(
    "password",
    ["short1!", "password123", "98765432109876", "grace.hopper.1906"],
    ids=["too-short", "common", "all-digits", "like-the-username"],
)
def test_register_refuses_weak_passwords(password):
    with pytest.raises(ValidationError) as exc:
        services.user_register(username="grace.hopper", email="grace@example.com", password=password)
    assert set(error_codes(exc)) == {"password"}
    assert set(error_codes(exc)["password"]) == {"password_too_weak"}


def test_register_refuses_movielens_usernames_and_empty_fields():
    with pytest.raises(ValidationError) as exc:
        services.user_register(username="MovieLens-42", email=" ", password=PASSWORD)
    assert error_codes(exc) == {"username": ["invalid"], "email": ["required"]}


def test_a_lost_race_for_a_username_is_reported_by_the_database_constraint(monkeypatch):
    """Both requests passed the check; the case-insensitive constraint refuses the second insert."""
    person_create("ada")
    monkeypatch.setattr(services, "_clean_username", lambda username: username)
    with pytest.raises(ValidationError) as exc:
        services.user_register(username="ADA", email="second@example.com", password=PASSWORD)
    assert error_codes(exc) == {"username": ["unique"]}
    assert User.objects.filter(username__iexact="ada").count() == 1


def test_profile_update_changes_only_what_is_given(genres):
    user = person_create("ada", favorite_genres=["Comedy"])
    services.user_profile_update(user=user, display_name="  Ada Lovelace ", bio="Analyst.")
    user.refresh_from_db()
    assert (user.display_name, user.bio, user.email) == ("Ada Lovelace", "Analyst.", "ada@example.com")
    assert list(user.favorite_genres.values_list("name", flat=True)) == ["Comedy"]

    services.user_profile_update(user=user, email="ADA@example.com", favorite_genres=[])
    user.refresh_from_db()
    assert user.email == "ADA@example.com"  # one's own address in another case is not "taken"
    assert user.display_name == "Ada Lovelace"
    assert not user.favorite_genres.exists()


def test_profile_update_saves_a_recommendation_strategy_and_refuses_unknown_ones():
    user = person_create("ada")
    with pytest.raises(ValidationError) as exc:
        services.user_profile_update(user=user, display_name="Ada", recommendation_strategy="random")
    assert error_codes(exc) == {"recommendation_strategy": ["invalid"]}
    user.refresh_from_db()
    assert (user.display_name, user.recommendation_strategy) == ("", "balanced")  # nothing half-written

    services.user_profile_update(user=user, recommendation_strategy="discovery")
    user.refresh_from_db()
    assert user.recommendation_strategy == "discovery"


def test_profile_update_limits_and_uniqueness():
    person_create("grace", email="grace@example.com")
    user = person_create("ada")
    with pytest.raises(ValidationError) as exc:
        services.user_profile_update(
            user=user, display_name="x" * 101, bio="y" * 2001, email="GRACE@example.com", favorite_genres=["Nope"]
        )
    assert error_codes(exc) == {
        "display_name": ["invalid"],
        "bio": ["invalid"],
        "email": ["unique"],
        "favorite_genres": ["invalid"],
    }
    services.user_profile_update(user=user, display_name="x" * 100, bio="y" * 2000)
    user.refresh_from_db()
    assert (len(user.display_name), len(user.bio), user.email) == (100, 2000, "ada@example.com")


def test_password_change_checks_the_old_one_and_revokes_every_refresh_token():
    user = person_create("ada")
    tokens = [services.refresh_token_create(user=user) for _ in range(2)]
    with pytest.raises(ValidationError) as exc:
        services.user_password_change(user=user, old_password="wrong", new_password="a new long passphrase")
    assert error_codes(exc) == {"old_password": ["wrong_password"]}
    with pytest.raises(ValidationError) as exc:
        services.user_password_change(user=user, old_password=PASSWORD, new_password="ada")
    assert set(error_codes(exc)) == {"new_password"}
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=False).exists()

    services.user_password_change(user=user, old_password=PASSWORD, new_password="a new long passphrase")
    user.refresh_from_db()
    assert user.check_password("a new long passphrase")
    assert RefreshToken.objects.filter(pk__in=[token.pk for token in tokens], revoked__isnull=True).count() == 0


def test_account_delete_needs_the_password_then_removes_everything_and_fixes_statistics():
    ada, grace = person_create("ada"), person_create("grace")
    first, second = movie_create(), movie_create()
    services.rating_upsert(user=ada, movie=first, score=5)
    services.rating_upsert(user=ada, movie=second, score=1)
    services.rating_upsert(user=grace, movie=first, score=3)
    services.favorite_add(user=ada, movie=first)
    services.watchlist_add(user=ada, movie=second)
    services.movie_hide(user=ada, movie=second)
    services.watch_event_create(user=ada, movie=first)
    services.refresh_token_create(user=ada)

    with pytest.raises(ValidationError) as exc:
        services.user_account_delete(user=ada, password="wrong")
    assert error_codes(exc) == {"password": ["wrong_password"]}
    assert User.objects.filter(pk=ada.pk).exists()

    services.user_account_delete(user=ada, password=PASSWORD)
    assert not User.objects.filter(pk=ada.pk).exists()
    for model in (Rating, Favorite, WatchlistItem, HiddenMovie, WatchEvent, RefreshToken):
        assert not model.objects.filter(user_id=ada.pk).exists(), model
    for movie in (first, second):
        assert_statistics_exact(movie)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.rating_count, first.rating_mean) == (1, 3.0)
    assert (second.rating_count, second.rating_mean) == (0, None)


def test_login_is_case_insensitive_and_refuses_wrong_or_unusable_passwords():
    user = person_create("Ada")
    assert services.user_login(username="ada", password=PASSWORD, client_address="10.0.0.1") == user
    imported = User(username="movielens-900000001", movielens_id=900_000_001)
    imported.set_unusable_password()
    imported.save()
    for username, password in (("ada", "wrong"), ("nobody", PASSWORD), (imported.username, "")):
        with pytest.raises(ValidationError) as exc:
            services.user_login(username=username, password=password, client_address="10.0.0.1")
        assert exc.value.code == "invalid_credentials"


# --- Refresh tokens ----------------------------------------------------------------------------------------------


def test_refresh_token_rotation_makes_each_token_single_use():
    user = person_create("ada")
    first = services.refresh_token_create(user=user)
    second = services.refresh_token_rotate(token=first.token)
    assert second.user == user and second.token != first.token
    first.refresh_from_db()
    assert first.revoked is not None
    third = services.refresh_token_rotate(token=second.token)
    services.refresh_token_revoke(token=third.token)
    with pytest.raises(ValidationError) as exc:
        services.refresh_token_rotate(token=third.token)
    assert exc.value.code == "invalid_token"


def test_reusing_a_rotated_refresh_token_revokes_its_whole_family_and_only_it():
    """RFC 9700, section 4.14.2: the thief's replay and the owner's newer token both stop working."""
    user = person_create("ada")
    stolen = services.refresh_token_create(user=user)
    newest = services.refresh_token_rotate(token=services.refresh_token_rotate(token=stolen.token).token)
    other_session = services.refresh_token_create(user=user)

    with pytest.raises(ValidationError) as exc:
        services.refresh_token_rotate(token=stolen.token)
    assert exc.value.code == "invalid_token"
    for use in (services.refresh_token_rotate, services.refresh_token_revoke):
        with pytest.raises(ValidationError) as exc:
            use(token=newest.token)
        assert exc.value.code == "invalid_token"
    family = RefreshTokenFamily.objects.get(members__token=stolen)
    assert family.revoked is not None
    assert not RefreshToken.objects.filter(family_membership__family=family, revoked__isnull=True).exists()
    assert services.refresh_token_rotate(token=other_session.token).user == user  # another login is not touched


def test_revoking_a_rotated_refresh_token_also_revokes_its_family():
    user = person_create("ada")
    old = services.refresh_token_create(user=user)
    new = services.refresh_token_rotate(token=old.token)
    with pytest.raises(ValidationError) as exc:
        services.refresh_token_revoke(token=old.token)
    assert exc.value.code == "invalid_token"
    new.refresh_from_db()
    assert new.revoked is not None


def test_password_change_revokes_the_families_too():
    user = person_create("ada")
    session = services.refresh_token_create(user=user)
    services.user_password_change(user=user, old_password=PASSWORD, new_password="a new long passphrase")
    assert RefreshTokenFamily.objects.get(members__token=session).revoked is not None


def test_refresh_tokens_expire_and_die_with_their_account():
    user = person_create("ada")
    with freeze_time(timezone.now() - timedelta(days=15)):
        old = services.refresh_token_create(user=user)
    with pytest.raises(ValidationError) as exc:
        services.refresh_token_rotate(token=old.token)
    assert exc.value.code == "token_expired"

    fresh = services.refresh_token_create(user=user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(ValidationError) as exc:
        services.refresh_token_rotate(token=fresh.token)
    assert exc.value.code == "invalid_token"


# --- The library -------------------------------------------------------------------------------------------------


def test_rating_upsert_keeps_one_rating_and_exact_statistics():
    ada, grace = person_create("ada"), person_create("grace")
    movie = movie_create()
    services.rating_upsert(user=grace, movie=movie, score=Decimal("2.0"))
    rating = services.rating_upsert(user=ada, movie=movie, score=4.5)
    assert rating.score == Decimal("4.5") and rating.created_at == rating.updated_at
    assert movie.rating_count == 2  # the instance passed in carries the new statistics
    assert_statistics_exact(movie)

    changed = services.rating_upsert(user=ada, movie=movie, score="3")
    assert changed.pk == rating.pk and changed.score == Decimal("3.0")
    assert changed.updated_at > rating.created_at
    assert Rating.objects.filter(user=ada, movie=movie).count() == 1
    assert movie.rating_count == 2 and movie.rating_mean == 2.5
    assert_statistics_exact(movie)

    same = services.rating_upsert(user=ada, movie=movie, score=3.0)
    assert same.updated_at == changed.updated_at  # nothing to change


@pytest.mark.parametrize(
    ("score", "code"),
    [
        *((score, "out_of_range") for score in (6, 0, -1, float("nan"), float("inf"), "4.5.1", 5.5, 0.4)),
        *((score, "step_mismatch") for score in (4.25, 3.3, "1.75")),
    ],
)
def test_rating_scores_outside_the_range_or_between_half_steps_are_refused(score, code):
    user, movie = person_create("ada"), movie_create()
    with pytest.raises(ValidationError) as exc:
        services.rating_upsert(user=user, movie=movie, score=score)
    assert error_codes(exc) == {"score": [code]}
    assert not Rating.objects.filter(movie=movie).exists()


@pytest.mark.parametrize("score", [0.5, 1, 2.5, "3.5", Decimal("5.0")])
def test_every_half_step_is_a_valid_score(score):
    rating = services.rating_upsert(user=person_create("ada"), movie=movie_create(), score=score)
    assert rating.score == Decimal(str(score))


def test_rating_delete_updates_statistics_and_is_harmless_twice():
    ada, grace = person_create("ada"), person_create("grace")
    movie = movie_create()
    services.rating_upsert(user=ada, movie=movie, score=5)
    services.rating_upsert(user=grace, movie=movie, score=2)
    assert services.rating_delete(user=ada, movie=movie) is not None
    assert (movie.rating_count, movie.rating_mean) == (1, 2.0)
    assert_statistics_exact(movie)
    assert services.rating_delete(user=ada, movie=movie) is None
    assert Rating.objects.filter(movie=movie).count() == 1


@pytest.mark.parametrize(
    ("add", "remove", "model"),
    [
        (services.favorite_add, services.favorite_remove, Favorite),
        (services.watchlist_add, services.watchlist_remove, WatchlistItem),
    ],
)
def test_lists_are_idempotent(add, remove, model):
    user, movie = person_create("ada"), movie_create()
    first = add(user=user, movie=movie)
    again = add(user=user, movie=movie)
    assert again.pk == first.pk and again.created_at == first.created_at
    assert model.objects.filter(user=user).count() == 1
    assert remove(user=user, movie=movie) is True
    assert remove(user=user, movie=movie) is False
    assert not model.objects.filter(user=user).exists()


def test_hiding_twice_hides_once():
    user, movie = person_create("ada"), movie_create()
    services.movie_hide(user=user, movie=movie)
    services.movie_hide(user=user, movie=movie)
    assert HiddenMovie.objects.filter(user=user, movie=movie).count() == 1


def test_watch_events_add_up_and_cannot_be_in_the_future():
    user, movie = person_create("ada"), movie_create()
    now = timezone.now()
    first = services.watch_event_create(user=user, movie=movie)
    assert abs(first.watched_at - now) < timedelta(seconds=5)
    naive = services.watch_event_create(user=user, movie=movie, watched_at=datetime(2020, 5, 17, 20, 30))
    assert naive.watched_at == datetime(2020, 5, 17, 20, 30, tzinfo=UTC)
    # A device clock a minute ahead is not "the future".
    services.watch_event_create(user=user, movie=movie, watched_at=now + timedelta(minutes=1))
    assert WatchEvent.objects.filter(user=user, movie=movie).count() == 3

    with pytest.raises(ValidationError) as exc:
        services.watch_event_create(user=user, movie=movie, watched_at=now + timedelta(hours=1))
    assert error_codes(exc) == {"watched_at": ["out_of_range"]}


PLUS_14 = timezone.get_fixed_timezone(timedelta(hours=14))  # the earliest offset there is (Line Islands)


@pytest.mark.parametrize(
    "watched_at",
    [
        datetime(1, 1, 1, tzinfo=PLUS_14),  # stored as 1 BC once, and unreadable from then on
        datetime(1869, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1870, 1, 1, 13, 59, tzinfo=PLUS_14),
        datetime(1, 1, 1),
    ],
)
def test_watch_events_before_1870_are_out_of_range_and_not_written(watched_at):
    user, movie = person_create("ada"), movie_create()
    with pytest.raises(ValidationError) as exc:
        services.watch_event_create(user=user, movie=movie, watched_at=watched_at)
    assert error_codes(exc) == {"watched_at": ["out_of_range"]}
    assert not WatchEvent.objects.filter(user=user).exists()
    earliest = services.watch_event_create(user=user, movie=movie, watched_at=datetime(1870, 1, 1, tzinfo=UTC))
    earliest.refresh_from_db()
    assert earliest.watched_at == datetime(1870, 1, 1, tzinfo=UTC)


# --- Control characters (issue 12, finding 7) -------------------------------------------------------------------


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\x9b"])
def test_account_text_refuses_control_characters(control):
    user = person_create("ada")
    with pytest.raises(ValidationError) as exc:
        services.user_profile_update(
            user=user, display_name=f"A{control}", bio=f"B{control}", email=f"a{control}@x.org"
        )
    assert error_codes(exc) == {"display_name": ["invalid"], "bio": ["invalid"], "email": ["invalid"]}
    with pytest.raises(ValidationError) as exc:
        services.user_register(username=f"grace{control}", email="grace@example.com", password=f"long pass{control}")
    assert error_codes(exc) == {"username": ["invalid"], "password": ["invalid"]}
    with pytest.raises(ValidationError) as exc:
        services.user_login(username=f"ada{control}", password=PASSWORD, client_address="10.0.0.1")
    assert error_codes(exc) == {"username": ["invalid"]}


def test_only_a_bio_may_hold_tabs_and_line_breaks():
    user = person_create("ada")
    services.user_profile_update(user=user, bio="One\r\n\ttwo")
    with pytest.raises(ValidationError) as exc:
        services.user_profile_update(user=user, display_name="One\ntwo", bio="NUL\x00never")
    assert error_codes(exc) == {"display_name": ["invalid"], "bio": ["invalid"]}
