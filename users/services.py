"""Write operations on accounts, login sessions (refresh tokens) and the user's library.

Invalid input raises ``ValidationError({field: ValidationError(message, code=...)})``, listing every problem at
once; the API turns it into payload ``errors``. A rating write adds its change to the movie's statistics in one
statement (users.statistics), whatever the movie's number of ratings; deleting an account recomputes the
statistics of the movies it rated, with those rows locked in id order (so concurrent writers never deadlock).
"""

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from graphql_jwt.refresh_token.models import AbstractRefreshToken
from graphql_jwt.refresh_token.utils import get_refresh_token_model

from catalog.filters import genre_ids
from catalog.models import Movie
from nexus.durable import write_despite_rollback
from nexus.text import plain_text
from nexus.versions import rows_changed
from users import throttling
from users.events import library_changed
from users.models import (
    RATING_SCORES,
    CustomList,
    Favorite,
    HiddenMovie,
    Rating,
    RefreshTokenFamily,
    RefreshTokenFamilyMember,
    User,
    WatchEvent,
    WatchlistItem,
    username_key,
)
from users.statistics import movie_stats_add, movie_stats_refresh

# Imported MovieLens users are "movielens-<id>": a person taking such a name would collide with a later import.
RESERVED_USERNAME_PREFIX = "movielens-"
DISPLAY_NAME_MAX_LENGTH = 100
BIO_MAX_LENGTH = 2000
# A device's clock may run a little ahead of ours; a viewing it stamps "now" is not in the future.
WATCHED_AT_CLOCK_SKEW = timedelta(minutes=5)
# Films exist since the 1870s: an earlier viewing is a typo or made up (and year 1 at +14:00 would be stored as
# 1 BC, which cannot even be read back).
WATCHED_AT_EARLIEST = datetime(1870, 1, 1, tzinfo=UTC)


# --- Accounts ----------------------------------------------------------------------------------------------------


@transaction.atomic
def user_register(*, username: str, email: str, password: str, favorite_genres: list[str] | None = None) -> User:
    """Create an account. Username and email are unique regardless of case; the password must pass Django's
    validators (judged against this username and email) and is stored with Argon2."""
    candidate = User(username=username.strip(), email=email.strip())
    values = _validated(
        username=partial(_clean_username, username),
        email=partial(_clean_email, email),
        password=partial(_check_password, password, user=candidate, field="password"),
        favorite_genres=partial(genre_ids, favorite_genres or [], field="favorite_genres"),
    )
    user = User(username=values["username"], email=values["email"])
    user.set_password(password)
    _save_unique(user)
    user.favorite_genres.set(values["favorite_genres"])
    rows_changed(User, [user])
    return user


@transaction.atomic
def user_profile_update(
    *,
    user: User,
    display_name: str | None = None,
    bio: str | None = None,
    email: str | None = None,
    favorite_genres: list[str] | None = None,
    recommendation_strategy: str | None = None,
) -> User:
    """Change the given parts of the profile; None leaves a part as it is (an empty genre list clears them)."""
    checks: dict[str, Callable[[], Any]] = {}
    if recommendation_strategy is not None:
        checks["recommendation_strategy"] = partial(User.RecommendationStrategy.cleaned, recommendation_strategy)
    if display_name is not None:
        checks["display_name"] = partial(_clean_text, display_name, field="display_name", limit=DISPLAY_NAME_MAX_LENGTH)
    if bio is not None:
        checks["bio"] = partial(_clean_text, bio, field="bio", limit=BIO_MAX_LENGTH, multiline=True)
    if email is not None:
        checks["email"] = partial(_clean_email, email, account=user)
    if favorite_genres is not None:
        checks["favorite_genres"] = partial(genre_ids, favorite_genres, field="favorite_genres")
    values = _validated(**checks)

    genres = values.pop("favorite_genres", None)
    for name, value in values.items():
        setattr(user, name, value)
    if values:
        _save_unique(user, update_fields=list(values))
    if genres is not None:
        user.favorite_genres.set(genres)
    rows_changed(User, [user])
    return user


@transaction.atomic
def user_password_change(*, user: User, old_password: str, new_password: str) -> None:
    """Set a new password and log out every session: all of the user's refresh tokens are revoked."""
    _check_current_password(user, old_password, field="old_password")
    _validated(new_password=partial(_check_password, new_password, user=user, field="new_password"))
    user.set_password(new_password)
    user.save(update_fields=["password"])
    rows_changed(User, [user])
    user_refresh_tokens_revoke(user=user)


@transaction.atomic
def user_account_delete(*, user: User, password: str) -> None:
    """The user's own request to close their account, confirmed with their password."""
    _check_current_password(user, password, field="password")
    user_delete(user=user)


@transaction.atomic
def user_delete(*, user: User) -> None:
    """Delete the account with its library, tags and refresh tokens, and correct the statistics of every movie it
    had rated."""
    # Locked before reading the ratings: a rating of this user committed meanwhile would otherwise be deleted
    # without its movie's statistics being corrected.
    User.objects.select_for_update().get(pk=user.pk)
    rated_movie_ids = _lock_movies(Rating.objects.filter(user=user).values("movie_id"))
    rows_changed(User, [user])  # before the deletion clears its primary key
    rows_changed(CustomList, CustomList.objects.filter(user=user).only("pk", "slug", "user_id"))  # shown to others
    user.delete()
    movie_stats_refresh(movie_ids=rated_movie_ids)


def user_login(*, username: str, password: str, client_address: str | None) -> User:
    """Check a username (any spelling with its key, users.models.username_key) and password: the one login of
    the API and the admin. Refused without checking the password once the account reached (for unknown names,
    the name) or the client address has failed too often (users.throttling)."""
    _validated(
        username=partial(plain_text, username, field="username"),
        password=partial(plain_text, password, field="password"),
    )
    key = username_key(username)
    stored = User.objects.filter(username_key=key).values_list("pk", "username").first()
    account = throttling.login_account(user_id=stored[0] if stored else None, username_key=key)
    if throttling.login_is_throttled(account=account, client_address=client_address):
        minutes = math.ceil(settings.NEXUS_LOGIN_FAILURE_WINDOW.total_seconds() / 60)
        raise ValidationError(
            f"Too many failed login attempts. Try again in up to {minutes} minutes.", code="rate_limited"
        )
    # For unknown names authenticate() still hashes the password, so response times do not tell them apart.
    user = authenticate(username=stored[1] if stored else username, password=password)
    if user is None:
        throttling.login_failure_record(account=account, client_address=client_address)
        raise ValidationError("Invalid username or password.", code="invalid_credentials")
    throttling.login_success_record(account=account)
    return user


def _validated(**checks: Callable[[], Any]) -> dict[str, Any]:
    """Run every check and return their results by name; raise one ValidationError listing all failures."""
    results: dict[str, Any] = {}
    errors: dict[str, list[ValidationError]] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except ValidationError as exc:
            exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
    return results


def _field_error(field: str, message: str, code: str, **params) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code, params=params or None)})


def _clean_username(username: str) -> str:
    username = User.normalize_username(plain_text(username, field="username").strip())
    if username_key(username).startswith(RESERVED_USERNAME_PREFIX):
        raise _field_error("username", f'Usernames starting with "{RESERVED_USERNAME_PREFIX}" are reserved.', "invalid")
    _check_account_field("username", username, missing="Choose a username.")
    return username


def _clean_email(email: str, *, account: User | None = None) -> str:
    email = User.objects.normalize_email(plain_text(email, field="email").strip())
    _check_account_field("email", email, account=account, missing="Enter an email address.")
    return email


def _check_account_field(field: str, value: str, *, missing: str, account: User | None = None) -> None:
    """Given, valid for the model field (length, characters, format), and no other account's in any case."""
    if not value:
        raise _field_error(field, missing, "required")
    try:
        User._meta.get_field(field).run_validators(value)
    except ValidationError as exc:
        raise ValidationError({field: exc.error_list}) from None
    others = User.objects.filter(_same_as(field, value))
    if account is not None:
        others = others.exclude(pk=account.pk)
    if others.exists():
        raise _taken(field)


def _same_as(field: str, value: str) -> Q:
    """Accounts whose ``field`` counts as ``value``. A username: the same key, as logins match names; also any
    that the database's case mapping takes for it, lookalikes such as "seclımıt" beside "seclimit"."""
    if field == "username":
        return Q(username_key=username_key(value)) | Q(username__iexact=value)
    return Q(**{f"{field}__iexact": value})


def _clean_text(value: str, *, field: str, limit: int, multiline: bool = False) -> str:
    value = plain_text(value, field=field, multiline=multiline).strip()
    if len(value) > limit:
        raise _field_error(
            field, "At most %(limit)d characters (got %(length)d).", "invalid", limit=limit, length=len(value)
        )
    return value


def _check_password(password: str, *, user: User, field: str) -> None:
    plain_text(password, field=field)
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        weaknesses = [ValidationError(e.message, code="password_too_weak", params=e.params) for e in exc.error_list]
        raise ValidationError({field: weaknesses}) from None


def _check_current_password(user: User, password: str, *, field: str) -> None:
    if not user.check_password(plain_text(password, field=field)):
        raise _field_error(field, "The password is not correct.", "wrong_password")


def _taken(field: str) -> ValidationError:
    return _field_error(field, f"An account with this {field} already exists.", "unique")


def _save_unique(user: User, **save_options) -> None:
    """Save, reporting a lost race for a username or email (checked above, but taken by a concurrent request
    since then) as a validation error: the database's case-insensitive constraints have the last word."""
    try:
        with transaction.atomic():
            user.save(**save_options)
    except IntegrityError as exc:
        field = next((name for name in ("username", "email") if name in str(exc)), None)
        if field is None:
            raise
        raise _taken(field) from exc


# --- Login sessions: refresh tokens, stored server side (graphql_jwt.refresh_token) ------------------------------
# Each login starts a family (users.models.RefreshTokenFamily); each exchange continues it with a new token and
# revokes the old one. Whatever touches a family's tokens holds the family's row lock, taken before any token's: the
# uses of one session happen one after another, see each other's writes, and never deadlock.

_INVALID_REFRESH_MESSAGE = "This refresh token is not valid: it was revoked, already exchanged, or never issued."


@transaction.atomic
def refresh_token_create(*, user: User) -> AbstractRefreshToken:
    """A new login session: a refresh token that starts a family of its own."""
    return _refresh_token_issue(RefreshTokenFamily.objects.create(user=user), user=user)


def refresh_token_rotate(*, token: str) -> AbstractRefreshToken:
    """Exchange a refresh token for the next one of its family; the old one is revoked, so each can be used once.
    Using it again revokes the whole family (``_refresh_token_in_use``)."""
    with _refresh_token_in_use(token) as (current, family):
        current.revoke()
        return _refresh_token_issue(family, user=current.user)


def refresh_token_revoke(*, token: str) -> AbstractRefreshToken:
    """Log out: revoke the token and with it its session, the whole family."""
    with _refresh_token_in_use(token) as (current, family):
        current.revoke()
        refresh_token_family_revoke(family_id=family.pk)
        return current


@transaction.atomic
def refresh_token_family_revoke(*, family_id: int) -> None:
    """End a login session: the family and every token of it still active are revoked. Idempotent."""
    now = timezone.now()
    RefreshTokenFamily.objects.filter(pk=family_id, revoked__isnull=True).update(revoked=now)
    tokens = get_refresh_token_model().objects.filter(family_membership__family_id=family_id, revoked__isnull=True)
    tokens.update(revoked=now)


def user_refresh_tokens_revoke(*, user: User) -> int:
    """Log the user out everywhere: revoke every session (family) and every refresh token they still hold."""
    now = timezone.now()
    RefreshTokenFamily.objects.filter(user=user, revoked__isnull=True).update(revoked=now)  # families first
    return get_refresh_token_model().objects.filter(user=user, revoked__isnull=True).update(revoked=now)


def _refresh_token_issue(family: RefreshTokenFamily, *, user: User) -> AbstractRefreshToken:
    refresh_token = get_refresh_token_model().objects.create(user=user)
    RefreshTokenFamilyMember.objects.create(token=refresh_token, family=family)
    return refresh_token


@contextmanager
def _refresh_token_in_use(token: str) -> Iterator[tuple[AbstractRefreshToken, RefreshTokenFamily]]:
    """The refresh token and its family, locked for the ``with`` block, when the token may be used; otherwise
    its refusal is raised.

    A token used after it was revoked was exchanged before — by a thief, or by its owner before a thief — and no
    one can tell which: its whole family is revoked (RFC 9700, section 4.14.2), so that whoever holds the newest
    token must log in again too. That revocation stays even though the refusal rolls back the request's
    transaction (nexus.durable).
    """
    plain_text(token, field="refresh_token")
    with transaction.atomic():
        current, family = _refresh_token_locked(token)
        if current is None or family is None or family.revoked is not None or not current.user.is_active:
            refusal = ValidationError(_INVALID_REFRESH_MESSAGE, code="invalid_token")
        elif current.revoked is not None:
            write_despite_rollback(partial(refresh_token_family_revoke, family_id=family.pk))
            refusal = ValidationError(_INVALID_REFRESH_MESSAGE, code="invalid_token")
        elif current.is_expired():
            refusal = ValidationError("This refresh token has expired: log in again.", code="token_expired")
        else:
            yield current, family
            return
    raise refusal


def _refresh_token_locked(token: str) -> tuple[AbstractRefreshToken | None, RefreshTokenFamily | None]:
    """The stored token, revoked or not, and its family; the family's row is locked first, then the token's, so a
    concurrent use of the same session waits, then finds what this one did."""
    member = (
        RefreshTokenFamilyMember.objects.filter(token__token=token)
        .order_by("-token_id")
        .values_list("token_id", "family_id")
        .first()
    )
    if member is None:
        return None, None
    token_id, family_id = member
    family = RefreshTokenFamily.objects.select_for_update().filter(pk=family_id).first()
    current = (
        get_refresh_token_model()
        .objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=token_id)
        .first()
    )
    return current, family


# --- The library -------------------------------------------------------------------------------------------------


def rating_upsert(*, user: User, movie: Movie, score: Decimal | float | str) -> Rating:
    """Create or change the user's one rating of the movie (0.5 to 5.0 in half steps) and add the change to the
    movie's statistics; ``movie`` is given the new ones."""
    return _rating_write(user=user, movie=movie, score=_clean_score(score))  # refused before any statement


@transaction.atomic(savepoint=False)  # inside a caller's transaction (a mutation's), a failure rolls back the caller's
def _rating_write(*, user: User, movie: Movie, score: Decimal) -> Rating:
    # First: its row lock serialises the user's library writes until the commit (no rating slips in between).
    library_changed(user_id=user.pk)
    now = timezone.now()
    rating = Rating.objects.filter(user=user, movie=movie).first()
    if rating is None:
        rating = Rating.objects.create(user=user, movie=movie, score=score, created_at=now, updated_at=now)
        _statistics_add(movie, count=1, total=score)
        rows_changed(Rating, [rating])
    elif rating.score != score:
        previous, rating.score, rating.updated_at = rating.score, score, now
        rating.save(update_fields=["score", "updated_at"])
        _statistics_add(movie, count=0, total=score - previous)
        rows_changed(Rating, [rating])
    rating.movie = movie
    return rating


@transaction.atomic(savepoint=False)  # as _rating_write
def rating_delete(*, user: User, movie: Movie) -> int | None:
    """Remove the user's rating of the movie, if any; ``movie`` is given its new statistics. Returns the removed
    rating's primary key (None when there was none)."""
    library_changed(user_id=user.pk)  # first, as in rating_upsert: one lock order for every library write
    rating = Rating.objects.filter(user=user, movie=movie).first()
    if rating is None:
        return None
    deleted_pk = rating.pk
    rating.delete()
    _statistics_add(movie, count=-1, total=-rating.score)
    rows_changed(Rating, [Rating(user=user, movie=movie)])
    return deleted_pk


def favorite_add(*, user: User, movie: Movie) -> Favorite:
    """Idempotent: a movie already among the favorites stays as it is (and keeps its date)."""
    favorite = _entry_add(Favorite, user=user, movie=movie)
    library_changed(user_id=user.pk)
    return favorite


def favorite_remove(*, user: User, movie: Movie) -> bool:
    removed = _entry_remove(Favorite, user=user, movie=movie)
    library_changed(user_id=user.pk)
    return removed


def watchlist_add(*, user: User, movie: Movie) -> WatchlistItem:
    """Idempotent: a movie already on the watchlist stays as it is (and keeps its date)."""
    return _entry_add(WatchlistItem, user=user, movie=movie)


def watchlist_remove(*, user: User, movie: Movie) -> bool:
    return _entry_remove(WatchlistItem, user=user, movie=movie)


def movie_hide(*, user: User, movie: Movie) -> HiddenMovie:
    """Mark the movie "not interested": the recommender never suggests it to this user again. Idempotent."""
    hidden = _entry_add(HiddenMovie, user=user, movie=movie)
    library_changed(user_id=user.pk)
    return hidden


def watch_event_create(*, user: User, movie: Movie, watched_at: datetime | None = None) -> WatchEvent:
    """Record one viewing (now, unless given); watching again records another. A time without a zone is UTC."""
    now = timezone.now()
    if watched_at is None:
        watched_at = now
    elif timezone.is_naive(watched_at):
        watched_at = timezone.make_aware(watched_at, UTC)
    if watched_at > now + WATCHED_AT_CLOCK_SKEW:
        raise _field_error("watched_at", "A viewing cannot be in the future.", "out_of_range")
    if watched_at < WATCHED_AT_EARLIEST:
        raise _field_error(
            "watched_at", "A viewing cannot be before %(earliest)s.", "out_of_range", earliest="1870-01-01 (UTC)"
        )
    event = WatchEvent.objects.create(user=user, movie=movie, watched_at=watched_at)
    rows_changed(WatchEvent, [event])
    library_changed(user_id=user.pk)
    return event


def _entry_add(model: type[Favorite | WatchlistItem | HiddenMovie], *, user: User, movie: Movie):
    entry, created = model.objects.get_or_create(user=user, movie=movie)
    if created:
        rows_changed(model, [entry])
    return entry


def _entry_remove(model: type[Favorite | WatchlistItem | HiddenMovie], *, user: User, movie: Movie) -> bool:
    deleted, _ = model.objects.filter(user=user, movie=movie).delete()
    if deleted:
        rows_changed(model, [model(user=user, movie=movie)])
    return bool(deleted)


def _clean_score(value: Decimal | float | str) -> Decimal:
    try:
        score = Decimal(str(value))
    except InvalidOperation:
        score = None
    if score is None or not score.is_finite() or not min(RATING_SCORES) <= score <= max(RATING_SCORES):
        raise _field_error(
            "score", "A score is 0.5 to 5.0 in steps of 0.5 (got %(value)s).", "out_of_range", value=value
        )
    if score not in RATING_SCORES:  # inside the range, between two half steps (3.3)
        raise _field_error(
            "score", "%(value)s is not a half step: a score is 0.5, 1.0, 1.5 … 5.0.", "step_mismatch", value=value
        )
    return score.quantize(Decimal("0.1"))


def _lock_movies(movie_ids: Iterable[int] | QuerySet) -> list[int]:
    """Row-lock the movies in id order (one order for every writer, so no deadlocks) until the transaction ends,
    which makes the following movie_stats_refresh exact under concurrent writers. Returns their ids."""
    return list(Movie.objects.filter(pk__in=movie_ids).order_by("pk").select_for_update().values_list("pk", flat=True))


def _statistics_add(movie: Movie, *, count: int, total: Decimal) -> None:
    statistics = movie_stats_add(movie_id=movie.pk, count=count, total=float(total))
    if statistics is not None:
        for name, value in vars(statistics).items():
            setattr(movie, name, value)
