"""Read operations on accounts and libraries. Every list a user sees of their own library starts here."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from catalog.models import Movie
from users.models import Favorite, Rating, User, WatchEvent, WatchlistItem


@dataclass(frozen=True)
class LibraryState:
    """How a user's library holds one movie: their rating of it, and whether it is a favorite and on their
    watchlist."""

    score: Decimal | None = None
    favorite: bool = False
    in_watchlist: bool = False


NOT_IN_LIBRARY = LibraryState()


def library_states(*, user: User, movie_ids: Iterable[int]) -> dict[int, LibraryState]:
    """How the user's library holds each of these movies, by movie id; movies it does not hold are left out.
    One query over just these movies (by the library's (user, movie) indexes), however large the library."""
    mine = {"user": user, "movie": OuterRef("pk")}
    rows = (
        Movie.objects.filter(pk__in=list(movie_ids))
        .order_by()
        .values_list(
            "pk",
            Subquery(Rating.objects.filter(**mine).values("score")[:1]),
            Exists(Favorite.objects.filter(**mine)),
            Exists(WatchlistItem.objects.filter(**mine)),
        )
    )
    states = {}
    for movie_id, score, favorite, in_watchlist in rows:
        state = LibraryState(score, favorite, in_watchlist)
        if state != NOT_IN_LIBRARY:
            states[movie_id] = state
    return states


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
    """Each row's movie comes with the page, in the same query (the API loads their genres for the whole page)."""
    return queryset.select_related("movie")
