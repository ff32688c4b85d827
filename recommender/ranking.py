"""From scores to ranked lists: top-k with exclusions, a diversity re-rank, and "because you rated X"
explanations (pure numpy/scipy)."""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

NO_ITEM = -1


def top_k(scores: np.ndarray, k: int, *, exclude: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items of every row, best first, as ``(items, scores)`` arrays of shape ``batch × k``.

    Items under ``exclude`` (same shape as ``scores``) and items scored ``-inf`` are never returned; a row with
    fewer than ``k`` such items is padded with ``NO_ITEM`` and ``-inf``. Ties go to the lower item index, so
    results are deterministic.
    """
    # A negated copy, so that exclusions can be written into it and argpartition's smallest are the best.
    negated = np.negative(scores, dtype=np.float32)
    n_rows, n_items = negated.shape
    if exclude is not None:
        excluded = exclude.tocoo()
        negated[excluded.row, excluded.col] = np.inf
    k = min(k, n_items)
    if k == 0:
        return np.full((n_rows, 0), NO_ITEM), np.zeros((n_rows, 0), dtype=np.float32)
    candidates = np.argpartition(negated, k - 1, axis=1)[:, :k] if k < n_items else np.arange(n_items)[None, :]
    candidates = np.broadcast_to(candidates, (n_rows, k))
    candidate_scores = -np.take_along_axis(negated, candidates, axis=1)
    order = np.lexsort((candidates, -candidate_scores), axis=1)
    items = np.take_along_axis(candidates, order, axis=1)
    best = np.take_along_axis(candidate_scores, order, axis=1)
    items = np.where(np.isneginf(best), NO_ITEM, items)
    return items, best


def diversify(
    items: np.ndarray, scores: np.ndarray, k: int, *, item_vectors: np.ndarray, penalty: float
) -> tuple[np.ndarray, np.ndarray]:
    """Re-ranks each row's candidates (best first, e.g. the top ``3k``) into ``k``, trading relevance for variety.

    Greedy maximal marginal relevance (Carbonell & Goldstein 1998): each next pick maximises
    ``relevance − penalty × (max cosine to the items already picked)``, where relevance is the candidate's score
    scaled to ``[0, 1]`` within its row and ``item_vectors`` are unit-length item descriptions (e.g. genres). A
    run of near-identical movies then costs more the longer it gets. ``penalty = 0`` keeps the original order.
    Vectorised over the rows: the Python loop runs ``k`` times, not once per user or candidate.
    """
    n_rows, n_candidates = items.shape
    k = min(k, n_candidates)
    valid = items != NO_ITEM
    relevance = _scaled_per_row(np.where(valid, scores, -np.inf))
    vectors = item_vectors[np.where(valid, items, 0)]  # rows × candidates × dimensions
    closest_pick = np.zeros((n_rows, n_candidates), dtype=np.float32)
    unavailable = ~valid
    picks = np.full((n_rows, k), NO_ITEM)
    rows = np.arange(n_rows)
    gain = np.empty((n_rows, n_candidates), dtype=np.float32)
    # One batched matrix-vector product per pick: the chosen candidate's cosine to every other of its row. These
    # are hundreds of tiny products, where BLAS threads only add hand-offs: on one thread this is several times
    # faster than an all-pairs product up front (rows × candidates² floats) on two.
    with threadpool_limits(1, "blas"):
        for position in range(k):
            np.multiply(closest_pick, np.float32(penalty), out=gain)
            np.subtract(relevance, gain, out=gain)
            gain[unavailable] = -np.inf
            choice = np.argmax(gain, axis=1)
            # A row with nothing left keeps picking nothing; its closest_pick no longer matters.
            has_choice = ~unavailable[rows, choice]
            picks[:, position] = np.where(has_choice, choice, NO_ITEM)
            unavailable[rows, choice] = True
            similarity = np.matmul(vectors, vectors[rows, choice][:, :, None])[:, :, 0]
            np.maximum(closest_pick, similarity, out=closest_pick)
    picked = picks != NO_ITEM
    safe = np.where(picked, picks, 0)
    new_items = np.where(picked, np.take_along_axis(items, safe, axis=1), NO_ITEM)
    new_scores = np.where(picked, np.take_along_axis(scores, safe, axis=1), -np.inf).astype(np.float32)
    return new_items, new_scores


def _scaled_per_row(scores: np.ndarray) -> np.ndarray:
    """Scores mapped linearly onto ``[0, 1]`` within each row (``-inf`` entries are ignored and become 0)."""
    finite = np.isfinite(scores)
    low = np.where(finite, scores, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, scores, -np.inf).max(axis=1, keepdims=True)
    spread = np.where(high > low, high - low, 1.0)
    return np.where(finite, (scores - low) / spread, 0.0).astype(np.float32)


@dataclass(frozen=True)
class Explanation:
    """Why an item was recommended: the user's item that added the most to its score, and its share of the
    positive evidence (0–1), to build "Because you rated Alien 5★"."""

    item: int
    because_item: int
    share: float


def explain(*, user_items: np.ndarray, contributions: np.ndarray, items: np.ndarray) -> list[Explanation | None]:
    """For each of ``items``, the user's item that contributed most to its score.

    ``contributions[j, i]`` is how much the user's ``user_items[j]`` added to the score of ``items[i]`` (see
    ``CollaborativeRecommender.contributions``). ``None`` where nothing the user did counts in favour of the item.
    """
    if len(user_items) == 0:
        return [None] * len(items)
    strongest = np.argmax(contributions, axis=0)
    strongest_value = contributions[strongest, np.arange(len(items))]
    positive_total = np.clip(contributions, 0.0, None).sum(axis=0)
    return [
        Explanation(item=int(item), because_item=int(user_items[source]), share=float(value / total))
        if value > 0
        else None
        for item, source, value, total in zip(items, strongest, strongest_value, positive_total, strict=True)
    ]
