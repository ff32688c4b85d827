"""The strategies' re-rankers and the calibrated scores, on small arrays (pure numpy: no database)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recommender.ranking import NO_ITEM
from recommender.scores import CURVES, calibrated
from recommender.strategies import (
    Strategy,
    familiarity,
    genre_bits,
    genre_vectors_from_bits,
    reorder_entries,
    rerank,
)
from users.models import User

REPOSITORY = Path(__file__).resolve().parents[2]


def test_strategy_modules_do_not_import_django():
    modules = ["recommender.strategies", "recommender.scores"]
    code = f"import sys\nfor name in {modules!r}:\n    __import__(name)\nprint('django' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "False"


def test_the_profile_choices_are_the_strategies():
    assert list(User.RecommendationStrategy.values) == [strategy.value for strategy in Strategy]


# --- Scores ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CURVES))
def test_each_curve_is_a_probability_that_falls_with_the_place(kind):
    scores = calibrated([kind] * 100)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]


def test_a_list_joining_kinds_never_increases():
    # Personal picks, then popular top-ups, then a personal one again (a genre filter can do that).
    scores = calibrated(["balanced"] * 3 + ["popular"] * 3 + ["balanced"])
    assert scores == sorted(scores, reverse=True)
    assert scores[3] < scores[2] and scores[6] == scores[5]
    assert calibrated([]) == []


def test_a_personal_first_place_outscores_popular_and_trending():
    assert calibrated(["balanced"])[0] > calibrated(["popular"])[0] > calibrated(["trending"])[0] > 0


# --- Re-rankers -----------------------------------------------------------------------------------------------


@pytest.fixture
def candidates():
    """Five candidates in balanced order: relevance falls, gently then steeply; the first three are famous, the
    last two obscure; 0–2 and 4 are dramas, 3 is a comedy."""
    items = np.array([[10, 11, 12, 13, 14, NO_ITEM]])
    relevance = np.array([[1.0, 0.98, 0.96, 0.94, 0.6, -np.inf]], dtype=np.float32)
    fame = np.array([[0.99, 0.98, 0.97, 0.1, 0.05, 0.0]], dtype=np.float32)
    vectors = np.zeros((15, 2), dtype=np.float32)
    vectors[[10, 11, 12, 14], 0] = 1.0
    vectors[13, 1] = 1.0
    return items, relevance, fame, vectors


def test_balanced_keeps_the_stored_order(candidates):
    items, relevance, fame, vectors = candidates
    order = rerank(Strategy.BALANCED, items, relevance, familiarity=fame, item_vectors=vectors, k=6)
    assert order.tolist() == [[0, 1, 2, 3, 4, -1]]


def test_familiar_favours_famous_movies_and_discovery_the_tail(candidates):
    items, relevance, fame, vectors = candidates
    familiar = rerank(Strategy.FAMILIAR, items, relevance, familiarity=fame, item_vectors=vectors, k=3)
    discovery = rerank(Strategy.DISCOVERY, items, relevance, familiarity=fame, item_vectors=vectors, k=3)

    assert familiar.tolist() == [[0, 1, 2]]
    # The obscure comedy comes first: relevant enough, unknown, and of another genre than the rest.
    assert discovery[0, 0] == 3
    assert set(discovery[0].tolist()) <= {0, 1, 2, 3, 4}
    assert -1 not in discovery[0].tolist()


def test_short_rows_are_padded(candidates):
    items, relevance, fame, vectors = candidates
    for strategy in Strategy:
        order = rerank(strategy, items, relevance, familiarity=fame, item_vectors=vectors, k=6)
        assert order.shape == (1, 6)
        assert sorted(order[0][order[0] >= 0].tolist()) == [0, 1, 2, 3, 4]


def test_stored_records_are_reordered_with_their_own_metadata():
    from recommender import store  # Django: the record layout only

    entries = store.empty_entries(4)
    entries["movie"] = [1, 2, 3, 4]
    entries["score"] = [1.0, 0.99, 0.98, 0.5]
    entries["familiarity"] = [255, 250, 5, 0]
    entries["genres"] = [0b01, 0b01, 0b10, 0b01]

    assert reorder_entries(entries, Strategy.BALANCED, k=2)["movie"].tolist() == [1, 2]
    assert reorder_entries(entries, Strategy.FAMILIAR, k=4)["movie"].tolist() == [1, 2, 3, 4]
    assert reorder_entries(entries, Strategy.DISCOVERY, k=2)["movie"].tolist()[0] == 3  # relevant, unknown
    assert len(reorder_entries(entries[:0], Strategy.DISCOVERY, k=5)) == 0


def test_familiarity_is_a_percentile_and_genres_survive_the_bitmask():
    import scipy.sparse as sp

    assert familiarity(np.array([5.0, 1.0, 9.0, 1.0])).tolist() == pytest.approx([2 / 3, 0.0, 1.0, 0.0])
    genres = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=np.float32))
    vectors = genre_vectors_from_bits(genre_bits(genres))
    assert vectors[0, :3] == pytest.approx([2**-0.5, 0, 2**-0.5])
    assert not vectors[1].any()
    assert vectors[2, :3].tolist() == [0, 1, 0]
