"""Movie cards: every field of a movie with its genres, cached per movie under the catalog version, so that the
short lists (recommendations, similar, trending, popular) are turned into movies without SQL on a warm cache.

A card is read with one ``get_many`` for a whole list; the cards that are missing are loaded in one query (genres
joined in) and written back with one ``set_many``. Cards are plain tuples of column values, keyed by the catalog
version (``catalog.cache``), so any change of the catalog makes every card stale at once, and by the layout of
the ``Movie`` table, so a deployment that adds a column never reads a card written before it. An unreachable
cache only means that every card is loaded from the database.
"""

import logging
import zlib
from collections.abc import Iterable

from django.core.cache import cache
from django.db.models import QuerySet

from catalog.cache import catalog_version
from catalog.models import Genre, Movie

logger = logging.getLogger(__name__)

# Cards of an old catalog version are never read again: they only need to outlive the version that wrote them.
CARD_TIMEOUT = 60 * 60
# Every column: a card that lacked one would make Django load it, with one query per movie.
_MOVIE_COLUMNS = tuple(field.attname for field in Movie._meta.concrete_fields)
_GENRE_COLUMNS = ("id", "name", "slug")
_LAYOUT = zlib.crc32(" ".join(_MOVIE_COLUMNS + _GENRE_COLUMNS).encode())

# (column values in _MOVIE_COLUMNS order, ((genre id, name, slug), ...) by name)
Card = tuple[tuple, tuple[tuple[int, str, str], ...]]


def movie_cards(movie_ids: Iterable[int]) -> dict[int, Movie]:
    """The movies with these ids (missing ones are left out), by id, each with its genres: from the cache, and
    for the cards not cached, from one database query."""
    movie_ids = list(dict.fromkeys(movie_ids))
    if not movie_ids:
        return {}
    version = catalog_version()
    if version is None:
        cards = _cards_load(movie_ids)
    else:
        keys = {_card_key(version, movie_id): movie_id for movie_id in movie_ids}
        cards = {keys[key]: card for key, card in _cache_get_many(list(keys)).items()}
        missing = [movie_id for movie_id in movie_ids if movie_id not in cards]
        if missing:
            loaded = _cards_load(missing)
            cards.update(loaded)
            _cache_set_many({_card_key(version, movie_id): card for movie_id, card in loaded.items()})
    return {movie_id: _movie(cards[movie_id]) for movie_id in movie_ids if movie_id in cards}


def in_order(cards: dict[int, Movie], movie_ids: Iterable[int], *, genre_id: int | None = None) -> list[Movie]:
    """The movies of ``cards`` (see ``movie_cards``) with these ids, in this order, without repeats; with
    ``genre_id``, only those in that genre. Ids without a card (no such movie) are skipped."""
    movies = [cards[movie_id] for movie_id in dict.fromkeys(movie_ids) if movie_id in cards]
    if genre_id is None:
        return movies
    return [movie for movie in movies if any(genre.pk == genre_id for genre in movie.genres.all())]


def movies_from_cards(queryset: QuerySet[Movie], *, limit: int) -> list[Movie]:
    """The first ``limit`` movies of an ordered queryset: their ids from the database (one query), the movies from
    their cards."""
    movie_ids = list(queryset.prefetch_related(None).values_list("pk", flat=True)[:limit])
    return in_order(movie_cards(movie_ids), movie_ids)


def _card_key(version: int, movie_id: int) -> str:
    return f"movie-card:{version}:{_LAYOUT:x}:{movie_id}"


def _cards_load(movie_ids: list[int]) -> dict[int, Card]:
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
    # Genre's own order (by name), as movie.genres.all() would return them.
    return {
        movie_id: (values, tuple(sorted(genres[movie_id], key=lambda genre: genre[1])))
        for movie_id, values in columns.items()
    }


def _movie(card: Card) -> Movie:
    """A Movie instance from a card, its genres set as if prefetched (``movie.genres.all()`` runs no query)."""
    values, genre_rows = card
    database = Movie.objects.db
    movie = Movie.from_db(database, _MOVIE_COLUMNS, values)
    genres = movie.genres.all()
    # What prefetch_related does with the genres it loaded.
    genres._result_cache = [Genre.from_db(database, _GENRE_COLUMNS, genre) for genre in genre_rows]
    genres._prefetch_done = True
    movie._prefetched_objects_cache = {"genres": genres}
    return movie


def _cache_get_many(keys: list[str]) -> dict:
    try:
        return cache.get_many(keys)
    except Exception:  # noqa: BLE001 - an unreachable cache only costs the database query it saves
        logger.warning("Movie cards not read: the cache is unreachable", exc_info=True)
        return {}


def _cache_set_many(cards: dict[str, Card]) -> None:
    try:
        cache.set_many(cards, timeout=CARD_TIMEOUT)
    except Exception:  # noqa: BLE001 - the next request loads them again
        logger.warning("Movie cards not written: the cache is unreachable", exc_info=True)
