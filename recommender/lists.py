"""Ranked, explained lists from a fitted model: each user's top ``LIST_LENGTH`` with a reason per movie, every
movie's similar movies and the trending lists, as the score store's records (``recommender.store``), computed in
batches on one thread per CPU."""

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recommender import store
from recommender.algorithms.hybrid import Hybrid, Source
from recommender.catalog_artifact import Catalog
from recommender.interactions import Interactions, Kind
from recommender.ranking import NO_ITEM
from recommender.store import Reason

Result = TypeVar("Result")

LIST_LENGTH = 100
SIMILAR_LENGTH = 100
TRENDING_LENGTH = 100
SCORING_BATCH_USERS = 256
SIMILAR_BATCH_ITEMS = 256
# A declared favorite genre outweighs any history-derived genre when a reason names "a genre you like".
DECLARED_GENRE_WEIGHT = 1_000.0


def _kind_matrix(events: np.ndarray, kind: Kind, interactions: Interactions) -> sp.csr_matrix:
    """Users × items: which pairs have an event of ``kind`` (rows and columns as in ``interactions``)."""
    of_kind = events[events["kind"] == kind]
    rows = interactions.user_rows(of_kind["user"])
    columns = interactions.item_columns(of_kind["movie"])
    ones = np.ones(len(rows), dtype=bool)
    return sp.csr_matrix((ones, (rows, columns)), shape=(interactions.n_users, interactions.n_items))


@dataclass(frozen=True)
class UserRows:
    """A batch of users' rows: what the model scores, and what the reasons quote."""

    confidence: sp.csr_matrix
    exclude: sp.csr_matrix
    ratings: sp.csr_matrix
    favorited: sp.csr_matrix
    watched: sp.csr_matrix
    declared_features: sp.csr_matrix
    declared_genres: sp.csr_matrix

    @classmethod
    def of(
        cls, events: np.ndarray, interactions: Interactions, declared: tuple[sp.csr_matrix, sp.csr_matrix]
    ) -> "UserRows":
        """``interactions``' rows, with ``declared`` favorite genres (``Catalog.declared_genres``)."""
        return cls(
            confidence=interactions.confidence,
            exclude=interactions.exclude,
            ratings=interactions.ratings,
            favorited=_kind_matrix(events, Kind.FAVORITE, interactions),
            watched=_kind_matrix(events, Kind.WATCH, interactions),
            declared_features=declared[0],
            declared_genres=declared[1],
        )

    def __getitem__(self, rows: np.ndarray) -> "UserRows":
        return UserRows(**{name: matrix[rows] for name, matrix in vars(self).items()})


def ranked_lists(model: Hybrid, catalog: Catalog, users: UserRows) -> list[np.ndarray]:
    """Each user's top ``LIST_LENGTH`` as ``store.ENTRY`` records, with the reason for each movie: the movie of
    theirs that added most to its score ("Because you rated Alien 5★"), else the movie's genre they like most,
    else their taste in general. Vectorised over the batch: no Python work per movie, and per user only where
    the model needs it (ALS solves a small system per user for its reasons)."""
    ranked = model.recommend(
        users.confidence, k=LIST_LENGTH, exclude=users.exclude, favorite_genres=users.declared_features
    )
    items, scores, sources = ranked.items, ranked.scores, ranked.sources
    listed = items != NO_ITEM
    because = model.strongest_contributors(users.confidence, np.where(listed, items, NO_ITEM))
    has_because = because != NO_ITEM
    because_column = np.where(has_because, because, 0)
    rows = np.repeat(np.arange(items.shape[0]), items.shape[1])

    def quoted(matrix: sp.csr_matrix) -> np.ndarray:
        """The user's value in ``matrix`` for each movie a reason names (0 where none does)."""
        values = np.asarray(matrix[rows, because_column.ravel()], dtype=np.float32).reshape(items.shape)
        return values * has_because

    favorited, stars, watched = quoted(users.favorited), quoted(users.ratings), quoted(users.watched)
    genre_profiles = (users.confidence @ catalog.item_genres + DECLARED_GENRE_WEIGHT * users.declared_genres).toarray()
    listed_genres = catalog.item_genres[np.where(listed, items, 0).ravel()].toarray().reshape(*items.shape, -1)
    genre_weights = listed_genres * genre_profiles[:, None, :]
    liked_genre = np.argmax(genre_weights, axis=2)
    has_liked_genre = genre_weights.max(axis=2, initial=0.0) > 0

    entries = np.zeros(items.shape, dtype=store.ENTRY)
    entries["movie"] = catalog.item_ids[np.where(listed, items, 0)]
    entries["score"] = scores
    entries["source"] = sources
    entries["reason"] = np.select(
        [favorited > 0, stars > 0, watched > 0, has_liked_genre, sources == Source.POPULAR],
        [Reason.FAVORITED, Reason.RATED, Reason.WATCHED, Reason.LIKED_GENRE, Reason.POPULAR],
        default=Reason.TASTE,
    )
    entries["subject"] = np.select(
        [has_because, has_liked_genre], [catalog.item_ids[because_column], catalog.genre_ids[liked_genre]], 0
    )
    entries["stars"] = np.rint(stars * 2)
    return [row_entries[row_listed] for row_entries, row_listed in zip(entries, listed, strict=True)]


def every_users_lists(
    model: Hybrid, catalog: Catalog, users: UserRows, interactions: Interactions
) -> dict[int, np.ndarray]:
    """Every user with interactions: their ranked list, by user id."""
    warm = np.flatnonzero(np.diff(interactions.confidence.indptr) > 0)
    batches = [warm[start : start + SCORING_BATCH_USERS] for start in range(0, len(warm), SCORING_BATCH_USERS)]
    lists = _batches_in_threads(lambda batch: ranked_lists(model, catalog, users[batch]), batches)
    user_lists: dict[int, np.ndarray] = {}
    for batch, batch_lists in zip(batches, lists, strict=True):
        user_lists.update(zip(interactions.user_ids[batch].tolist(), batch_lists, strict=True))
    return user_lists


def _batches_in_threads(compute: Callable[[np.ndarray], Result], batches: list[np.ndarray]) -> list[Result]:
    """``compute`` of each batch, in order, on one thread per CPU, each with BLAS held to one thread: a batch is
    mostly numpy passes over batch × items arrays, which release the GIL, and small products that a second BLAS
    thread would only slow down. The first batch runs alone, so that the models' lazily built parts (cached
    solver matrices, dense feature vectors) are built once."""
    if not batches:
        return []
    with threadpool_limits(1, "blas"), ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        first = compute(batches[0])
        return [first, *pool.map(compute, batches[1:])]


def similar_lists(model: Hybrid, catalog: Catalog) -> np.ndarray:
    """``store.SIMILAR_ENTRY`` rows: for every movie, the movies most like it."""
    n_items = len(catalog.item_ids)
    similar = np.empty((n_items, SIMILAR_LENGTH), dtype=store.SIMILAR_ENTRY)
    batches = [
        np.arange(start, min(start + SIMILAR_BATCH_ITEMS, n_items)) for start in range(0, n_items, SIMILAR_BATCH_ITEMS)
    ]
    ranked_batches = _batches_in_threads(lambda batch: model.similar(batch, k=SIMILAR_LENGTH), batches)
    for batch, ranked in zip(batches, ranked_batches, strict=True):
        listed = ranked.items != NO_ITEM
        similar["movie"][batch] = np.where(listed, catalog.item_ids[np.maximum(ranked.items, 0)], store.NO_MOVIE)
        similar["score"][batch] = np.where(listed, ranked.scores, 0.0)
    return similar


def trending_lists(model: Hybrid, catalog: Catalog) -> dict[int | None, np.ndarray]:
    """Trending movies overall (key None) and within each genre; movies with no recent activity are left
    out."""
    inactive = model.trending.item_scores <= 0
    excluded = {None: inactive}
    for column, genre_id in enumerate(catalog.genre_ids):
        excluded[int(genre_id)] = inactive | (catalog.item_genres[:, column].toarray().ravel() == 0)
    lists = {}
    for genre_id, exclude in excluded.items():
        ranked = model.recommend_anonymous(k=TRENDING_LENGTH, exclude=sp.csr_matrix(exclude[None, :]))
        items = ranked.items[0][ranked.items[0] != NO_ITEM]
        entries = store.empty_entries(len(items))
        entries["movie"] = catalog.item_ids[items]
        entries["score"] = ranked.scores[0][: len(items)]
        entries["source"] = Source.TRENDING
        entries["reason"] = Reason.TRENDING
        lists[genre_id] = entries
    return lists
