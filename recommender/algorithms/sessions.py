"""Item co-occurrence weighted by time: two movies one person rated minutes apart say more about each other than
two they rated years apart (pure numpy/scipy).

``session_gram`` is the ``XᵀX`` of the linear autoencoders with each pair of one user's interactions weighted by
``cross_session + (1 − cross_session) · exp(−|t_i − t_j| / τ)``: pairs in the same sitting (within a few τ) count
fully, pairs from different sittings ``cross_session`` of that. The diagonal (each item with itself, Δt = 0) is
``XᵀX``'s, so penalties computed from it are unchanged. Only the pairs within ``WINDOW_TAUS × τ`` of each other are
visited (a pair further apart would add less than ``exp(−WINDOW_TAUS)`` of its weight): the cost grows with the
pairs rated in one sitting, not with every pair of a user's history.
"""

import numpy as np
import scipy.sparse as sp

# Pairs further apart than this many τ are left at the cross-session weight (e^−10 ≈ 5·10⁻⁵ of the rest missed).
WINDOW_TAUS = 10.0
# Pairs gathered at once while walking the sorted entries (three arrays of this many float64 / int64 values).
PAIR_BATCH = 4_000_000


def session_gram(
    confidence: sp.csr_matrix, timestamps: sp.csr_matrix, *, tau_seconds: float, cross_session: float
) -> np.ndarray:
    """Dense float32 ``n_items × n_items``: ``Σ_u x_ui x_uj w(t_ui − t_uj)`` with the weight above.

    ``confidence`` is users × items (the model's kept columns); ``timestamps`` the same shape with each entry's
    time in seconds (``Interactions.last_activity``), looked up at ``confidence``'s entries.
    """
    if tau_seconds <= 0 or not 0.0 <= cross_session <= 1.0:
        raise ValueError(f"need tau_seconds > 0 and cross_session in [0, 1]: {tau_seconds}, {cross_session}")
    confidence = sp.csr_matrix(confidence, dtype=np.float32)
    confidence.sort_indices()
    gram = (confidence.T @ confidence).toarray()
    if cross_session == 1.0 or confidence.nnz == 0:
        return gram
    gram *= np.float32(cross_session)
    users = np.repeat(np.arange(confidence.shape[0]), np.diff(confidence.indptr))
    items, values = confidence.indices, confidence.data.astype(np.float64)
    times = entry_times(confidence, timestamps)
    # Each item with itself: the rest of XᵀX's diagonal.
    np.add.at(gram, (items, items), np.float32(1.0 - cross_session) * np.square(values).astype(np.float32))
    order = np.lexsort((times, users))
    users, items, values, times = users[order], items[order], values[order], times[order]
    window = WINDOW_TAUS * tau_seconds
    close = _PairSums(len(gram))
    # Walk offsets 1, 2, …: entry k pairs with entry k + d while both are the same user's and at most ``window``
    # apart. Sorted by (user, time), a pair that fails at offset d fails at every larger one, so the candidates
    # only shrink and the work is the number of close pairs.
    alive = np.arange(len(users) - 1)
    offset = 1
    while len(alive):
        partner = alive + offset
        gap = times[partner] - times[alive]
        keep = (users[partner] == users[alive]) & (gap <= window)
        alive, partner, gap = alive[keep], partner[keep], gap[keep]
        weights = (1.0 - cross_session) * np.exp(-gap / tau_seconds) * values[alive] * values[partner]
        close.add(items[alive], items[partner], weights)
        alive = alive[partner + 1 < len(users)]
        offset += 1
    close.into(gram)
    return gram


def entry_times(confidence: sp.csr_matrix, timestamps: sp.csr_matrix) -> np.ndarray:
    """The time of each of ``confidence``'s stored entries (CSR order, sorted indices) from ``timestamps``."""
    timestamps = sp.csr_matrix(timestamps, dtype=np.float64)
    timestamps.sort_indices()
    if np.array_equal(timestamps.indptr, confidence.indptr) and np.array_equal(timestamps.indices, confidence.indices):
        return timestamps.data
    rows = np.repeat(np.arange(confidence.shape[0]), np.diff(confidence.indptr))
    return np.asarray(timestamps[rows, confidence.indices], dtype=np.float64).ravel()


class _PairSums:
    """Accumulates weighted (item, item) pairs in sparse batches and adds them, symmetrised, to a dense gram."""

    def __init__(self, n_items: int):
        self.n_items = n_items
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending_size = 0
        self.total = sp.csr_matrix((n_items, n_items), dtype=np.float64)

    def add(self, first: np.ndarray, second: np.ndarray, weights: np.ndarray) -> None:
        self.pending.append((first, second, weights))
        self.pending_size += len(weights)
        if self.pending_size >= PAIR_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            first, second, weights = (np.concatenate(parts) for parts in zip(*self.pending, strict=True))
            shape = (self.n_items, self.n_items)
            self.total = self.total + sp.csr_matrix((weights, (first, second)), shape=shape)
        self.pending, self.pending_size = [], 0

    def into(self, gram: np.ndarray) -> None:
        self._flush()
        total = (self.total + self.total.T).tocoo()
        gram[total.row, total.col] += total.data.astype(np.float32)
