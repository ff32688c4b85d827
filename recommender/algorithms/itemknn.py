"""Item-kNN: cosine item-item similarity pruned to each item's nearest neighbours (Sarwar et al. 2001, Deshpande &
Karypis 2004) — the classic baseline, and a collaborative model whose memory grows linearly with the catalog."""

from typing import Self

import numpy as np
import scipy.sparse as sp

from recommender.algorithms.base import CollaborativeRecommender, l2_normalize_rows


class ItemKNN(CollaborativeRecommender):
    """``score(u, i) = Σ_j x_uj · sim(j, i)`` over the ``neighbours`` items most similar to ``i``.

    Similarity is the cosine between item columns of the confidence matrix. It is computed a block of target items
    at a time, so only ``n_items × block_items`` dense floats exist at once and the kept matrix has at most
    ``neighbours × n_items`` entries: a fallback that scales where EASE's dense items × items matrix does not.
    """

    name = "itemknn"
    hyperparameters = ("neighbours", "block_items")
    fitted_attributes = ("similarity",)

    def __init__(self, *, neighbours: int = 50, block_items: int = 2048):
        self.neighbours = neighbours
        self.block_items = block_items
        self.similarity: sp.csr_matrix | None = None

    def fit(self, confidence: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> Self:
        item_vectors = l2_normalize_rows(sp.csr_matrix(confidence.T, dtype=np.float32))
        n_items = item_vectors.shape[0]
        keep = min(self.neighbours, max(n_items - 1, 1))
        blocks = [
            self._nearest_neighbours(item_vectors, np.arange(start, min(start + self.block_items, n_items)), keep)
            for start in range(0, n_items, self.block_items)
        ]
        neighbours_of = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, 0), dtype=np.float32)
        # Row i lists i's neighbours j; scoring needs sim(j, i) at [j, i].
        self.similarity = neighbours_of.T.tocsr()
        return self

    @staticmethod
    def _nearest_neighbours(item_vectors: sp.csr_matrix, targets: np.ndarray, keep: int) -> sp.csr_matrix:
        """Rows ``targets`` of the similarity matrix, each with only its ``keep`` largest positive entries (all
        of them when several tie for the last place)."""
        similarity = (item_vectors[targets] @ item_vectors.T).toarray()
        similarity[np.arange(len(targets)), targets] = 0.0  # an item is not its own neighbour
        # A full sort finds each row's k-th largest value faster than argpartition, which has no SIMD path.
        kth_largest = np.sort(similarity, axis=1)[:, similarity.shape[1] - keep]
        kept = (similarity >= kth_largest[:, None]) & (similarity > 0)
        rows, columns = np.nonzero(kept)
        return sp.csr_matrix((similarity[rows, columns], (rows, columns)), shape=similarity.shape, dtype=np.float32)

    def score(self, user_rows: sp.csr_matrix) -> np.ndarray:
        return (user_rows.astype(np.float32) @ self.similarity).toarray()

    def contributions(self, user_row: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        similarity = self.similarity[user_row.indices][:, np.asarray(items)].toarray()
        return user_row.data[:, None].astype(np.float32) * similarity
