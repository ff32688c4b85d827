"""Read operations on accounts and libraries. Every list a user sees of their own library starts here."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet

from users.models import Favorite, Rating, User, WatchEvent, WatchlistItem


@dataclass(frozen=True)
class UserLibrary:
    """Which movies a user rated (and how), favorited and keeps on their watchlist, by movie id."""

    scores: dict[int, Decimal] = field(default_factory=dict)
    favorite_ids: frozenset[int] = frozenset()
    watchlist_ids: frozenset[int] = frozenset()


def user_library(*, user: User) -> UserLibrary:
    """The user's library as movie-id lookups: three queries, however many movies a page shows."""
    return UserLibrary(
        scores=dict(Rating.objects.filter(user=user).values_list("movie_id", "score")),
        favorite_ids=frozenset(Favorite.objects.filter(user=user).values_list("movie_id", flat=True)),
        watchlist_ids=frozenset(WatchlistItem.objects.filter(user=user).values_list("movie_id", flat=True)),
    )


def user_get(*, pk: int) -> User | None:
    return User.objects.filter(pk=pk).first()


def user_ratings(*, user: User) -> QuerySet[Rating]:
    """The user's ratings, most recently rated or changed first."""
    return _with_movies(Rating.objects.filter(user=user)).order_by("-updated_at", "-id")


def user_favorites(*, user: User) -> QuerySet[Favorite]:
    """The user's favorites, most recently added first."""
    return _with_movies(Favorite.objects.filter(user=user)).order_by("-created_at", "-id")


def user_watchlist(*, user: User) -> QuerySet[WatchlistItem]:
    """The user's watchlist, most recently added first."""
    return _with_movies(WatchlistItem.objects.filter(user=user)).order_by("-created_at", "-id")


def user_history(*, user: User) -> QuerySet[WatchEvent]:
    """The user's viewings, most recent first; a movie watched twice appears twice."""
    return _with_movies(WatchEvent.objects.filter(user=user)).order_by("-watched_at", "-id")


def _with_movies(queryset: QuerySet) -> QuerySet:
    """Each row's movie and its genres come with the page: two queries, however long the page."""
    return queryset.select_related("movie").prefetch_related("movie__genres")
