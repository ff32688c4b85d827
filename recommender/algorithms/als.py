"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) through the ``implicit`` library: latent factors whose memory
grows linearly with the catalog, for catalogs beyond EASE's dense items × items limit."""

import os
from typing import Self

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from recommender.algorithms.base import CollaborativeRecommender


class ALS(CollaborativeRecommender):
    """Matrix factorisation of the confidence matrix (confidence ``1 + alpha·x``).

    Users are always folded in from their row (``score`` solves each user's least-squares problem against the
    item factors), so a fitted model is just its item factors and a user's new ratings count at once.
    ``num_threads`` is passed to ``implicit`` explicitly (default: the CPUs this process may use); BLAS is held to
    one thread while ``implicit`` runs its own threads, since the two pools together oversubscribe the cores.
    """

    name = "als"
    hyperparameters = ("factors", "regularization", "alpha", "iterations", "random_state")
    fitted_attributes = ("item_factors",)

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 30.0,
        alpha: float = 2.0,
        iterations: int = 15,
        num_threads: int | None = None,
        random_state: int = 0,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.num_threads = num_threads or len(os.sched_getaffinity(0))
        self.random_state = random_state
        self.item_factors: np.ndarray | None = None
        self._implicit_model: AlternatingLeastSquares | None = None

    def _model(self) -> AlternatingLeastSquares:
        if self._implicit_model is None:
            with threadpool_limits(1, "blas"):
                self._implicit_model = AlternatingLeastSquares(
                    factors=self.factors,
                    regularization=self.regularization,
                    alpha=self.alpha,
                    iterations=self.iterations,
                    num_threads=self.num_threads,
                    random_state=self.random_state,
                )
            if self.item_factors is not None:
                self._implicit_model.item_factors = self.item_factors
        return self._implicit_model

    def fit(self, confidence: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> Self:
        self._implicit_model, self.item_factors = None, None
        model = self._model()
        with threadpool_limits(1, "blas"):
            model.fit(sp.csr_matrix(confidence, dtype=np.float32), show_progress=False)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        return self

    def user_factors(self, user_rows: sp.csr_matrix) -> np.ndarray:
        """Each user's factors solved exactly (Cholesky) against the item factors."""
        rows = sp.csr_matrix(user_rows, dtype=np.float32)
        with threadpool_limits(1, "blas"):
            return self._model().recalculate_user(np.arange(rows.shape[0]), rows)

    def score(self, user_rows: sp.csr_matrix) -> np.ndarray:
        return self.user_factors(user_rows) @ self.item_factors.T

    def contributions(self, user_row: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        """``c_j · y_jᵀ W_u y_i`` with ``W_u = (YᵀC_uY + λI)⁻¹`` (Hu et al. 2008, section 5): the score of ``i`` is
        exactly the sum over the user's items ``j``."""
        row = sp.csr_matrix(user_row)
        return self._contributions(row.indices, row.data, np.asarray(items)).astype(np.float32)

    def strongest_contributors(self, user_rows: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        """As ``CollaborativeRecommender.strongest_contributors``, for the whole batch at once: every user's
        ``YᵀC_uY + λI`` is built (with ``YᵀY + λI`` computed once, not per user) and solved against that user's
        listed items in one batched LAPACK call; only the small products that differ in size per user (the
        user's items × the listed items) remain a loop."""
        user_rows = sp.csr_matrix(user_rows)
        items = np.asarray(items)
        strongest = np.full(items.shape, -1, dtype=np.int64)
        listed = items >= 0
        counts = np.diff(user_rows.indptr)
        explained = np.flatnonzero((counts > 0) & listed.any(axis=1))
        if len(explained) == 0:
            return strongest
        item_factors, base_system = self._solver_parts()
        systems = np.empty((len(explained), self.factors, self.factors))
        confidences = []
        with threadpool_limits(1, "blas"):  # 64 × 64 systems: a second BLAS thread only adds hand-offs
            for position, row in enumerate(explained):
                start, end = user_rows.indptr[row], user_rows.indptr[row + 1]
                user_item_factors = item_factors[user_rows.indices[start:end]]
                confidence = self.alpha * user_rows.data[start:end].astype(np.float64)
                systems[position] = base_system + (user_item_factors.T * (confidence - 1.0)) @ user_item_factors
                confidences.append(confidence)
            # W_u y_i for every listed item of every user (unlisted places solve for item 0 and are ignored).
            listed_factors = item_factors[np.where(listed[explained], items[explained], 0)].transpose(0, 2, 1)
            solved = np.linalg.solve(systems, listed_factors)
            for position, row in enumerate(explained):
                start, end = user_rows.indptr[row], user_rows.indptr[row + 1]
                user_items = user_rows.indices[start:end]
                row_listed = listed[row]
                contributions = confidences[position][:, None] * (item_factors[user_items] @ solved[position])
                contributions = contributions[:, row_listed]
                best = np.argmax(contributions, axis=0)
                positive = contributions[best, np.arange(len(best))] > 0
                strongest[row, row_listed] = np.where(positive, user_items[best], -1)
        return strongest

    def _contributions(self, user_items: np.ndarray, values: np.ndarray, items: np.ndarray) -> np.ndarray:
        item_factors, base_system = self._solver_parts()
        user_item_factors = item_factors[user_items]
        confidence = self.alpha * values.astype(np.float64)
        system = base_system + (user_item_factors.T * (confidence - 1.0)) @ user_item_factors
        # W_u y_i for the (at most a hundred) listed items, rather than W_u y_j for each of the user's items.
        solved = np.linalg.solve(system, item_factors[items].T)
        return confidence[:, None] * (user_item_factors @ solved)

    def _solver_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """The item factors in float64 and ``YᵀY + λI``, kept while the item factors stay the same."""
        cached = getattr(self, "_solver_cache", None)
        if cached is None or cached[0] is not self.item_factors:
            factors = self.item_factors.astype(np.float64)
            base_system = factors.T @ factors + self.regularization * np.eye(self.factors)
            self._solver_cache = (self.item_factors, factors, base_system)
            cached = self._solver_cache
        return cached[1], cached[2]
