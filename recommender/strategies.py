"""Recommendation strategies: each user's candidates, computed once with the production model, and re-rankers
that order them for a strategy (pure numpy; no Django).

A user's stored list is their **balanced** list (exactly what the production hybrid ranks: its top
``BALANCED_LENGTH``, diversity re-rank included) followed by ``EXTRA_CANDIDATES`` more of their most relevant
movies that the re-rank left out. Each candidate carries its relevance (the blended score), its familiarity (the
percentile of the movie's popularity, "how many people liked it", in the catalog) and its genres, which is all
the re-rankers need, so serving re-ranks one user's candidates without the model:

- ``BALANCED``: the production order.
- ``FAMILIAR``: relevance plus ``FAMILIAR_WEIGHT`` × familiarity (well-known, well-rated movies the model is
  sure of), without the variety re-rank.
- ``DISCOVERY``: relevance minus ``DISCOVERY_TAIL_WEIGHT`` × familiarity (the long tail), then a stronger genre
  variety re-rank (``DISCOVERY_DIVERSITY``).

Relevance is scaled to [0, 1] within each user's candidates before it is combined, so the weights mean the same
for every user. ``evaluate_recommender --strategy`` measures the three (docs/recommender.md).
"""

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import scipy.sparse as sp

from recommender.algorithms.hybrid import Hybrid, Recommendations
from recommender.ranking import NO_ITEM, _scaled_per_row, diversify

BALANCED_LENGTH = 100
EXTRA_CANDIDATES = 60
FAMILIAR_WEIGHT = 0.5
DISCOVERY_TAIL_WEIGHT = 0.5
DISCOVERY_DIVERSITY = 0.4
COLD_START_INTERACTIONS = 10
COLD_START_BOOST = 0.5
NOT_BALANCED = 255  # ``place`` of a candidate outside the balanced list
GENRE_BITS = 32  # genres beyond the 32nd (by id) count as none in the variety re-rank


class Strategy(StrEnum):
    """How a user's list is ordered (the values are the users app's profile choices)."""

    BALANCED = "balanced"
    FAMILIAR = "familiar"
    DISCOVERY = "discovery"


@dataclass(frozen=True)
class Pool:
    """A batch of users' candidates, ``batch × (BALANCED_LENGTH + EXTRA_CANDIDATES)``: the balanced list in its
    order, then the extra candidates by relevance; ``NO_ITEM`` pads a short row."""

    items: np.ndarray
    relevance: np.ndarray
    sources: np.ndarray
    place: np.ndarray  # position in the balanced list, NOT_BALANCED for the extra candidates


def candidate_pool(
    model: Hybrid,
    user_rows: sp.csr_matrix,
    *,
    exclude: sp.csr_matrix | None,
    favorite_genres: sp.csr_matrix | None = None,
    length: int = BALANCED_LENGTH,
    extra: int = EXTRA_CANDIDATES,
) -> Pool:
    """Each user's candidates with one blend of the model: its relevance ranking (no re-rank) to the depth the
    production re-rank reads, the production re-rank applied to it (as ``Hybrid.recommend`` does), then the
    most relevant movies the re-rank left out."""
    personalised = np.diff(user_rows.indptr) > 0
    depth = length * model.candidate_factor if model.diversity > 0 else length
    plain = model.with_settings(weights=model.weights, diversity=0.0)
    ranked = plain.recommend(user_rows, k=max(depth, length + extra), exclude=exclude, favorite_genres=favorite_genres)
    ranked = _declared_genres_first(model, ranked, user_rows, favorite_genres, personalised)
    n_rows, width = ranked.items.shape
    if model.diversity > 0 and personalised.any():
        diverse, _ = diversify(
            ranked.items[:, :depth],
            ranked.scores[:, :depth],
            length,
            item_vectors=model.genre_vectors,
            penalty=model.diversity,
        )
        balanced = np.where(personalised[:, None], diverse, ranked.items[:, : diverse.shape[1]])
    else:
        balanced = ranked.items[:, :length]
    # Where each balanced pick sits in the relevance ranking (rows offset so that one search serves the batch).
    stride = max(int(ranked.items.max(initial=0)) + 2, 2)
    keys = ranked.items + 1 + stride * np.arange(n_rows)[:, None]
    order = np.argsort(keys, axis=None)
    wanted = (balanced + 1 + stride * np.arange(n_rows)[:, None]).ravel()
    found = order[np.searchsorted(keys.ravel(), wanted, sorter=order)] % width
    balanced_positions = np.where(balanced != NO_ITEM, found.reshape(balanced.shape), -1)
    in_balanced = np.zeros((n_rows, width), dtype=bool)
    rows = np.repeat(np.arange(n_rows), balanced.shape[1])
    picked = balanced_positions.ravel() >= 0
    in_balanced[rows[picked], balanced_positions.ravel()[picked]] = True
    left_out = np.argsort(in_balanced | (ranked.items == NO_ITEM), axis=1, kind="stable")[:, :extra]
    left_out = np.where(np.take_along_axis(in_balanced, left_out, axis=1), -1, left_out)
    positions = np.concatenate([balanced_positions, left_out], axis=1)
    valid = positions >= 0
    safe = np.maximum(positions, 0)
    place = np.full(positions.shape, NOT_BALANCED, dtype=np.uint8)
    place[:, : balanced.shape[1]] = np.arange(balanced.shape[1])
    return Pool(
        items=np.where(valid, np.take_along_axis(ranked.items, safe, axis=1), NO_ITEM),
        relevance=np.where(valid, np.take_along_axis(ranked.scores, safe, axis=1), -np.inf).astype(np.float32),
        sources=np.where(valid, np.take_along_axis(ranked.sources, safe, axis=1), -1).astype(np.int8),
        place=np.where(valid, place, NOT_BALANCED).astype(np.uint8),
    )


def _declared_genres_first(
    model: Hybrid,
    ranked: Recommendations,
    user_rows: sp.csr_matrix,
    favorite_genres: sp.csr_matrix | None,
    personalised: np.ndarray,
) -> Recommendations:
    """Cold start: for a user with fewer than ``COLD_START_INTERACTIONS`` interactions and declared favorite
    genres, candidates in those genres gain ``COLD_START_BOOST × (1 − interactions / COLD_START_INTERACTIONS)``
    on their relevance scaled to the row's best, and the rows are sorted again. A handful of ratings says little,
    and what people told us they like should show at once; the boost fades as their history grows. Nobody in
    the offline protocol declares genres, so it changes no figure there."""
    if favorite_genres is None or favorite_genres.nnz == 0:
        return ranked
    interactions = np.diff(user_rows.indptr)
    fading = np.clip(1.0 - interactions / COLD_START_INTERACTIONS, 0.0, 1.0)
    fading[~personalised | (np.diff(sp.csr_matrix(favorite_genres).indptr) == 0)] = 0.0
    if not fading.any():
        return ranked
    valid = ranked.items != NO_ITEM
    in_declared = (favorite_genres.sign() @ model.content.item_vectors.sign().T).toarray() > 0
    listed_in_declared = np.take_along_axis(in_declared, np.maximum(ranked.items, 0), axis=1) & valid
    best = np.where(valid, ranked.scores, 0.0).max(axis=1, keepdims=True)
    scaled = np.divide(ranked.scores, best, out=np.zeros_like(ranked.scores), where=(best > 0) & valid)
    boosted = np.where(valid, scaled + COLD_START_BOOST * fading[:, None] * listed_in_declared, -np.inf)
    order = np.argsort(-boosted, axis=1, kind="stable")
    cold = (fading > 0)[:, None]  # everyone else keeps their row as it was
    return Recommendations(
        items=np.where(cold, np.take_along_axis(ranked.items, order, axis=1), ranked.items),
        scores=np.where(cold, np.take_along_axis(boosted, order, axis=1), ranked.scores).astype(np.float32),
        sources=np.where(cold, np.take_along_axis(ranked.sources, order, axis=1), ranked.sources),
    )


def familiarity(popularity: np.ndarray) -> np.ndarray:
    """Each item's popularity as a percentile of the catalog's, 0 (least liked) to 1 (most liked); ties share
    their lowest percentile."""
    if len(popularity) < 2:
        return np.ones(len(popularity), dtype=np.float32)
    ranks = np.searchsorted(np.sort(popularity), popularity, side="left")
    return (ranks / (len(popularity) - 1)).astype(np.float32)


def genre_bits(item_genres: sp.csr_matrix) -> np.ndarray:
    """Items × genres (binary) as one uint32 bitmask per item (the first ``GENRE_BITS`` genres)."""
    columns = min(item_genres.shape[1], GENRE_BITS)
    weights = (np.uint64(1) << np.arange(columns, dtype=np.uint64)).astype(np.float64)
    return (item_genres[:, :columns].sign() @ weights).astype(np.uint32)


def genre_vectors_from_bits(bits: np.ndarray) -> np.ndarray:
    """Unit-length genre vectors (rows of zeros for movies without genres) from ``genre_bits`` masks."""
    vectors = ((bits[:, None].astype(np.uint64) >> np.arange(GENRE_BITS, dtype=np.uint64)) & np.uint64(1)).astype(
        np.float32
    )
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def rerank(
    strategy: Strategy,
    items: np.ndarray,
    relevance: np.ndarray,
    *,
    familiarity: np.ndarray,
    item_vectors: np.ndarray,
    k: int,
) -> np.ndarray:
    """The top ``k`` of each row's candidates for ``strategy``, as positions into the row (``-1`` pads).

    ``items`` (batch × candidates, ``NO_ITEM`` pads) index ``item_vectors``; ``relevance`` and ``familiarity``
    are per candidate. Candidates come in the balanced order, which ``BALANCED`` keeps.
    """
    n_rows, n_candidates = items.shape
    k = min(k, n_candidates)
    valid = items != NO_ITEM
    positions = np.broadcast_to(np.arange(n_candidates), items.shape)
    if strategy == Strategy.BALANCED:
        return np.where(valid, positions, -1)[:, :k]
    scaled = _scaled_per_row(np.where(valid, relevance, -np.inf))
    # Within the row too: a user's candidates are mostly well-known movies, and the spread among them is what
    # a strategy can use.
    familiarity = _scaled_per_row(np.where(valid, familiarity, -np.inf))
    if strategy == Strategy.FAMILIAR:
        value = np.where(valid, scaled + FAMILIAR_WEIGHT * familiarity, -np.inf)
        order = np.lexsort((positions, -value), axis=1)[:, :k]
        return np.where(np.take_along_axis(valid, order, axis=1), order, -1)
    value = np.where(valid, scaled - DISCOVERY_TAIL_WEIGHT * familiarity, -np.inf).astype(np.float32)
    # The variety re-rank over positions, each position's vector looked up through its item.
    vectors = item_vectors[np.where(valid, items, 0)]
    picks = np.full((n_rows, k), -1)
    for row in range(n_rows):
        local, _ = diversify(
            np.where(valid[row], np.arange(n_candidates), NO_ITEM)[None, :],
            value[row][None, :],
            k,
            item_vectors=vectors[row],
            penalty=DISCOVERY_DIVERSITY,
        )
        picks[row, : local.shape[1]] = local[0]
    return picks


def reorder_entries(entries: np.ndarray, strategy: Strategy, *, k: int) -> np.ndarray:
    """One user's stored candidates (``store.ENTRY`` records: balanced order, then the extra candidates) in the
    order of ``strategy``, the first ``k``: ``rerank`` over the records' own relevance, familiarity and genres."""
    if strategy == Strategy.BALANCED or len(entries) == 0:
        return entries[:k]
    order = rerank(
        strategy,
        np.arange(len(entries))[None, :],
        entries["score"][None, :],
        familiarity=entries["familiarity"][None, :] / np.float32(255),
        item_vectors=genre_vectors_from_bits(entries["genres"]),
        k=k,
    )[0]
    return entries[order[order >= 0]]
