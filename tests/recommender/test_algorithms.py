"""The recommender models on tiny matrices whose answers are worked out by hand or in closed form."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import (
    ALS,
    COLLABORATIVE_MODELS,
    DLAE,
    EASE,
    EDLAE,
    ContentBased,
    ItemKNN,
    Popularity,
    Trending,
    choose_algorithm,
    fit_hybrid,
    load_model,
)
from recommender.algorithms.content import GENRE, TAG, ItemFeatures, feature_tokens, tf_idf
from recommender.algorithms.ease import ease_weights
from recommender.algorithms.hybrid import BlendWeights, Source
from recommender.interactions import Kind, build_interactions
from recommender.ranking import NO_ITEM, top_k

DAY = 86_400.0
REPOSITORY = Path(__file__).resolve().parents[2]


def csr(rows) -> sp.csr_matrix:
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


def two_taste_groups(n_users_per_group=10, n_items_per_group=5, seed=0) -> sp.csr_matrix:
    """Users 0..9 interact only with items 0..4, users 10..19 only with items 5..9 (each user with 3 of them)."""
    rng = np.random.default_rng(seed)
    rows = []
    for group in range(2):
        for _ in range(n_users_per_group):
            row = np.zeros(2 * n_items_per_group, dtype=np.float32)
            row[group * n_items_per_group + rng.choice(n_items_per_group, 3, replace=False)] = 1.0
            rows.append(row)
    return sp.csr_matrix(np.array(rows))


# --- Popularity and trending ---------------------------------------------------------------------------------


def test_popularity_is_rating_count_times_bayesian_average_over_five():
    ratings = csr([[5, 4, 0], [5, 4, 0], [0, 4, 0]])
    model = Popularity(prior_weight=2.0, prior_mean=3.0).fit(ratings)
    # item 0: (2·3 + 10) / (2 + 2) = 4 → 2 × 4 / 5; item 1: (6 + 12) / 5 = 3.6 → 3 × 3.6 / 5; item 2: nobody.
    np.testing.assert_allclose(model.item_scores, [1.6, 2.16, 0.0], rtol=1e-6)
    assert model.score(csr([[0, 0, 0], [1, 0, 0]])).shape == (2, 3)


def test_popularity_shrinks_towards_the_global_mean_by_default():
    ratings = csr([[5, 1], [5, 0]])
    model = Popularity(prior_weight=1.0).fit(ratings)
    global_mean = 11 / 3
    expected = [2 * (global_mean + 10) / 3 / 5, 1 * (global_mean + 1) / 2 / 5]
    np.testing.assert_allclose(model.item_scores, expected, rtol=1e-6)


def test_trending_halves_each_half_life_counts_each_user_once_and_ignores_the_future():
    now = 1_000 * DAY
    last_activity = csr(
        [
            [now, now - 20 * DAY, now + DAY],
            [now - 10 * DAY, 0, 0],
        ]
    )
    model = Trending(half_life_days=10.0, now=now).fit(last_activity)
    np.testing.assert_allclose(model.item_scores, [1.0 + 0.5, 0.25, 0.0], rtol=1e-6)


def test_trending_is_relative_to_the_newest_event_unless_told_otherwise():
    last_activity = csr([[100 * DAY, 90 * DAY]])
    model = Trending(half_life_days=10.0).fit(last_activity)
    assert model.now == 100 * DAY
    np.testing.assert_allclose(model.item_scores, [1.0, 0.5], rtol=1e-6)


# --- Content -------------------------------------------------------------------------------------------------


def test_tf_idf_weights_rare_features_more_and_damps_repeated_ones():
    counts = csr([[1, 0, 0], [1, 1, 0], [0, 0, 4], [1, 0, 0]])  # features a (3 items), b (1), c (1, four times)
    vectors = tf_idf(counts).toarray()
    idf_a, idf_rare = np.log(5 / 4) + 1, np.log(5 / 2) + 1
    np.testing.assert_allclose(vectors[0], [1, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(vectors[1], np.array([idf_a, idf_rare, 0]) / np.hypot(idf_a, idf_rare), rtol=1e-6)
    np.testing.assert_allclose(vectors[2], [0, 0, 1], rtol=1e-6)  # 1 + ln 4, normalised


def test_item_features_name_columns_and_encode_declared_tastes():
    tokens = np.concatenate([feature_tokens(GENRE, ["Sci-Fi", "Drama", "Sci-Fi"]), feature_tokens(TAG, [" Heist "])])
    features = ItemFeatures.from_pairs(item_columns=np.array([0, 1, 2, 2]), tokens=tokens, n_items=3)
    assert features.vocabulary.tolist() == ["genre:drama", "genre:sci-fi", "tag:heist"]
    assert features.matrix.toarray().tolist() == [[0, 1, 0], [1, 0, 0], [0, 1, 1]]
    assert features.genre_matrix().toarray().tolist() == [[0, 1], [1, 0], [0, 1]]
    declared = features.user_matrix([feature_tokens(GENRE, ["sci-fi", "Western"]), []])
    assert declared.toarray().tolist() == [[0, 1, 0], [0, 0, 0]]


def test_content_scores_are_cosines_to_the_profile_of_liked_items_plus_declared_genres():
    # Features: sci-fi, drama, heist.
    features = csr([[1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1]])
    model = ContentBased(declared_weight=1.0).fit(features)
    vectors = tf_idf(features).toarray()
    scores = model.score(csr([[1, 0, 0, 0], [0, 0, 0, 0]]), declared=csr([[0, 0, 0], [0, 1, 0]]))
    np.testing.assert_allclose(scores[0], vectors @ vectors[0], rtol=1e-5)
    # No history, a declared liking for drama: the drama movies first, the pure drama one best.
    assert np.argsort(-scores[1])[:2].tolist() == [2, 3]
    assert scores[1][0] == 0


# --- EASE ----------------------------------------------------------------------------------------------------


def closed_form_ease(X: np.ndarray, l2: float) -> np.ndarray:
    gram = X.T @ X + l2 * np.eye(X.shape[1])
    precision = np.linalg.inv(gram)
    weights = np.eye(X.shape[1]) - precision / np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    return weights


def test_ease_weights_match_the_closed_form_and_have_a_zero_diagonal():
    X = np.random.default_rng(1).integers(0, 2, size=(30, 6)).astype(np.float64)
    weights = ease_weights((X.T @ X).astype(np.float32), 5.0)
    np.testing.assert_allclose(weights, closed_form_ease(X, 5.0), atol=1e-5)
    assert weights.dtype == np.float32
    assert not np.diag(weights).any()


def test_ease_scores_are_user_rows_times_b_with_lambda_in_units_of_one_interaction():
    X = np.random.default_rng(2).integers(0, 2, size=(40, 5)).astype(np.float64)
    X[:, 0] = 1  # every item above min_item_users
    model = EASE(l2=3.0, min_item_users=1).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(model.score(sp.csr_matrix(X[:4])), X[:4] @ closed_form_ease(X, 3.0), atol=1e-4)
    # Doubling every confidence doubles the mean square ×4 and λ with it: the weights do not change.
    doubled = EASE(l2=3.0, min_item_users=1).fit(sp.csr_matrix(2 * X))
    np.testing.assert_allclose(doubled.weights, model.weights, atol=1e-5)


def test_ease_keeps_only_items_with_enough_users_and_at_most_max_items():
    X = csr([[1, 1, 1, 0], [1, 1, 0, 1], [1, 1, 1, 0], [1, 0, 0, 0]])  # users per item: 4, 3, 2, 1
    assert EASE(min_item_users=2).fit(X).items.tolist() == [0, 1, 2]
    capped = EASE(min_item_users=1, max_items=2).fit(X)
    assert capped.items.tolist() == [0, 1]
    scores = capped.score(X)
    assert np.isneginf(scores[:, 2:]).all() and np.isfinite(scores[:, :2]).all()


def test_ease_handles_data_without_any_eligible_item():
    model = EASE(min_item_users=5).fit(csr([[1, 0], [0, 1]]))
    assert np.isneginf(model.score(csr([[1, 0]]))).all()


def test_dlae_is_the_ridge_solution_with_a_dropout_penalty_growing_with_each_items_interactions():
    X = np.random.default_rng(3).integers(0, 2, size=(40, 6)).astype(np.float64)
    X[:, 0] = 1
    model = DLAE(l2=2.0, dropout=0.25, min_item_users=1).fit(sp.csr_matrix(X))
    gram = X.T @ X
    penalty = np.diag(2.0 + 0.25 / 0.75 * np.diag(gram))  # λ in units of one binary interaction (mean x² = 1)
    expected = np.linalg.solve(gram + penalty, gram)  # argmin ‖X − XB‖² + ‖Λ^½ B‖²
    np.fill_diagonal(expected, 0.0)  # an item's weight on itself never scores an unseen item
    np.testing.assert_allclose(model.weights, expected, atol=1e-4)
    # Without dropout and with emphasis (EDLAE), the penalty is EASE's λ and so are the weights.
    np.testing.assert_allclose(
        EDLAE(l2=2.0, dropout=0.0, min_item_users=1).fit(sp.csr_matrix(X)).weights,
        EASE(l2=2.0, min_item_users=1).fit(sp.csr_matrix(X)).weights,
        atol=1e-5,
    )


def test_edlae_is_ease_with_a_heavier_penalty_on_popular_items():
    X = np.random.default_rng(4).integers(0, 2, size=(50, 5)).astype(np.float64)
    X[:, 0] = 1
    model = EDLAE(l2=3.0, dropout=0.5, min_item_users=1).fit(sp.csr_matrix(X))
    precision = np.linalg.inv(X.T @ X + np.diag(3.0 + np.diag(X.T @ X)))  # p / (1 − p) = 1
    expected = -precision / np.diag(precision)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights, expected, atol=1e-5)
    with pytest.raises(ValueError, match="dropout"):
        EDLAE(dropout=1.0)


# --- Item-kNN ------------------------------------------------------------------------------------------------


def test_item_knn_keeps_each_items_most_similar_neighbours_by_cosine():
    X = csr([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 0]])
    # cos(0, 1) = 2/3; cos(0, 2) = cos(1, 2) = 1/√6.
    full = ItemKNN(neighbours=2).fit(X).similarity.toarray()
    third = 1 / np.sqrt(6)
    np.testing.assert_allclose(full, [[0, 2 / 3, third], [2 / 3, 0, third], [third, third, 0]], rtol=1e-5)
    nearest = ItemKNN(neighbours=1).fit(X).similarity.toarray()
    # Item 0's and item 1's nearest is each other; item 2's two neighbours tie, so both stay.
    np.testing.assert_allclose(nearest, [[0, 2 / 3, third], [2 / 3, 0, third], [0, 0, 0]], rtol=1e-5)
    np.testing.assert_allclose(ItemKNN(neighbours=1).fit(X).score(csr([[1, 0, 0]])), [[0, 2 / 3, third]], rtol=1e-5)


# --- ALS -----------------------------------------------------------------------------------------------------


def test_als_folds_a_user_in_by_the_weighted_least_squares_closed_form():
    item_factors = np.array([[1.0, 0.2], [0.1, 1.0], [0.7, 0.7]], dtype=np.float32)
    model = ALS.from_state({"factors": 2, "regularization": 0.1, "alpha": 2.0}, {"item_factors": item_factors})
    row = csr([[1.5, 0, 1.0]])
    confidence = 2.0 * row.toarray()[0]
    Y = item_factors.astype(np.float64)
    system = Y.T @ Y + 0.1 * np.eye(2) + Y.T @ np.diag(np.where(confidence > 0, confidence - 1, 0)) @ Y
    user = np.linalg.solve(system, Y.T @ confidence)
    np.testing.assert_allclose(model.score(row)[0], Y @ user, rtol=1e-4)


def test_collaborative_models_recommend_within_the_users_taste_group():
    X = two_taste_groups()
    user = csr([[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]])
    for model in (
        EASE(l2=10.0, min_item_users=1),
        DLAE(l2=10.0, min_item_users=1),
        EDLAE(l2=10.0, min_item_users=1),
        ItemKNN(neighbours=5),
        ALS(factors=2, regularization=0.1, alpha=1.0),
    ):
        items, _ = top_k(model.fit(X).score(user), 3, exclude=user)
        assert set(items[0]) == {2, 3, 4}, model.name


@pytest.mark.parametrize(
    "model", [EASE(l2=1.0, min_item_users=1), DLAE(l2=1.0, min_item_users=1), ItemKNN(neighbours=3), ALS(factors=4)]
)
def test_contributions_of_the_users_items_add_up_to_each_score(model):
    X = two_taste_groups()
    model.fit(X)
    user = sp.csr_matrix(X[3])
    items = np.arange(10)
    contributions = model.contributions(user, items)
    assert contributions.shape == (user.nnz, 10)
    np.testing.assert_allclose(contributions.sum(axis=0), model.score(user)[0], atol=1e-3)


# --- Saving, registry, size-based choice ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COLLABORATIVE_MODELS))
def test_a_saved_collaborative_model_loads_back_and_scores_the_same(tmp_path, name):
    X = two_taste_groups()
    model = COLLABORATIVE_MODELS[name]().fit(X)
    model.save(tmp_path / "model.npz")
    loaded = load_model(tmp_path / "model.npz")
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.score(X[:5]), model.score(X[:5]), rtol=1e-5)


def test_choose_algorithm_prefers_ease_until_the_catalog_the_gram_matrix_or_the_scoring_gets_too_big():
    assert choose_algorithm(n_users=610, n_items=9_742, n_interactions=100_836) == "dlae"
    assert choose_algorithm(n_users=6_040, n_items=3_706, n_interactions=1_000_209) == "dlae"
    # ML-20M: XᵀX is affordable, but scoring 20M interactions × 15k kept items is not (docs/scaling.md).
    assert choose_algorithm(n_users=138_493, n_items=26_744, n_interactions=20_000_263) == "als"
    assert choose_algorithm(n_users=162_541, n_items=62_423, n_interactions=25_000_095) == "als"
    assert choose_algorithm(n_users=1_000, n_items=5_000, n_interactions=50_000_000) == "als"


def test_math_modules_do_not_import_django():
    modules = [
        "recommender.interactions",
        "recommender.algorithms",
        "recommender.ranking",
        "recommender.metrics",
        "recommender.evaluation",
        "recommender.elicitation",
        "recommender.onboarding_evaluation",
        "recommender.tuning",
        "recommender.evaluation_report",
    ]
    code = f"import sys\nfor name in {modules!r}:\n    __import__(name)\nprint('django' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "False"


# --- Hybrid --------------------------------------------------------------------------------------------------


@pytest.fixture
def small_catalog():
    """Six movies: 0–2 sci-fi, 3–5 drama; eight users with sci-fi or drama tastes; user 100 hid movie 2."""
    events = []
    for user in range(4):
        events += [(user, item, Kind.RATING, 5.0, 1_000 + user) for item in (0, 1, 2)]
    for user in range(4, 8):
        events += [(user, item, Kind.RATING, 4.0, 2_000 + user) for item in (3, 4)]
    events += [(8, 5, Kind.RATING, 3.0, 5_000), (9, 5, Kind.WATCH, 0, 5_000)]  # 5 is the most recent
    events += [(100, 0, Kind.RATING, 5.0, 10), (100, 2, Kind.HIDE, 0, 20)]
    users, items, kinds, values, timestamps = (np.array(column) for column in zip(*events, strict=True))
    interactions = build_interactions(
        user_ids=users,
        item_ids=items,
        kinds=kinds,
        values=values,
        timestamps=timestamps,
        all_user_ids=np.append(np.unique(users), 200),  # 200: signed up, no activity yet
        all_item_ids=np.arange(6),
    )
    genres = feature_tokens(GENRE, ["Sci-Fi"] * 3 + ["Drama"] * 3)
    features = ItemFeatures.from_pairs(item_columns=np.arange(6), tokens=genres, n_items=6)
    return interactions, features


def fitted_hybrid(interactions, features, **settings):
    collaborative = EASE(l2=1.0, min_item_users=1).fit(interactions.confidence)
    return fit_hybrid(interactions=interactions, item_features=features, collaborative=collaborative, **settings)


def test_hybrid_recommends_by_taste_without_what_was_rated_or_hidden(small_catalog):
    interactions, features = small_catalog
    hybrid = fitted_hybrid(interactions, features)
    row = interactions.user_rows([100])
    result = hybrid.recommend(interactions.confidence[row], k=4, exclude=interactions.exclude[row])
    items = [item for item in result.items[0] if item != NO_ITEM]
    assert items[0] == 1  # the other sci-fi movie people who liked movie 0 liked
    assert 0 not in items and 2 not in items  # rated, hidden
    assert result.source_labels(0)[0] == "collaborative"
    (because,) = hybrid.explain(interactions.confidence[row], np.array([1]))
    assert because.item == 1 and because.because_item == 0 and because.share == 1.0  # the only rated movie


def test_a_user_without_history_gets_popular_movies_of_their_favorite_genres_first(small_catalog):
    interactions, features = small_catalog
    hybrid = fitted_hybrid(interactions, features)
    row = interactions.user_rows([200])
    drama_fan = features.user_matrix([feature_tokens(GENRE, ["Drama"])])
    with_genres = hybrid.recommend(
        interactions.confidence[row], k=6, exclude=interactions.exclude[row], favorite_genres=drama_fan
    )
    assert set(with_genres.items[0][:3]) == {3, 4, 5}
    assert with_genres.items[0][:2].tolist() == [3, 4]  # rated by four people each, 5 by one
    assert set(with_genres.source_labels(0)) == {"popular"}
    without = hybrid.recommend(interactions.confidence[row], k=3, exclude=interactions.exclude[row])
    assert without.items[0].tolist() == [0, 1, 2]  # most liked overall: sci-fi, rated 5★ by four people


def test_anonymous_visitors_get_trending_movies(small_catalog):
    interactions, features = small_catalog
    result = fitted_hybrid(interactions, features, trending_half_life_days=1 / 86_400).recommend_anonymous(k=2)
    assert result.items[0][0] == 5  # the most recent activity
    assert result.source_labels(0) == ["trending", "trending"]
    assert set(Source(code).label for code in result.sources[0]) == {"trending"}


def test_similar_movies_exclude_the_movie_itself(small_catalog):
    interactions, features = small_catalog
    result = fitted_hybrid(interactions, features, weights=BlendWeights(content=0.0)).similar(np.array([3]), k=3)
    items = [item for item in result.items[0] if item != NO_ITEM]
    assert items[0] == 4 and 3 not in items


def test_a_saved_hybrid_loads_back_and_recommends_the_same(tmp_path, small_catalog):
    interactions, features = small_catalog
    hybrid = fitted_hybrid(interactions, features, diversity=0.2)
    hybrid.save(tmp_path / "hybrid.npz")
    loaded = load_model(tmp_path / "hybrid.npz")
    rows = interactions.confidence[:4]
    expected = hybrid.recommend(rows, k=3, exclude=interactions.exclude[:4])
    actual = loaded.recommend(rows, k=3, exclude=interactions.exclude[:4])
    np.testing.assert_array_equal(actual.items, expected.items)
    np.testing.assert_array_equal(actual.sources, expected.sources)
    assert loaded.diversity == 0.2 and loaded.weights == hybrid.weights


def test_blend_weights_must_leave_something_to_blend():
    with pytest.raises(ValueError, match="blend weights"):
        BlendWeights(collaborative=0.0, content=0.0, popularity=0.0)
    with pytest.raises(ValueError, match="blend weights"):
        BlendWeights(content=-1.0)
