"""What every recommender model shares: the scoring contract and saving a fitted model to one ``.npz`` file."""

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp


class Recommender(ABC):
    """A fitted model turns users' interaction rows into a score for every item.

    ``score`` takes a CSR batch of user rows (confidence weights, ``Interactions.confidence`` rows or a freshly
    built row for one user) and returns a dense float32 ``batch × n_items`` array; higher is better and ``-inf``
    marks items the model cannot score. Callers score in batches (a few thousand users at a time), never all
    users at once.
    """

    name: ClassVar[str]
    # What ``save`` writes and ``load_model`` restores: constructor arguments, then fitted attributes (arrays,
    # sparse matrices or numbers).
    hyperparameters: ClassVar[tuple[str, ...]] = ()
    fitted_attributes: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def score(self, user_rows: sp.csr_matrix) -> np.ndarray: ...

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-able parameters and the fitted arrays: everything needed to rebuild the model."""
        params = {name: getattr(self, name) for name in self.hyperparameters}
        arrays: dict[str, np.ndarray] = {}
        for name in self.fitted_attributes:
            value = getattr(self, name)
            arrays.update(pack_csr(name, value) if sp.issparse(value) else {name: np.asarray(value)})
        return params, arrays

    @classmethod
    def from_state(cls, params: dict, arrays: dict[str, np.ndarray]) -> Self:
        model = cls(**params)
        for name in cls.fitted_attributes:
            setattr(model, name, unpack_csr(name, arrays) if f"{name}_indptr" in arrays else arrays[name])
        return model

    def save(self, path: str | Path) -> None:
        params, arrays = self.state()
        np.savez(path, algorithm=np.array(self.name), params=np.array(json.dumps(params)), **arrays)


class CollaborativeRecommender(Recommender):
    """A model learnt from everyone's interactions whose scores decompose over the user's own items."""

    @abstractmethod
    def fit(self, confidence: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> Self:
        """Learns from ``confidence`` (users × items); ``timestamps`` (the same shape: each entry's time in Unix
        seconds, ``Interactions.last_activity``) is for models that weigh interactions by when they happened
        (``DLAE``'s session weighting); the others ignore it."""

    @abstractmethod
    def contributions(self, user_row: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        """``(n_user_items × len(items))``: how much each of the user's items (in ``user_row.indices`` order)
        adds to each item's score; each column sums to that item's score. Feeds ``ranking.explain``."""

    def strongest_contributors(self, user_rows: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        """For a batch: ``items`` is ``batch × k`` item columns (negative = no item); returns, in the same
        shape, the column of the user's item that adds most to each item's score (the first one on a tie, as
        ``ranking.explain``), or -1 where nothing the user did adds to it. One ``contributions`` call per user;
        models that can do the whole batch at once override this."""
        user_rows = sp.csr_matrix(user_rows)
        strongest = np.full(items.shape, -1, dtype=np.int64)
        for row in range(user_rows.shape[0]):
            start, end = user_rows.indptr[row], user_rows.indptr[row + 1]
            listed = items[row] >= 0
            if start == end or not listed.any():
                continue
            user_row = sp.csr_matrix(
                (user_rows.data[start:end], user_rows.indices[start:end], [0, end - start]),
                shape=(1, user_rows.shape[1]),
            )
            contributions = self.contributions(user_row, items[row][listed])
            best = np.argmax(contributions, axis=0)
            positive = contributions[best, np.arange(len(best))] > 0
            strongest[row, listed] = np.where(positive, user_row.indices[best], -1)
        return strongest


def read_saved(path: str | Path) -> tuple[str, dict, dict[str, np.ndarray]]:
    """The algorithm name, parameters and arrays of a model written by ``Recommender.save``."""
    with np.load(path, allow_pickle=False) as saved:
        arrays = {key: saved[key] for key in saved.files if key not in ("algorithm", "params")}
        return str(saved["algorithm"]), json.loads(str(saved["params"])), arrays


def pack_csr(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays, so that it can sit in the same ``.npz`` as dense arrays."""
    return {
        f"{prefix}_data": matrix.data,
        f"{prefix}_indices": matrix.indices,
        f"{prefix}_indptr": matrix.indptr,
        f"{prefix}_shape": np.array(matrix.shape),
    }


def unpack_csr(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    parts = (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"])
    return sp.csr_matrix(parts, shape=tuple(arrays[f"{prefix}_shape"]))


def broadcast_rows(scores: np.ndarray, n_rows: int) -> np.ndarray:
    """The same item scores for every user of a batch (a read-only view, no copy per user)."""
    return np.broadcast_to(scores.astype(np.float32, copy=False), (n_rows, len(scores)))


def l2_normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row scaled to unit length (all-zero rows stay zero), so that dot products are cosines."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1), dtype=np.float64)).ravel()
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inverse.astype(np.float32)) @ matrix)
