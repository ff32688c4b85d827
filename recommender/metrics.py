"""Top-k ranking metrics with binary relevance, vectorised over users (pure numpy/scipy).

``recommended`` is a ``users × k`` array of item indices, best first, padded with ``ranking.NO_ITEM``;
``relevant`` is a ``users × items`` sparse matrix whose non-zero entries are the relevant (held-out) items.
Per-user functions return one value per row; users without any relevant item get NaN, and are left out of means.
"""

import numpy as np
import scipy.sparse as sp


def hits(recommended: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """``users × k`` booleans: is the item at each rank relevant?"""
    relevant = sp.csr_matrix(relevant != 0)
    relevant.sort_indices()  # row-major sorted keys for the binary search below
    n_items = relevant.shape[1]
    rows = np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr))
    relevant_keys = rows * n_items + relevant.indices
    recommended = np.asarray(recommended, dtype=np.int64)
    keys = np.arange(recommended.shape[0], dtype=np.int64)[:, None] * n_items + recommended
    positions = np.minimum(np.searchsorted(relevant_keys, keys), max(len(relevant_keys) - 1, 0))
    found = relevant_keys[positions] == keys if len(relevant_keys) else np.zeros(keys.shape, dtype=bool)
    return found & (recommended >= 0)


def relevant_counts(relevant: sp.csr_matrix) -> np.ndarray:
    return np.diff(sp.csr_matrix(relevant != 0).indptr)


def precision_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int) -> np.ndarray:
    """Relevant items among the top ``k``, divided by ``k`` (a list shorter than ``k`` is not excused)."""
    return _per_user(hits(recommended[:, :k], relevant).sum(axis=1) / k, relevant)


def recall_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int) -> np.ndarray:
    """Relevant items among the top ``k``, divided by the number of relevant items."""
    counts = relevant_counts(relevant)
    found = hits(recommended[:, :k], relevant).sum(axis=1)
    return _per_user(np.divide(found, counts, out=np.zeros(len(counts)), where=counts > 0), relevant)


def ndcg_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int) -> np.ndarray:
    """DCG with gain 1 per relevant item and discount ``1 / log2(rank + 1)``, divided by the ideal DCG (all
    ``min(k, |relevant|)`` first places relevant)."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    found = hits(recommended[:, :k], relevant)
    dcg = (found * discounts[: found.shape[1]]).sum(axis=1)
    ideal_places = np.minimum(relevant_counts(relevant), k)
    ideal_dcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_places]
    return _per_user(np.divide(dcg, ideal_dcg, out=np.zeros(len(dcg)), where=ideal_dcg > 0), relevant)


def average_precision_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int) -> np.ndarray:
    """Mean of precision@rank over the ranks that hold a relevant item, divided by ``min(k, |relevant|)`` (the
    most hits a top-``k`` list can have); its mean over users is MAP@k."""
    found = hits(recommended[:, :k], relevant)
    precision_at_rank = np.cumsum(found, axis=1) / np.arange(1, found.shape[1] + 1)
    attainable = np.minimum(relevant_counts(relevant), k)
    total = (precision_at_rank * found).sum(axis=1)
    return _per_user(np.divide(total, attainable, out=np.zeros(len(total)), where=attainable > 0), relevant)


def catalog_coverage(recommended: np.ndarray, n_items: int, k: int) -> float:
    """Share of the catalog that appears in at least one user's top ``k``."""
    shown = recommended[:, :k]
    return len(np.unique(shown[shown >= 0])) / n_items if n_items else 0.0


def novelty(recommended: np.ndarray, item_popularity: np.ndarray, n_users: int, k: int | None = None) -> np.ndarray:
    """Mean self-information ``−log2 p(i)`` of each top-``k`` list's items (Zhou et al. 2010), ``p(i)`` being the
    share of the ``n_users`` who interacted with ``i`` (``item_popularity``); an item nobody interacted with
    counts as one user's, so that it is the most novel but finite. Higher = less known. NaN for empty lists."""
    shown = recommended[:, :k] if k else recommended
    floor = 1.0 / max(n_users, 1)
    information = -np.log2(np.maximum(np.asarray(item_popularity, dtype=np.float64), floor))
    valid = shown >= 0
    total = np.where(valid, information[np.maximum(shown, 0)], 0.0).sum(axis=1)
    counts = valid.sum(axis=1)
    return np.divide(total, counts, out=np.full(len(shown), np.nan), where=counts > 0)


def intra_list_diversity(recommended: np.ndarray, item_vectors: sp.csr_matrix, k: int | None = None) -> np.ndarray:
    """Mean ``1 − cosine`` between the items of each top-``k`` list (e.g. over genre vectors: 0 = every movie
    has the same genres); NaN for lists with fewer than two items."""
    shown = recommended[:, :k] if k else recommended
    vectors = sp.csr_matrix(item_vectors, dtype=np.float64)
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1))).ravel()
    unit = (sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ vectors).toarray()
    valid = shown >= 0
    listed = np.where(valid[..., None], unit[np.maximum(shown, 0)], 0.0)
    similarity = np.einsum("uid,ujd->uij", listed, listed)
    pairs = valid[:, :, None] & valid[:, None, :] & ~np.eye(shown.shape[1], dtype=bool)
    pair_counts = pairs.sum(axis=(1, 2))
    distance = np.where(pairs, 1.0 - similarity, 0.0).sum(axis=(1, 2))
    return np.divide(distance, pair_counts, out=np.full(len(shown), np.nan), where=pair_counts > 0)


def _per_user(values: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    return np.where(relevant_counts(relevant) > 0, values, np.nan)
