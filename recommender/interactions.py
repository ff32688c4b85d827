"""The user × item interaction matrix every recommender learns from (pure numpy/scipy, no Django).

Input is a flat event log as parallel arrays — one entry per rating, favorite, watch event or hide — so the
training pipeline can hand over ``values_list`` / SQL results without building an object per row.
"""

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import scipy.sparse as sp


class Kind(IntEnum):
    """What an event in the log is. ``value`` is the star score for ratings and ignored for the other kinds."""

    RATING = 0
    FAVORITE = 1
    WATCH = 2
    HIDE = 3


@dataclass(frozen=True)
class InteractionWeights:
    """How strongly each kind of event says "this user is interested in this movie" (the confidence in X).

    - ``rating``: any rating counts this much. People rate what they chose to watch, so even a 1★ rating says
      more about their interests than the thousands of movies they never touched — and the held-out ratings that
      the offline protocol treats as relevant include low ones.
    - ``liked_bonus``: added for a 5★ rating, linearly from nothing at ``neutral_score`` (4★ gets half of it),
      because what people liked says more about their taste than what they merely watched.
    - ``favorite``: an explicit "I love this", added on top of the rating.
    - ``watch``: one viewing; ``n`` viewings count ``watch × log2(1 + n)``, so repeats add, with diminishing
      returns (a movie left looping is not ten times as interesting).
    - Hides are not weighted: a hidden movie gets no confidence at all, whatever else happened.

    The defaults were chosen on validation splits (see docs/recommender.md): ``liked_bonus`` 0.5 ranks what
    people go on to rate best (nDCG@10 over every held-out rating); larger bonuses favour what they liked.
    """

    rating: float = 1.0
    liked_bonus: float = 0.5
    neutral_score: float = 3.0
    favorite: float = 2.0
    watch: float = 0.5

    def rating_confidence(self, scores: np.ndarray) -> np.ndarray:
        liked = np.clip((scores - self.neutral_score) / (5.0 - self.neutral_score), 0.0, 1.0)
        return (self.rating + self.liked_bonus * liked).astype(np.float32)


@dataclass(frozen=True)
class Interactions:
    """The matrices of one snapshot of the event log, rows = users and columns = items in sorted id order.

    - ``confidence`` (float32): what the collaborative models learn from; hidden movies are absent.
    - ``ratings`` (float32): the star score of every rating (0 = not rated), for Bayesian popularity.
    - ``last_activity`` (float64, Unix seconds): the newest positive event per user and movie, for trending.
    - ``exclude`` (bool): what must never be recommended to the user: rated, favorited, watched or hidden.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    confidence: sp.csr_matrix
    ratings: sp.csr_matrix
    last_activity: sp.csr_matrix
    exclude: sp.csr_matrix

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def user_rows(self, user_ids) -> np.ndarray:
        """Row index of each external user id; raises ``KeyError`` for an id that is not in the matrix."""
        return _positions(self.user_ids, np.asarray(user_ids), "user")

    def item_columns(self, item_ids) -> np.ndarray:
        """Column index of each external item id; raises ``KeyError`` for an id that is not in the matrix."""
        return _positions(self.item_ids, np.asarray(item_ids), "item")


def build_interactions(
    *,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    kinds: np.ndarray,
    values: np.ndarray,
    timestamps: np.ndarray,
    weights: InteractionWeights | None = None,
    all_user_ids: np.ndarray | None = None,
    all_item_ids: np.ndarray | None = None,
) -> Interactions:
    """Builds the interaction matrices from an event log given as parallel arrays (one entry per event).

    ``all_user_ids`` / ``all_item_ids`` fix the rows / columns (e.g. the whole catalog, so that movies nobody
    rated yet can still be recommended by content or popularity, or a fitted model's items when folding one
    user's new row in); by default they are the ids seen in the log. When a user rated a movie twice, the newest
    score counts.
    """
    weights = weights or InteractionWeights()
    kinds = np.asarray(kinds)
    values = np.asarray(values, dtype=np.float64)
    timestamps = np.asarray(timestamps, dtype=np.float64)
    row_ids = np.unique(np.asarray(user_ids) if all_user_ids is None else np.asarray(all_user_ids))
    column_ids = np.unique(np.asarray(item_ids) if all_item_ids is None else np.asarray(all_item_ids))
    rows = _positions(row_ids, np.asarray(user_ids), "user")
    columns = _positions(column_ids, np.asarray(item_ids), "item")
    shape = (len(row_ids), len(column_ids))

    def of_kind(kind: Kind) -> np.ndarray:
        return kinds == kind

    rated, favorited, watched, hidden = (of_kind(kind) for kind in Kind)
    ratings = _newest_per_pair(rows[rated], columns[rated], values[rated], timestamps[rated], shape)
    favorites = _count_matrix(rows[favorited], columns[favorited], shape)
    views = _count_matrix(rows[watched], columns[watched], shape)
    hides = _count_matrix(rows[hidden], columns[hidden], shape).astype(bool)

    rating_confidence = ratings.copy()
    rating_confidence.data = weights.rating_confidence(ratings.data)
    favorite_confidence = favorites.sign() * weights.favorite
    watch_confidence = views.copy()
    watch_confidence.data = (weights.watch * np.log2(1.0 + views.data)).astype(np.float32)
    confidence = _without(rating_confidence + favorite_confidence + watch_confidence, hides).astype(np.float32)

    positive = ~hidden
    last_activity = _without(
        _newest_per_pair(rows[positive], columns[positive], timestamps[positive], timestamps[positive], shape),
        hides,
    )
    exclude = (ratings + favorites + views + hides).astype(bool).tocsr()
    return Interactions(
        user_ids=row_ids,
        item_ids=column_ids,
        confidence=confidence,
        ratings=ratings.astype(np.float32),
        last_activity=last_activity,
        exclude=exclude,
    )


def _positions(vocabulary: np.ndarray, ids: np.ndarray, what: str) -> np.ndarray:
    """Index of each id in the sorted ``vocabulary``, vectorised."""
    positions = np.searchsorted(vocabulary, ids)
    positions = np.minimum(positions, max(len(vocabulary) - 1, 0))
    known = vocabulary[positions] == ids if len(vocabulary) else np.zeros(len(ids), dtype=bool)
    if not np.all(known):
        raise KeyError(f"{np.count_nonzero(~known)} {what} id(s) not in the matrix, e.g. {ids[~known][0]!r}")
    return positions


def _count_matrix(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """How many events each (user, item) pair has; duplicates add up."""
    ones = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((ones, (rows, columns)), shape=shape)


def _newest_per_pair(
    rows: np.ndarray, columns: np.ndarray, values: np.ndarray, timestamps: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """The value of the newest event of each (user, item) pair (the later one in the log on a tie).

    A stable sort by pair alone, which is near-linear on a log that arrives grouped by user as the database
    returns it; only pairs that occur more than once are then ordered by time. Sorting all events by (pair,
    time) cost most of the load step at ML-20M size. The pairs come out in row-major order, so the CSR matrix
    is assembled directly."""
    pair = rows.astype(np.int64) * shape[1] + columns
    order = np.argsort(pair, kind="stable")
    sorted_pair = pair[order]
    is_last = np.append(sorted_pair[1:] != sorted_pair[:-1], True) if len(pair) else np.zeros(0, dtype=bool)
    is_first = np.append(True, is_last[:-1]) if len(pair) else is_last
    repeated = np.flatnonzero(~(is_first & is_last))
    if len(repeated):
        # The runs of repeated pairs, each ordered by time; the stable sort keeps log order on a tie.
        events = order[repeated]
        order[repeated] = events[np.lexsort((timestamps[events], pair[events]))]
    newest = order[is_last]
    pair = sorted_pair[is_last]
    pair_rows = pair // shape[1]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_matrix((values[newest], pair % shape[1], indptr), shape=shape)


def _without(matrix: sp.csr_matrix, mask: sp.csr_matrix) -> sp.csr_matrix:
    """``matrix`` without the entries under ``mask`` (removed, not stored as zeros)."""
    if mask.nnz == 0:  # the usual case, and looking up 20 million entries in an empty mask is not free
        return sp.csr_matrix(matrix)
    entries = matrix.tocoo()
    kept = ~np.asarray(mask[entries.row, entries.col], dtype=bool).ravel()
    return sp.csr_matrix((entries.data[kept], (entries.row[kept], entries.col[kept])), shape=matrix.shape)
