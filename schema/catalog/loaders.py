"""The per-request loaders behind a movie's fields, keyed by movie id (schema/core/loaders.py): its genres (from
its card), the movies like it, and how the viewer's library holds it. Whichever list a movie comes from, each of
these costs one batch per request pass, not one load per movie.
"""

from catalog import cards, people, selectors, terms
from catalog.models import Genre, Movie
from recommender.selectors import similar_movies_many
from schema.core.auth import viewer
from schema.core.deferred import Deferred
from schema.core.loaders import Loader, loader, loader_forget, request_memo_forget
from users.custom_list_selectors import custom_lists_holding
from users.selectors import NOT_IN_LIBRARY, LibraryState, library_states


def movie_genres(info) -> Loader[int, tuple[Genre, ...]]:
    """Movies' genres, from their cards (catalog/cards.py): from the cache, the misses from one query."""
    return loader(info, "movie_genres", _genres_from_cards, default=())


def _genres_from_cards(movie_ids: list[int]) -> dict[int, tuple[Genre, ...]]:
    return {movie_id: card.genres for movie_id, card in cards.movie_cards(movie_ids).items()}


def movie_keywords(info) -> Loader[int, list[str]]:
    """Movies' keywords, by name (one query per request pass)."""
    return loader(info, "movie_keywords", lambda movie_ids: terms.movie_keywords_many(movie_ids=movie_ids), default=())


def movie_tags(info, first: int) -> Loader[int, list[terms.TagCount]]:
    """Movies' ``first`` tags, most applied first (one query per request pass and ``first``)."""
    return loader(
        info,
        ("movie_tags", first),
        lambda movie_ids: terms.movie_tags_many(movie_ids=movie_ids, first=first),
        default=(),
    )


def movie_credits(info) -> Loader[int, list]:
    """Movies' credits (cast in billing order, then directors) with their people (one query per request pass)."""
    return loader(info, "movie_credits", lambda movie_ids: people.movie_credits_many(movie_ids=movie_ids), default=())


def person_movies(info, first: int) -> Loader[int, list[Movie]]:
    """People's ``first`` movies, most popular first: their ids in one query, the movies from their cards."""

    def load(person_ids: list[int]) -> dict[int, list[Movie]]:
        movie_ids = people.person_movie_ids_many(person_ids=person_ids, first=first)
        found = cards.movie_cards(movie_id for listed in movie_ids.values() for movie_id in listed)
        return {person_id: cards.in_order(found, listed) for person_id, listed in movie_ids.items()}

    return loader(info, ("person_movies", first), load, default=())


def genre_movie_counts(info) -> Loader[int, int]:
    """How many movies each genre has."""
    return loader(info, "genre_movie_counts", _genre_movie_counts, default=0)


def _genre_movie_counts(genre_ids: list[int]) -> dict[int, int]:
    return selectors.genre_movie_counts(genre_ids=genre_ids)


def similar_movies(info, first: int) -> Loader[int, list[Movie]]:
    """The ``first`` movies like each movie (precomputed by the recommender, or popular ones sharing a genre)."""

    def load(movie_ids: list[int]) -> dict[int, list[Movie]]:
        similar = similar_movies_many(movie_ids=movie_ids, first=first)
        genres = movie_genres(info)
        for listed in similar.values():
            for card in listed:
                # Read with their cards: their genres, when asked for, need no second read.
                genres.prime(card.movie.pk, card.genres)
        return {movie_id: [card.movie for card in listed] for movie_id, listed in similar.items()}

    return loader(info, ("similar_movies", first), load, default=())


def viewer_library_state(info, movie_id: int) -> LibraryState | Deferred:
    """How the viewer's library holds the movie: loaded for just the movies the request shows, however large
    the library; nothing for anonymous callers."""
    user = viewer(info)
    if user is None:
        return NOT_IN_LIBRARY
    load = loader(
        info,
        ("viewer_library", user.pk),
        lambda movie_ids: library_states(user=user, movie_ids=movie_ids),
        default=NOT_IN_LIBRARY,
    )
    return load.load(movie_id)


def viewer_lists_holding(info, movie_id: int) -> list | Deferred:
    """The viewer's custom lists that hold the movie: one query for all the movies the request shows; none for
    anonymous callers."""
    user = viewer(info)
    if user is None:
        return []
    load = loader(
        info,
        ("viewer_lists", user.pk),
        lambda movie_ids: custom_lists_holding(user=user, movie_ids=movie_ids),
        default=(),
    )
    return load.load(movie_id)


def viewer_memo_prefix(user) -> str:
    """The start of the keys of request memos that hold something of this viewer's library (what they have seen)."""
    return f"viewer:{user.pk}:"


def viewer_library_forget(info) -> None:
    """After a mutation changed the viewer's library: later fields of the request (a request may run several
    mutations, each returning movies, and ask for recommendations after them) load its state again."""
    user = viewer(info)
    if user is not None:
        loader_forget(info, ("viewer_library", user.pk))
        loader_forget(info, ("viewer_lists", user.pk))
        request_memo_forget(info, viewer_memo_prefix(user))
