"""Top-k with exclusions, the diversity re-rank and "because you rated" explanations."""

import numpy as np
import scipy.sparse as sp

from recommender.algorithms import EASE
from recommender.ranking import NO_ITEM, Explanation, diversify, explain, top_k


def test_top_k_orders_best_first_breaks_ties_by_index_and_skips_exclusions():
    scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.7], [5, 4, 3, 2, 1]], dtype=np.float32)
    exclude = sp.csr_matrix(np.array([[0, 0, 0, 0, 1], [1, 0, 0, 0, 0]], dtype=bool))
    items, best = top_k(scores, 3, exclude=exclude)
    assert items.tolist() == [[1, 3, 2], [1, 2, 3]]
    np.testing.assert_allclose(best, [[0.9, 0.9, 0.5], [4, 3, 2]])
    assert scores[0, 4] == np.float32(0.7)  # the caller's array is left alone


def test_top_k_pads_with_no_item_when_too_few_items_can_be_recommended():
    scores = np.array([[1.0, -np.inf, 3.0]], dtype=np.float32)
    items, best = top_k(scores, 3, exclude=sp.csr_matrix(np.array([[0, 0, 1]], dtype=bool)))
    assert items.tolist() == [[0, NO_ITEM, NO_ITEM]]
    assert best[0, 0] == 1.0 and np.isneginf(best[0, 1:]).all()
    assert top_k(scores, 10)[0].shape == (1, 3)


def test_diversify_without_a_penalty_keeps_the_ranking():
    items = np.array([[0, 1, 2]])
    scores = np.array([[1.0, 0.9, 0.8]], dtype=np.float32)
    vectors = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    kept, _ = diversify(items, scores, 3, item_vectors=vectors, penalty=0.0)
    assert kept.tolist() == [[0, 1, 2]]


def test_diversify_moves_a_different_genre_ahead_of_a_near_duplicate():
    items = np.array([[0, 1, 2], [2, 1, 0]])
    scores = np.array([[1.0, 0.9, 0.8], [3.0, 2.0, 1.0]], dtype=np.float32)
    vectors = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    # Row 0: after item 0, item 1 (relevance ½, same genre) loses 0.6; item 2 (relevance 0, new genre) does not.
    reranked, reranked_scores = diversify(items, scores, 2, item_vectors=vectors, penalty=0.6)
    assert reranked.tolist() == [[0, 2], [2, 1]]
    np.testing.assert_allclose(reranked_scores, [[1.0, 0.8], [3.0, 2.0]])


def test_diversify_keeps_padding_at_the_end():
    items = np.array([[4, NO_ITEM, NO_ITEM]])
    scores = np.array([[1.0, -np.inf, -np.inf]], dtype=np.float32)
    vectors = np.eye(5, dtype=np.float32)
    reranked, _ = diversify(items, scores, 2, item_vectors=vectors, penalty=0.5)
    assert reranked.tolist() == [[4, NO_ITEM]]


def test_explain_names_the_users_item_that_added_most_and_its_share():
    contributions = np.array([[0.2, 0.0], [0.5, -0.1], [0.1, -0.3]], dtype=np.float32)
    explanations = explain(user_items=np.array([10, 11, 12]), contributions=contributions, items=np.array([7, 8]))
    assert explanations[0] == Explanation(item=7, because_item=11, share=explanations[0].share)
    assert abs(explanations[0].share - 0.5 / 0.8) < 1e-6
    assert explanations[1] is None  # nothing the user did speaks for item 8
    assert explain(user_items=np.array([]), contributions=np.zeros((0, 1)), items=np.array([3])) == [None]


def test_explain_with_ease_points_at_the_movie_that_co_occurs_with_the_recommendation():
    # Items 0 and 1 always go together, items 2 and 3 too.
    X = sp.csr_matrix(np.array([[1, 1, 0, 0]] * 5 + [[0, 0, 1, 1]] * 5 + [[1, 0, 1, 0]], dtype=np.float32))
    model = EASE(l2=1.0, min_item_users=1).fit(X)
    user = sp.csr_matrix(np.array([[1, 0, 1, 0]], dtype=np.float32))
    explanations = explain(
        user_items=user.indices, contributions=model.contributions(user, np.array([1, 3])), items=np.array([1, 3])
    )
    assert [explanation.because_item for explanation in explanations] == [0, 2]
