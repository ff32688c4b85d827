"""The interaction matrix: confidence weights per kind of event, hides, exclusions, index maps."""

import numpy as np
import pytest

from recommender.interactions import InteractionWeights, Kind, build_interactions

WEIGHTS = InteractionWeights(rating=1.0, liked_bonus=2.0, neutral_score=3.0, favorite=3.0, watch=0.5)


def build(events, **kwargs):
    """``events``: (user id, item id, kind, value, timestamp) tuples."""
    users, items, kinds, values, timestamps = (np.array(column) for column in zip(*events, strict=True))
    return build_interactions(
        user_ids=users, item_ids=items, kinds=kinds, values=values, timestamps=timestamps, **kwargs
    )


def test_rating_confidence_grows_with_the_score_above_neutral_and_never_vanishes():
    scores = (0.5, 2, 3, 3.5, 4, 5)
    events = [(1, item, Kind.RATING, score, 100) for item, score in enumerate(scores, start=10)]
    interactions = build(events, weights=WEIGHTS)
    row = interactions.confidence.toarray()[0]
    # rating + liked_bonus × (score − 3) / 2, clipped at 0: any rating counts at least 1.
    np.testing.assert_allclose(row, [1.0, 1.0, 1.0, 1.5, 2.0, 3.0])
    np.testing.assert_allclose(interactions.ratings.toarray()[0], [0.5, 2, 3, 3.5, 4, 5])


def test_favorites_add_to_a_rating_and_repeat_viewings_add_with_diminishing_returns():
    events = [
        (1, 10, Kind.RATING, 4.0, 100),
        (1, 10, Kind.FAVORITE, 0, 110),
        (1, 20, Kind.WATCH, 0, 100),
        (1, 30, Kind.WATCH, 0, 100),
        (1, 30, Kind.WATCH, 0, 200),
        (1, 30, Kind.WATCH, 0, 300),
    ]
    confidence = build(events, weights=WEIGHTS).confidence.toarray()[0]
    # 4★ = 1 + 2 × ½; favorite +3; one viewing 0.5 × log2(2); three viewings 0.5 × log2(4).
    np.testing.assert_allclose(confidence, [2.0 + 3.0, 0.5, 1.0])


def test_a_hidden_movie_is_no_positive_even_when_rated_and_is_excluded():
    events = [
        (1, 10, Kind.RATING, 5.0, 100),
        (1, 10, Kind.HIDE, 0, 200),
        (1, 20, Kind.HIDE, 0, 200),
        (1, 30, Kind.RATING, 4.0, 100),
        (2, 10, Kind.RATING, 5.0, 100),
    ]
    interactions = build(events, weights=WEIGHTS)
    assert interactions.confidence[0, 0] == 0 and interactions.confidence[0, 1] == 0
    assert interactions.confidence[0].nnz == 1  # removed, not stored as explicit zeros
    assert interactions.last_activity[0].nnz == 1
    assert interactions.exclude.toarray().tolist() == [[True, True, True], [True, False, False]]
    assert interactions.confidence[1, 0] == 3.0  # another user's rating of the same movie is untouched


def test_the_exclusion_matrix_holds_rated_favorited_watched_and_hidden_movies_only():
    events = [
        (1, 10, Kind.RATING, 1.0, 100),
        (1, 20, Kind.FAVORITE, 0, 100),
        (1, 30, Kind.WATCH, 0, 100),
        (1, 40, Kind.HIDE, 0, 100),
    ]
    interactions = build(events, all_item_ids=np.array([10, 20, 30, 40, 50]))
    assert interactions.exclude.toarray()[0].tolist() == [True, True, True, True, False]


def test_the_newest_rating_of_a_pair_wins():
    events = [(1, 10, Kind.RATING, 5.0, 300), (1, 10, Kind.RATING, 1.0, 100), (1, 10, Kind.RATING, 2.0, 200)]
    interactions = build(events, weights=WEIGHTS)
    assert interactions.ratings[0, 0] == 5.0
    assert interactions.confidence[0, 0] == 3.0
    assert interactions.last_activity[0, 0] == 300


def test_last_activity_is_the_newest_positive_event_per_user_and_item():
    events = [
        (1, 10, Kind.WATCH, 0, 500),
        (1, 10, Kind.RATING, 4.0, 900),
        (1, 10, Kind.WATCH, 0, 700),
        (2, 10, Kind.FAVORITE, 0, 50),
    ]
    last_activity = build(events).last_activity.toarray()
    assert last_activity[:, 0].tolist() == [900, 50]


def test_fixed_rows_and_columns_map_external_ids_both_ways():
    events = [(7, 300, Kind.RATING, 4.0, 1), (3, 100, Kind.RATING, 2.0, 1)]
    interactions = build(events, all_user_ids=np.array([9, 3, 7]), all_item_ids=np.array([300, 100, 200]))
    assert interactions.user_ids.tolist() == [3, 7, 9]
    assert interactions.item_ids.tolist() == [100, 200, 300]
    assert interactions.confidence.shape == (3, 3)
    assert interactions.user_rows([7, 9]).tolist() == [1, 2]
    assert interactions.item_columns([300]).tolist() == [2]
    assert interactions.ratings[interactions.user_rows([7])[0], interactions.item_columns([300])[0]] == 4.0


def test_an_event_outside_the_fixed_items_or_an_unknown_lookup_is_an_error():
    with pytest.raises(KeyError, match="item id"):
        build([(1, 999, Kind.RATING, 4.0, 1)], all_item_ids=np.array([1, 2]))
    interactions = build([(1, 2, Kind.RATING, 4.0, 1)])
    with pytest.raises(KeyError, match="user id"):
        interactions.user_rows([5])


def test_matrices_are_float32_csr_for_the_models():
    interactions = build([(1, 2, Kind.RATING, 4.0, 1), (2, 3, Kind.WATCH, 0, 2)])
    assert interactions.confidence.format == "csr" and interactions.confidence.dtype == np.float32
    assert interactions.exclude.dtype == bool
    assert (interactions.n_users, interactions.n_items) == (2, 2)
