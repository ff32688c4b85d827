"""The session-weighted co-occurrence (``recommender.algorithms.sessions``) and DLAE fitted on it."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import DLAE, EASE, load_model
from recommender.algorithms.sessions import WINDOW_TAUS, entry_times, session_gram

MINUTE = 60.0


def random_history(seed=0, n_users=30, n_items=8):
    """Confidence and timestamps (same pattern): each user rates in a few sittings spread over a year."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < 0.5
    confidence = np.where(mask, rng.choice([1.0, 1.25, 1.5], size=mask.shape), 0.0)
    sittings = rng.integers(0, 3, size=mask.shape) * 200 * 86_400.0
    times = np.where(mask, 1_500_000_000 + sittings + rng.integers(0, 40 * 60, size=mask.shape), 0.0)
    return sp.csr_matrix(confidence.astype(np.float32)), sp.csr_matrix(times), confidence, times


def brute_force_gram(confidence, times, tau, cross):
    n_items = confidence.shape[1]
    gram = np.zeros((n_items, n_items))
    for x, t in zip(confidence, times, strict=True):
        rated = np.flatnonzero(x)
        gap = np.abs(t[rated][:, None] - t[rated][None, :])
        weight = cross + (1 - cross) * np.exp(-gap / tau)
        gram[np.ix_(rated, rated)] += weight * np.outer(x[rated], x[rated])
    return gram


@pytest.mark.parametrize("cross", [0.0, 0.5])
def test_session_gram_weighs_each_pair_by_how_close_in_time_it_was_rated(cross):
    confidence, timestamps, dense, times = random_history()
    tau = 5 * MINUTE
    gram = session_gram(confidence, timestamps, tau_seconds=tau, cross_session=cross)
    expected = brute_force_gram(dense, times, tau, cross)
    # Pairs further apart than the window are left out: at most e^−10 of a pair's weight.
    np.testing.assert_allclose(gram, expected, rtol=1e-4, atol=np.exp(-WINDOW_TAUS) * dense.shape[0] * 2.25)
    np.testing.assert_allclose(np.diag(gram), np.diag(dense.T @ dense), rtol=1e-5)  # the diagonal is XᵀX's
    assert np.allclose(gram, gram.T)


def test_session_gram_without_a_session_discount_is_the_plain_gram_and_rejects_bad_settings():
    confidence, timestamps, dense, _ = random_history(seed=1)
    plain = session_gram(confidence, timestamps, tau_seconds=300.0, cross_session=1.0)
    np.testing.assert_allclose(plain, dense.T @ dense, rtol=1e-5)
    with pytest.raises(ValueError):
        session_gram(confidence, timestamps, tau_seconds=0.0, cross_session=0.5)
    with pytest.raises(ValueError):
        session_gram(confidence, timestamps, tau_seconds=300.0, cross_session=1.5)


def test_entry_times_are_looked_up_when_the_timestamps_have_other_entries():
    confidence = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 0]], dtype=np.float32))
    # A hidden movie (0, 1) has a time but no confidence: the timestamps' pattern differs.
    timestamps = sp.csr_matrix(np.array([[10.0, 11.0, 12.0], [0.0, 20.0, 0.0]]))
    np.testing.assert_array_equal(entry_times(confidence, timestamps), [10.0, 12.0, 20.0])


def test_dlae_fits_the_session_gram_when_given_timestamps_and_the_plain_one_otherwise():
    confidence, timestamps, dense, times = random_history(seed=2)
    model = DLAE(l2=2.0, dropout=0.25, min_item_users=1, session_minutes=5.0, cross_session=0.3)
    weighted = model.fit(confidence, timestamps).weights.copy()
    gram = brute_force_gram(dense, times, 5 * MINUTE, 0.3)
    mean_square = np.mean(np.square(confidence.data))
    penalty = 2.0 * mean_square + 0.25 / 0.75 * np.diag(dense.T @ dense)  # from XᵀX's diagonal, unchanged
    expected = np.linalg.solve(gram + np.diag(penalty), gram)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(weighted, expected, atol=1e-3)
    plain = DLAE(l2=2.0, dropout=0.25, min_item_users=1, session_minutes=None).fit(confidence).weights
    np.testing.assert_allclose(model.fit(confidence).weights, plain, atol=1e-6)  # no timestamps: plain XᵀX


def test_movies_rated_in_one_sitting_recommend_each_other_more_than_movies_rated_years_apart():
    """Items 1 and 2 are each rated with item 0 by as many people; item 1 minutes after it, item 2 a year later."""
    year, rows, times = 365 * 86_400.0, [], []
    for user in range(20):
        partner = 1 if user % 2 else 2
        row, stamp = np.zeros(4), np.zeros(4)
        row[[0, partner, 3]] = 1.0
        stamp[0] = 1e9 + user * year
        stamp[partner] = stamp[0] + (2 * MINUTE if partner == 1 else year)
        stamp[3] = stamp[0] + 3 * year
        rows.append(row)
        times.append(stamp)
    confidence, timestamps = sp.csr_matrix(np.array(rows, dtype=np.float32)), sp.csr_matrix(np.array(times))
    newcomer = sp.csr_matrix(np.array([[1.0, 0, 0, 0]], dtype=np.float32))
    sessions = DLAE(l2=1.0, min_item_users=1, session_minutes=5.0, cross_session=0.5).fit(confidence, timestamps)
    plain = EASE(l2=1.0, min_item_users=1).fit(confidence, timestamps)  # EASE: no session weighting by default
    assert sessions.score(newcomer)[0, 1] > 1.2 * sessions.score(newcomer)[0, 2]
    assert plain.score(newcomer)[0, 1] == pytest.approx(plain.score(newcomer)[0, 2])


def test_a_saved_session_weighted_dlae_keeps_its_settings(tmp_path):
    confidence, timestamps, _, _ = random_history(seed=3)
    model = DLAE(min_item_users=1, session_minutes=7.0, cross_session=0.4).fit(confidence, timestamps)
    model.save(tmp_path / "model.npz")
    loaded = load_model(tmp_path / "model.npz")
    assert (loaded.session_minutes, loaded.cross_session) == (7.0, 0.4)
    np.testing.assert_allclose(loaded.score(confidence[:5]), model.score(confidence[:5]), rtol=1e-5)
