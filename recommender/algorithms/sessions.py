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
    gram = np.ascontiguousarray((confidence.T @ confidence).toarray())
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
    # Pairs are added straight into the flat view of the gram (``np.add.at`` sums repeated pairs): no sparse
    # intermediate, so no more memory than one offset's candidates.
    flat, n_items = gram.reshape(-1), len(gram)
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
        weights = ((1.0 - cross_session) * np.exp(-gap / tau_seconds) * values[alive] * values[partner]).astype(
            np.float32
        )
        first, second = items[alive].astype(np.int64), items[partner].astype(np.int64)
        np.add.at(flat, first * n_items + second, weights)
        np.add.at(flat, second * n_items + first, weights)
        alive = alive[partner + 1 < len(users)]
        offset += 1
    return gram


def entry_times(confidence: sp.csr_matrix, timestamps: sp.csr_matrix) -> np.ndarray:
    """The time of each of ``confidence``'s stored entries (CSR order, sorted indices) from ``timestamps``."""
    timestamps = sp.csr_matrix(timestamps, dtype=np.float64)
    timestamps.sort_indices()
    if np.array_equal(timestamps.indptr, confidence.indptr) and np.array_equal(timestamps.indices, confidence.indices):
        return timestamps.data
    rows = np.repeat(np.arange(confidence.shape[0]), np.diff(confidence.indptr))
    return np.asarray(timestamps[rows, confidence.indices], dtype=np.float64).ravel()
