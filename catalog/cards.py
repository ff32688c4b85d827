"""Movie cards: every field of a movie with its genres, cached per movie under the catalog version, so that the
short lists (recommendations, similar, trending, popular) are turned into movies, and any movie's genres are
read, without SQL on a warm cache.

Cards are read by movie id, a whole list at a time (the API's loaders ask for every movie of a request pass at
once): those the request read already from its memo, those this process read less than
``NEXUS_SHARED_VERSION_SECONDS`` ago from its own copies, the others with one ``get_many``; the cards that are
missing are loaded in one query (genres joined in) and written back with one ``set_many``. Cards are stored as
plain tuples of column values, keyed by the catalog version (``catalog.cache``), so any change of the catalog makes
every card stale at once, and by the layout of the ``Movie`` table, so a deployment that adds a column never reads
a card written before it. A rating drops its movie's card (``movie_statistics_changed``): at once here and in
Redis, within ``NEXUS_SHARED_VERSION_SECONDS`` in other processes' copies. An unreachable cache only means that
every card is loaded from the database.

Each card this process holds comes with a memo (``Movie.card_memo`` on the movies built from it): a dict for what a
caller derives from the card alone, which lives as long as the card's content does here — a copy read again with
the same values keeps it, a changed or dropped card starts a new one. The API keeps its rendered card fields there
(schema/core/shared_renders.py).
"""

import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from functools import cached_property

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from catalog.cache import CATALOG_VERSION_KEY, catalog_version
from catalog.models import Genre, Movie
from nexus.caches import quietly
from nexus.request_context import request_memo
from nexus.versions import version_bump_soon

# Cards of an old catalog version are never read again: they only need to outlive the version that wrote them.
CARD_TIMEOUT = 60 * 60
# Every column: a card that lacked one would make Django load it, with one query per movie.
_MOVIE_COLUMNS = tuple(field.attname for field in Movie._meta.concrete_fields)
_GENRE_COLUMNS = ("id", "name", "slug")
_TITLE_COLUMN = _MOVIE_COLUMNS.index("title")
_LAYOUT = zlib.crc32(" ".join(_MOVIE_COLUMNS + _GENRE_COLUMNS).encode())
# The cards the current request read, by movie id, in its memo (nexus.request_context).
_MEMO = "movie-cards"
RECENT_CARDS = 5000

# As cached: (column values in _MOVIE_COLUMNS order, ((genre id, name, slug), ...) by name)
StoredCard = tuple[tuple, tuple[tuple[int, str, str], ...]]
# A card as this process holds it: the stored card and its memo (see the module's docstring).
HeldCard = tuple[StoredCard, dict]
# This process' copies of the cards it read, by movie id: (monotonic time read, catalog version, card), served for
# NEXUS_SHARED_VERSION_SECONDS like the shared versions themselves; least recently read first.
_recent: OrderedDict[int, tuple[float, int, HeldCard]] = OrderedDict()


class MovieCard:
    """A movie and its genres (by name), each built from the cached card when first read: a caller that wants
    only the genres builds no movie. ``movie.genres`` is not loaded: read ``genres``."""

    def __init__(self, held: HeldCard, genres_built: dict[int, Genre]):
        self._stored, self.memo = held
        # Shared by the cards read together, by genre id: each genre is built once for all of them.
        self._genres_built = genres_built

    @cached_property
    def movie(self) -> Movie:
        movie = Movie.from_db(Movie.objects.db, _MOVIE_COLUMNS, self._stored[0])
        movie.card_memo = self.memo
        return movie

    @property
    def title(self) -> str:
        """The movie's title, without building the movie (a reason naming it needs no more)."""
        return self._stored[0][_TITLE_COLUMN]

    @cached_property
    def genres(self) -> tuple[Genre, ...]:
        built = self._genres_built
        for row in self._stored[1]:
            if row[0] not in built:
                built[row[0]] = Genre.from_db(Genre.objects.db, _GENRE_COLUMNS, row)
        return tuple(built[row[0]] for row in self._stored[1])

    def in_genre(self, genre_id: int) -> bool:
        return any(row[0] == genre_id for row in self._stored[1])


def movie_cards(movie_ids: Iterable[int]) -> dict[int, MovieCard]:
    """The cards of the movies with these ids (missing movies are left out), by id: those the current request
    read already from its memo, the others from the cache, and for the cards not cached, from one database
    query."""
    movie_ids = list(dict.fromkeys(movie_ids))
    if not movie_ids:
        return {}
    memo = request_memo()
    read: dict[int, HeldCard] = memo.setdefault(_MEMO, {}) if memo is not None else {}
    cards = {movie_id: read[movie_id] for movie_id in movie_ids if movie_id in read}
    wanted = [movie_id for movie_id in movie_ids if movie_id not in cards]
    version = catalog_version() if wanted else None
    if wanted and version is None:
        cards.update((movie_id, (card, {})) for movie_id, card in _cards_load(wanted).items())
    elif wanted:
        cards.update(_recent_get(wanted, version))
        keys = {_card_key(version, movie_id): movie_id for movie_id in wanted if movie_id not in cards}
        fetched = {keys[key]: card for key, card in _cache_get_many(list(keys)).items()} if keys else {}
        missing = [movie_id for movie_id in keys.values() if movie_id not in fetched]
        if missing:
            loaded = _cards_load(missing)
            fetched.update(loaded)
            _cache_set_many({_card_key(version, movie_id): card for movie_id, card in loaded.items()})
        cards.update(_recent_put(fetched, version))
    read.update(cards)
    genres_built: dict[int, Genre] = {}
    return {movie_id: MovieCard(cards[movie_id], genres_built) for movie_id in movie_ids if movie_id in cards}


def cards_in_order(
    cards: dict[int, MovieCard], movie_ids: Iterable[int], *, genre_id: int | None = None
) -> list[MovieCard]:
    """The cards of ``cards`` (see ``movie_cards``) with these ids, in this order, without repeats; with
    ``genre_id``, only those in that genre. Ids without a card (no such movie) are skipped."""
    picked = [cards[movie_id] for movie_id in dict.fromkeys(movie_ids) if movie_id in cards]
    return [card for card in picked if genre_id is None or card.in_genre(genre_id)]


def in_order(cards: dict[int, MovieCard], movie_ids: Iterable[int], *, genre_id: int | None = None) -> list[Movie]:
    """The movies of ``cards_in_order``."""
    return [card.movie for card in cards_in_order(cards, movie_ids, genre_id=genre_id)]


def first_cards(queryset: QuerySet[Movie], *, limit: int) -> list[MovieCard]:
    """The cards of the first ``limit`` movies of an ordered queryset: their ids from the database (one query),
    the rest from their cards."""
    movie_ids = list(queryset.prefetch_related(None).values_list("pk", flat=True)[:limit])
    cards = movie_cards(movie_ids)
    return [cards[movie_id] for movie_id in movie_ids if movie_id in cards]


def movies_from_cards(queryset: QuerySet[Movie], *, limit: int) -> list[Movie]:
    """The first ``limit`` movies of an ordered queryset, from their cards (see ``first_cards``)."""
    return [card.movie for card in first_cards(queryset, limit=limit)]


def movie_statistics_changed(movie_ids: Iterable[int]) -> None:
    """The rating statistics of these movies changed (users.statistics): once the transaction commits, their cards
    are dropped, so that the rater reads the new figures at once; lists and other cached catalog answers follow
    within ``NEXUS_STATISTICS_STALENESS_SECONDS``, all the changes of that time in one catalog bump, so that a
    stream of ratings does not keep every cached catalog answer cold."""
    movie_ids = list(movie_ids)
    transaction.on_commit(lambda: _cards_forget(movie_ids))
    version_bump_soon(CATALOG_VERSION_KEY, within=settings.NEXUS_STATISTICS_STALENESS_SECONDS)


def _cards_forget(movie_ids: list[int]) -> None:
    memo = request_memo()
    for movie_id in movie_ids:  # later reads of this request, and of this process, load them again too
        _recent.pop(movie_id, None)
        if memo is not None:
            memo.get(_MEMO, {}).pop(movie_id, None)
    version = catalog_version()
    if version is None:
        return  # nothing is cached while the cache is unreachable
    # If they cannot be dropped, the catalog's bump within the staleness bound makes them unreachable.
    quietly(
        "Movie cards not dropped", lambda: cache.delete_many([_card_key(version, movie_id) for movie_id in movie_ids])
    )


def _recent_get(movie_ids: list[int], version: int) -> dict[int, HeldCard]:
    max_age = settings.NEXUS_SHARED_VERSION_SECONDS
    if max_age <= 0:
        return {}
    now, found = time.monotonic(), {}
    for movie_id in movie_ids:
        copy = _recent.get(movie_id)
        if copy is not None and copy[1] == version and now - copy[0] < max_age:
            found[movie_id] = copy[2]
    return found


def _recent_put(cards: dict[int, StoredCard], version: int) -> dict[int, HeldCard]:
    """These cards as held here: each with the memo of this process' copy if its content is the same, else a new
    one (and kept as this process' copies)."""
    held = {}
    for movie_id, card in cards.items():
        copy = _recent.get(movie_id)
        held[movie_id] = copy[2] if copy is not None and copy[2][0] == card else (card, {})
    if settings.NEXUS_SHARED_VERSION_SECONDS <= 0:
        return held
    now = time.monotonic()
    for movie_id, card in held.items():
        _recent[movie_id] = (now, version, card)
        _recent.move_to_end(movie_id)
    while len(_recent) > RECENT_CARDS:
        _recent.popitem(last=False)
    return held


def _card_key(version: int, movie_id: int) -> str:
    return f"movie-card:{version}:{_LAYOUT:x}:{movie_id}"


def _cards_load(movie_ids: list[int]) -> dict[int, StoredCard]:
    """Cards of these movies from one query: one row per movie and genre (one row with no genre for a movie
    without any)."""
    rows = (
        Movie.objects.filter(pk__in=movie_ids)
        .order_by()
        .values_list(*_MOVIE_COLUMNS, *(f"genres__{column}" for column in _GENRE_COLUMNS))
    )
    columns: dict[int, tuple] = {}
    genres: dict[int, list[tuple[int, str, str]]] = {}
    width = len(_MOVIE_COLUMNS)
    for row in rows:
        movie_id = row[0]
        columns.setdefault(movie_id, row[:width])
        genres.setdefault(movie_id, [])
        if row[width] is not None:
            genres[movie_id].append(row[width:])
    # Genre's own order (by name).
    return {
        movie_id: (values, tuple(sorted(genres[movie_id], key=lambda genre: genre[1])))
        for movie_id, values in columns.items()
    }


def _cache_get_many(keys: list[str]) -> dict:
    return quietly("Movie cards not read", lambda: cache.get_many(keys), default={})


def _cache_set_many(cards: dict[str, StoredCard]) -> None:
    quietly("Movie cards not written", lambda: cache.set_many(cards, timeout=CARD_TIMEOUT))
