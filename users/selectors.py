"""Read operations on accounts and libraries. Every list a user sees of their own library starts here."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, router
from django.db.models import Model, QuerySet

from users.models import Favorite, Rating, User, WatchEvent, WatchlistItem


@dataclass(frozen=True)
class LibraryState:
    """How a user's library holds one movie: their rating of it, and whether it is a favorite and on their
    watchlist."""

    score: Decimal | None = None
    favorite: bool = False
    in_watchlist: bool = False


NOT_IN_LIBRARY = LibraryState()
# Ratings are in half stars, stored with one decimal.
SCORE_STEP = Decimal("0.1")


def library_states(*, user: User, movie_ids: Iterable[int]) -> dict[int, LibraryState]:
    """How the user's library holds each of these movies, by movie id; movies it does not hold are left out.
    One query over just these movies (by the library's (user, movie) indexes), however large the library."""
    movie_ids = list(movie_ids)
    if not movie_ids:
        return {}
    selects = [("movie_id, 0, score", Rating), ("movie_id, 1, NULL", Favorite), ("movie_id, 2, NULL", WatchlistItem)]
    where = f"user_id = %s AND movie_id IN ({placeholders(movie_ids)})"
    held: dict[int, dict] = {}
    for movie_id, kind, score in library_rows(selects, where, [user.pk, *movie_ids]):
        state = held.setdefault(movie_id, {})
        if kind == 0:
            state["score"] = Decimal(str(score)).quantize(SCORE_STEP)  # SQLite answers a float
        else:
            state["favorite" if kind == 1 else "in_watchlist"] = True
    return {movie_id: LibraryState(**state) for movie_id, state in held.items()}


def library_rows(selects: Sequence[tuple[str, type[Model]]], where: str, parameters: Sequence) -> list[tuple]:
    """The rows of several library tables in one query: ``SELECT columns FROM table WHERE where`` for each
    (columns, model), all together (UNION ALL), ``parameters`` going with each ``where``.

    Written out rather than built with the ORM: the API runs these on every request that shows the viewer's
    library (their marks on a page of movies, what to leave out of their recommendations), and compiling the
    equivalent querysets cost several times what the database spends answering them. Only our own column and
    table names go into the text; every value is a parameter."""
    database = router.db_for_read(Rating)
    quote = connections[database].ops.quote_name
    query = " UNION ALL ".join(
        f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {where}"  # noqa: S608
        for columns, model in selects
    )
    with connections[database].cursor() as cursor:
        cursor.execute(query, list(parameters) * len(selects))
        return cursor.fetchall()


def placeholders(values: Sequence) -> str:
    """``%s, %s, ...``: one parameter per value, for ``IN (...)``."""
    return ", ".join(["%s"] * len(values))


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
