"""EASE: Embarrassingly Shallow Autoencoder (H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
WWW 2019) — a closed-form item × item linear model, the strongest cheap collaborative model for catalogs that fit
in memory."""

from typing import Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recommender.algorithms.base import CollaborativeRecommender
from recommender.algorithms.sessions import session_gram


def ease_weights(gram: np.ndarray, l2: float | np.ndarray, *, emphasis: bool = True) -> np.ndarray:
    """``B = I − P·diag(1/diag(P))`` with ``P = (G + Λ)⁻¹``, i.e. ``B_ij = −P_ij / P_jj`` and ``diag(B) = 0``;
    ``Λ = λI`` for a number ``l2``, ``diag(l2)`` for a vector (one penalty per item, as EDLAE's). Without
    ``emphasis``, DLAE's unconstrained ``B = (G + Λ)⁻¹G = I − P·Λ``, i.e. ``B_ij = −P_ij · Λ_jj`` off the
    diagonal; its diagonal (an item's weight on itself, which never scores an item the user has not seen) is
    zeroed too.

    ``gram`` (``XᵀX``, float32) is overwritten: at 15k items every extra n × n copy is another 900 MB. The
    inverse goes through a Cholesky factorisation, which is twice as fast as a general inverse and exact for this
    symmetric positive definite matrix.
    """
    gram[np.diag_indices_from(gram)] += l2
    # Symmetric, so the C-ordered array's transpose is the Fortran-ordered matrix LAPACK works on in place.
    factor, info = scipy.linalg.lapack.spotrf(gram.T, lower=False, overwrite_a=True, clean=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"XᵀX + λI is not positive definite (spotrf info={info}); increase λ")
    inverse, info = scipy.linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (spotri info={info})")
    _mirror_upper_triangle(inverse)
    # P is symmetric, so its transpose — a free C-ordered view — is P too; scoring (sparse rows × B) would
    # otherwise copy a Fortran-ordered B on every call.
    weights = inverse.T
    if emphasis:
        weights /= -weights.diagonal().copy()
    else:
        weights *= -np.broadcast_to(np.asarray(l2, dtype=np.float32), weights.shape[:1])
    np.fill_diagonal(weights, 0.0)
    return weights


def _mirror_upper_triangle(matrix: np.ndarray, block_rows: int = 1024) -> None:
    """Copies the upper triangle onto the lower one in place, a block of rows at a time (spotri fills only the
    upper triangle, and a full-size temporary would double the peak memory)."""
    for start in range(0, matrix.shape[0], block_rows):
        end = min(start + block_rows, matrix.shape[0])
        matrix[start:end, :start] = matrix[:start, start:end].T
        diagonal_block = matrix[start:end, start:end]
        diagonal_block[np.tril_indices(end - start, -1)] = diagonal_block.T[np.tril_indices(end - start, -1)]


class EASE(CollaborativeRecommender):
    """Item-item weights fitted in closed form; ``score = x_u · B``.

    Size limit: B is dense, items × items. The model keeps items with at least ``min_item_users`` interacting
    users (a weight learnt from one or two users is noise, and such items are almost never relevant) and at most
    ``max_items`` of them, the most interacted first: 15,000 items is a 900 MB float32 matrix whose inversion
    takes under a minute on two cores; ml-latest-small (≈4.5k kept items) inverts in about a second, ML-20M's
    27k movies are cut to their 15k most rated. Items outside the kept set score ``-inf`` (left to content and
    popularity in the hybrid).

    ``l2`` is λ in units of one binary interaction: it is multiplied by the mean squared confidence, so that the
    confidence weighting (``InteractionWeights``) does not change the regularisation's strength. Steck used 500 on
    ML-20M and RecBole's ML-1M configuration uses 250; on ml-latest-small's validation split the optimum is flat
    from 100 to 200 (docs/recommender.md).
    """

    name = "ease"
    hyperparameters = ("l2", "min_item_users", "max_items", "session_minutes", "cross_session")
    # EASE's zero-diagonal form of the weights (``ease_weights``).
    emphasis = True
    fitted_attributes = ("n_items", "items", "weights")

    def __init__(
        self,
        *,
        l2: float = 200.0,
        min_item_users: int = 3,
        max_items: int = 15_000,
        session_minutes: float | None = None,
        cross_session: float = 0.5,
    ):
        self.l2 = l2
        self.min_item_users = min_item_users
        self.max_items = max_items
        self.session_minutes = session_minutes
        self.cross_session = cross_session
        self.n_items: int | None = None
        self.items: np.ndarray | None = None
        self.weights: np.ndarray | None = None

    def fit(self, confidence: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> Self:
        """With ``session_minutes`` and ``timestamps`` (each entry's time, ``Interactions.last_activity``), ``XᵀX``
        is the session-weighted ``sessions.session_gram``; otherwise the plain one."""
        users_per_item = np.diff(confidence.tocsc().indptr)
        eligible = np.flatnonzero(users_per_item >= self.min_item_users)
        most_interacted = np.argsort(-users_per_item[eligible], kind="stable")[: self.max_items]
        self.n_items = confidence.shape[1]
        self.items = np.sort(eligible[most_interacted])
        kept = confidence[:, self.items].astype(np.float32)
        if self.session_minutes and timestamps is not None:
            gram = session_gram(
                kept,
                timestamps[:, self.items],
                tau_seconds=60.0 * self.session_minutes,
                cross_session=self.cross_session,
            )
        else:
            gram = (kept.T @ kept).toarray()
        l2 = self.l2 * float(np.mean(np.square(kept.data))) if kept.nnz else self.l2
        penalty = self.penalty(gram, l2)
        self.weights = (
            ease_weights(gram, penalty, emphasis=self.emphasis)
            if len(self.items)
            else np.zeros((0, 0), dtype=np.float32)
        )
        return self

    def penalty(self, gram: np.ndarray, l2: float) -> float | np.ndarray:
        """What is added to the diagonal of ``XᵀX``: the same λ for every item."""
        return l2

    def score(self, user_rows: sp.csr_matrix) -> np.ndarray:
        scores = np.full((user_rows.shape[0], self.n_items), -np.inf, dtype=np.float32)
        scores[:, self.items] = user_rows[:, self.items].astype(np.float32) @ self.weights
        return scores

    def contributions(self, user_row: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        source_positions = _positions_in(self.items, user_row.indices)
        target_positions = _positions_in(self.items, np.asarray(items))
        # One gather of the user's rows of ``B`` at the listed columns; items the model does not know add nothing.
        contributions = self.weights[np.ix_(np.maximum(source_positions, 0), np.maximum(target_positions, 0))]
        contributions[source_positions < 0] = 0.0
        contributions[:, target_positions < 0] = 0.0
        contributions *= user_row.data[:, None].astype(np.float32)
        return contributions


def _positions_in(sorted_items: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Position of each item in ``sorted_items``, ``-1`` when absent."""
    positions = np.minimum(np.searchsorted(sorted_items, items), max(len(sorted_items) - 1, 0))
    found = sorted_items[positions] == items if len(sorted_items) else np.zeros(len(items), dtype=bool)
    return np.where(found, positions, -1)


class DLAE(EASE):
    """A full-rank linear autoencoder trained with dropout (H. Steck, "Autoencoders that don't overfit towards
    the Identity", NeurIPS 2020): dropping each input item with probability ``p`` regularises like the penalty
    ``Λ = λI + p / (1 − p) · diag(XᵀX)``, and the closed form is ``B = (XᵀX + Λ)⁻¹XᵀX = I − P·Λ`` (no zero-
    diagonal constraint needed: the dropout keeps ``B`` away from the identity).

    An item's penalty grows with its own interactions, so the weights lean less on popular items than EASE's
    single λ lets them: on ml-latest-small's validation splits this raised both nDCG@10 and catalog coverage over
    EASE (docs/recommender.md). Fit and memory are EASE's: ``O(items³)`` time, one dense items × items matrix.
    """

    name = "dlae"
    hyperparameters = ("l2", "dropout", "min_item_users", "max_items", "session_minutes", "cross_session")
    # EDLAE's emphasis on the dropped-out items turns the same penalty into EASE's zero-diagonal form.
    emphasis = False

    def __init__(self, *, dropout: float = 0.33, session_minutes: float | None = 5.0, **ease_parameters):
        """``dropout``, and EASE's hyperparameters; the session weighting is on by default here."""
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1): {dropout}")
        super().__init__(session_minutes=session_minutes, **ease_parameters)
        self.dropout = dropout

    def penalty(self, gram: np.ndarray, l2: float) -> np.ndarray:
        return l2 + np.float32(self.dropout / (1.0 - self.dropout)) * gram.diagonal().astype(np.float32)


class EDLAE(DLAE):
    """DLAE with full emphasis on the dropped-out items (Steck 2020, the full-rank EDLAE): the same per-item
    penalty in EASE's form, ``B = I − P·diag(1/diag(P))`` with ``P = (XᵀX + Λ)⁻¹`` and ``diag(B) = 0``."""

    name = "edlae"
    emphasis = True
