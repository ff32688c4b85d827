"""Ranked, explained lists from a fitted model: each user's top ``LIST_LENGTH`` with a reason per movie, every
movie's similar movies and the trending lists, as the score store's records (``recommender.store``), computed in
batches on ``rank_threads()`` threads."""

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from threadpoolctl import threadpool_limits

from recommender import store
from recommender.algorithms.hybrid import Hybrid, Source
from recommender.catalog_artifact import Catalog
from recommender.interactions import Interactions, Kind
from recommender.ranking import NO_ITEM
from recommender.store import Reason
from recommender.strategies import BALANCED_LENGTH, candidate_pool, familiarity, genre_bits

Result = TypeVar("Result")

LIST_LENGTH = BALANCED_LENGTH
SIMILAR_LENGTH = 100
TRENDING_LENGTH = 100
SCORING_BATCH_USERS = 256
SIMILAR_BATCH_ITEMS = 256
# A declared favorite genre outweighs any history-derived genre when a reason names "a genre you like".
DECLARED_GENRE_WEIGHT = 1_000.0
# "Popular with people who liked X and Y": looked for among the first places of each list, where the second
# movie adds at least this share of what the first adds, both liked (at least this many stars, or favorited).
PAIR_PLACES = 20
PAIR_BALANCE = 0.8
LIKED_STARS = 4.0
# Models whose ``contributions`` solve a system per user (ALS: Hu et al. section 5) already spend most of the
# recommend step on the single-movie reasons; at ML-20M size a second pass would cost minutes, so their lists
# keep "Because you rated X". Models whose contributions are a gather from an item-item matrix get the pairs.
PAIRS_TOO_COSTLY = frozenset({"als"})
TRENDING_THIS_WEEK = 7 * 86_400


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
    """Each user's candidates (``strategies.candidate_pool``: the balanced top ``LIST_LENGTH``, then the extra
    candidates) as ``store.ENTRY`` records, with the reason for each movie: two movies of theirs that together
    speak for it ("Popular with people who liked X and Y"), else the movie of theirs that added most to its
    score ("Because you rated Alien 5★"), else the movie's genre they like most, else their taste in general.
    Vectorised over the batch: no Python work per movie, and per user only where the model needs it (ALS solves
    a small system per user for its reasons) and for the pairs of the first ``PAIR_PLACES``."""
    pool = candidate_pool(
        model, users.confidence, exclude=users.exclude, favorite_genres=users.declared_features, length=LIST_LENGTH
    )
    items, scores, sources = pool.items, pool.relevance, pool.sources
    listed = items != NO_ITEM
    because = model.strongest_contributors(users.confidence, np.where(listed, items, NO_ITEM))
    has_because = because != NO_ITEM
    because_column = np.where(has_because, because, 0)
    rows = np.repeat(np.arange(items.shape[0]), items.shape[1])

    def quoted(matrix: sp.csr_matrix, columns: np.ndarray) -> np.ndarray:
        """The user's value in ``matrix`` for each movie a reason names (0 where none does)."""
        values = np.asarray(matrix[rows, np.maximum(columns, 0).ravel()], dtype=np.float32).reshape(items.shape)
        return values * (columns != NO_ITEM)

    favorited, stars, watched = (quoted(matrix, because) for matrix in (users.favorited, users.ratings, users.watched))
    together = _liked_together(model, users, items, sources)
    genre_profiles = (users.confidence @ catalog.item_genres + DECLARED_GENRE_WEIGHT * users.declared_genres).toarray()
    listed_genres = catalog.item_genres[np.where(listed, items, 0).ravel()].toarray().reshape(*items.shape, -1)
    genre_weights = listed_genres * genre_profiles[:, None, :]
    liked_genre = np.argmax(genre_weights, axis=2)
    has_liked_genre = genre_weights.max(axis=2, initial=0.0) > 0
    has_together = together[..., 1] != NO_ITEM

    safe_items = np.where(listed, items, 0)
    entries = np.zeros(items.shape, dtype=store.ENTRY)
    entries["movie"] = catalog.item_ids[safe_items]
    entries["score"] = scores
    entries["source"] = sources
    entries["reason"] = np.select(
        [has_together, favorited > 0, stars > 0, watched > 0, has_liked_genre, sources == Source.POPULAR],
        [Reason.LIKED_TOGETHER, Reason.FAVORITED, Reason.RATED, Reason.WATCHED, Reason.LIKED_GENRE, Reason.POPULAR],
        default=Reason.TASTE,
    )
    entries["subject"] = np.select(
        [has_together, has_because, has_liked_genre],
        [
            catalog.item_ids[np.maximum(together[..., 0], 0)],
            catalog.item_ids[because_column],
            catalog.genre_ids[liked_genre],
        ],
        0,
    )
    entries["other"] = np.where(has_together, catalog.item_ids[np.maximum(together[..., 1], 0)], 0)
    entries["stars"] = np.where(has_together, 0, np.rint(stars * 2))
    entries["place"] = pool.place
    entries["familiarity"] = np.rint(familiarity(model.popularity.item_scores)[safe_items] * 255)
    entries["genres"] = genre_bits(catalog.item_genres)[safe_items]
    return [row_entries[row_listed] for row_entries, row_listed in zip(entries, listed, strict=True)]


def _liked_together(model: Hybrid, users: UserRows, items: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """For the first ``PAIR_PLACES`` collaborative picks of each user, the two movies the user liked (rated
    4★ or more, or favorited) that add most to the pick's score, where the second adds at least
    ``PAIR_BALANCE`` of what the first does: ``batch × candidates × 2`` item columns, ``NO_ITEM`` elsewhere."""
    together = np.full((*items.shape, 2), NO_ITEM, dtype=np.int64)
    if model.collaborative.name in PAIRS_TOO_COSTLY:
        return together
    liked = (users.ratings >= LIKED_STARS).maximum(users.favorited).tocsr()
    for row in range(items.shape[0]):
        user_row = users.confidence[row]
        head = slice(0, PAIR_PLACES)
        places = np.flatnonzero((items[row, head] != NO_ITEM) & (sources[row, head] == Source.COLLABORATIVE))
        if user_row.nnz < 2 or len(places) == 0:
            continue
        contributions = model.collaborative.contributions(user_row, items[row, places])
        user_liked = np.asarray(liked[row, user_row.indices].todense()).ravel() > 0
        contributions = np.where(user_liked[:, None], contributions, 0.0)
        top_two = np.argsort(-contributions, axis=0, kind="stable")[:2]
        first, second = (contributions[top_two[index], np.arange(len(places))] for index in (0, 1))
        paired = (second > 0) & (second >= PAIR_BALANCE * first)
        together[row, places[paired]] = user_row.indices[top_two[:, paired]].T
    return together


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


def rank_threads() -> int:
    """Threads that rank batches in this process: ``NEXUS_RANK_THREADS``, or (0, the default) one per CPU the
    process may use, right for a process that has the machine to itself (``train_recommender``, the trainer). A
    worker's precompute shards rank on one thread (docker/entrypoint.sh sets 1 for the worker role): its prefork
    processes, one per core, are the unit of parallelism, and a second thread in each would only share the cores
    with the other processes' (docs/scaling.md, "Fan-out on this machine")."""
    return settings.NEXUS_RANK_THREADS or len(os.sched_getaffinity(0))


def _batches_in_threads(compute: Callable[[np.ndarray], Result], batches: list[np.ndarray]) -> list[Result]:
    """``compute`` of each batch, in order, on ``rank_threads()`` threads, each with BLAS held to one thread: a
    batch is mostly numpy passes over batch × items arrays, which release the GIL, and small products that a
    second BLAS thread would only slow down. The first batch runs alone, so that the models' lazily built parts
    (cached solver matrices, dense feature vectors) are built once."""
    if not batches:
        return []
    with threadpool_limits(1, "blas"), ThreadPoolExecutor(max_workers=rank_threads()) as pool:
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


def trending_lists(
    model: Hybrid, catalog: Catalog, interactions: Interactions | None = None
) -> dict[int | None, np.ndarray]:
    """Trending movies overall (key None) and within each genre; movies with no recent activity are left
    out. Each names the genre it trends in ("Trending in Comedy this week": the genre's own list, or overall the
    genre whose list places it highest) and, given the ``interactions`` the model was trained on, whether it had
    activity in the week before the model's "now"."""
    inactive = model.trending.item_scores <= 0
    excluded = {None: inactive}
    for column, genre_id in enumerate(catalog.genre_ids):
        excluded[int(genre_id)] = inactive | (catalog.item_genres[:, column].toarray().ravel() == 0)
    this_week = np.zeros(len(catalog.item_ids), dtype=bool)
    if interactions is not None and interactions.last_activity.nnz:
        activity = interactions.last_activity.tocoo()
        recent = activity.data >= float(model.trending.now) - TRENDING_THIS_WEEK
        this_week[np.unique(activity.col[recent])] = True
    ranked_items = {}
    for genre_id, exclude in excluded.items():
        ranked = model.recommend_anonymous(k=TRENDING_LENGTH, exclude=sp.csr_matrix(exclude[None, :]))
        ranked_items[genre_id] = (ranked.items[0][ranked.items[0] != NO_ITEM], ranked.scores[0])
    # Overall, each movie names the genre whose list places it highest (the first such genre on a tie).
    best_place = np.full(len(catalog.item_ids), TRENDING_LENGTH, dtype=np.int64)
    best_genre = np.zeros(len(catalog.item_ids), dtype=np.int64)
    for genre_id, (items, _) in ranked_items.items():
        if genre_id is not None:
            better = np.arange(len(items)) < best_place[items]
            best_place[items[better]] = np.flatnonzero(better)
            best_genre[items[better]] = genre_id
    lists = {}
    for genre_id, (items, scores) in ranked_items.items():
        entries = store.empty_entries(len(items))
        entries["movie"] = catalog.item_ids[items]
        entries["score"] = scores[: len(items)]
        entries["source"] = Source.TRENDING
        subject = best_genre[items] if genre_id is None else np.full(len(items), genre_id)
        entries["reason"] = np.where(subject > 0, Reason.TRENDING_IN_GENRE, Reason.TRENDING)
        entries["subject"] = subject
        entries["stars"] = this_week[items]
        lists[genre_id] = entries
    return lists
