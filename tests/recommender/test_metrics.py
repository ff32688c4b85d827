"""Ranking metrics against values worked out by hand."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommender import metrics
from recommender.ranking import NO_ITEM

# User 0 finds items 1 and 2 (ranks 2 and 5) of its relevant {1, 2, 7}; user 1 got a short list whose first item
# is its only relevant one; user 2 has nothing relevant and must not count.
RECOMMENDED = np.array([[3, 1, 4, 0, 2], [0, 1, 2, NO_ITEM, NO_ITEM], [5, 6, 7, 8, 9]])
RELEVANT = sp.csr_matrix(
    (np.ones(4, dtype=np.float32), ([0, 0, 0, 1], [1, 2, 7, 0])),
    shape=(3, 20),
)


def discount(rank: int) -> float:
    return 1 / math.log2(rank + 1)


def test_hits_mark_relevant_items_by_rank_and_never_the_padding():
    assert metrics.hits(RECOMMENDED, RELEVANT).astype(int).tolist() == [
        [0, 1, 0, 0, 1],
        [1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ]


def test_precision_counts_a_short_list_against_k():
    values = metrics.precision_at_k(RECOMMENDED, RELEVANT, 5)
    np.testing.assert_allclose(values[:2], [2 / 5, 1 / 5])
    assert np.isnan(values[2])
    np.testing.assert_allclose(metrics.precision_at_k(RECOMMENDED, RELEVANT, 3)[:2], [1 / 3, 1 / 3])


def test_recall_divides_by_all_relevant_items():
    np.testing.assert_allclose(metrics.recall_at_k(RECOMMENDED, RELEVANT, 5)[:2], [2 / 3, 1.0])
    np.testing.assert_allclose(metrics.recall_at_k(RECOMMENDED, RELEVANT, 3)[:2], [1 / 3, 1.0])


def test_ndcg_uses_a_log2_discount_and_the_ideal_over_min_k_and_relevant():
    ideal_of_three = discount(1) + discount(2) + discount(3)
    expected_at_5 = (discount(2) + discount(5)) / ideal_of_three
    np.testing.assert_allclose(metrics.ndcg_at_k(RECOMMENDED, RELEVANT, 5)[:2], [expected_at_5, 1.0])
    # At k = 2 only two relevant places are attainable.
    np.testing.assert_allclose(metrics.ndcg_at_k(RECOMMENDED, RELEVANT, 2)[:2], [discount(2) / (1 + discount(2)), 1.0])


def test_average_precision_sums_precision_at_each_hit_over_min_k_and_relevant():
    np.testing.assert_allclose(metrics.average_precision_at_k(RECOMMENDED, RELEVANT, 5)[:2], [(1 / 2 + 2 / 5) / 3, 1.0])
    np.testing.assert_allclose(metrics.average_precision_at_k(RECOMMENDED, RELEVANT, 3)[:2], [(1 / 2) / 3, 1.0])
    assert np.isnan(metrics.average_precision_at_k(RECOMMENDED, RELEVANT, 3)[2])


def test_a_perfect_ranking_scores_one_everywhere():
    relevant = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=np.float32))
    perfect = np.array([[1, 0, 2]])
    for metric in (metrics.recall_at_k, metrics.ndcg_at_k, metrics.average_precision_at_k):
        assert metric(perfect, relevant, 3)[0] == pytest.approx(1.0)


def test_catalog_coverage_is_the_share_of_items_shown_to_anyone():
    assert metrics.catalog_coverage(RECOMMENDED, 20, 5) == 10 / 20
    assert metrics.catalog_coverage(RECOMMENDED, 20, 1) == 3 / 20


def test_intra_list_diversity_is_the_mean_cosine_distance_between_listed_items():
    genres = sp.csr_matrix(np.array([[1, 0], [2, 0], [0, 1], [1, 1]], dtype=np.float32))
    lists = np.array([[0, 1, 2], [0, 1, NO_ITEM], [3, NO_ITEM, NO_ITEM]])
    # List 0: distances 0 (same genre), 1, 1; list 1: one pair, same genre; list 2: a single item.
    values = metrics.intra_list_diversity(lists, genres)
    np.testing.assert_allclose(values[:2], [2 / 3, 0.0], atol=1e-7)
    assert np.isnan(values[2])


def test_novelty_is_the_mean_self_information_of_listed_items_with_unseen_items_counted_once():
    # 8 users: item 0 known to all (0 bits), item 1 to 2 (2 bits), item 2 to 1 (3 bits), item 3 to nobody (3 bits).
    popularity = np.array([8, 2, 1, 0]) / 8
    recommended = np.array([[0, 1, NO_ITEM], [2, 3, 1], [NO_ITEM, NO_ITEM, NO_ITEM]])
    novelty = metrics.novelty(recommended, popularity, n_users=8)
    np.testing.assert_allclose(novelty[:2], [(0 + 2) / 2, (3 + 3 + 2) / 3])
    assert math.isnan(novelty[2])
    np.testing.assert_allclose(metrics.novelty(recommended, popularity, n_users=8, k=1)[:2], [0.0, 3.0])
