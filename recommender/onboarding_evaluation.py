"""What onboarding is worth, offline, on a MovieLens release (pure numpy/scipy; no Django).

Protocol (docs/recommender.md, "Onboarding"):

1. A seeded ``HELD_OUT_FRACTION`` of the users with at least ``MIN_USER_RATINGS`` ratings play new users; the
   production recommender (the hybrid around the collaborative model ``choose_algorithm`` picks, as training
   builds it) is fitted on everyone else's ratings.
2. Each new user's ratings are split at random in halves: the movies they can answer about ("seen") and the
   test set. Every strategy is scored on the same test set, so that no strategy changes what counts as a hit
   (asking about the most popular movies must not make them leave the test set that the cold start scores on).
3. Each new user is shown ``asked`` movies by each strategy — onboarding (``elicitation_pick`` over the training
   ratings, as the API picks), the most-rated movies, and random catalog movies — and "rates" those among their
   answerable half, with their real score; the others they skip as unseen.
4. That row is folded into the fitted model (scoring a new row needs no refit) and its top ``k`` (the answered
   movies excluded) is scored against the test half (binary relevance; and against its ratings of at least 4★):
   nDCG@k and recall@k, averaged over the new users. No ratings at all is the cold start (popular movies).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from datasets.movielens import open_dataset
from datasets.titles import normalize_title
from recommender import metrics
from recommender.algorithms import choose_algorithm, fit_hybrid, production_model
from recommender.elicitation import (
    POOL_MIN_RATINGS,
    POOL_SIZE,
    SCORE_BINS,
    Candidates,
    elicitation_pick,
    informativeness,
)
from recommender.evaluation import LIKED_SCORE, load_dataset
from recommender.interactions import InteractionWeights, Kind, build_interactions

HELD_OUT_FRACTION = 0.2
MIN_USER_RATINGS = 20
ANSWERABLE_FRACTION = 0.5
STRATEGIES = ("cold start (no ratings)", "10 random", "10 most popular", "10 onboarding")


@dataclass(frozen=True)
class StrategyResult:
    strategy: str
    seen: float  # mean number of the asked movies the user had rated
    ndcg: float
    ndcg_liked: float
    recall: float


def run_onboarding_evaluation(path, *, asked: int = 10, k: int = 10, seed: int = 42) -> list[StrategyResult]:
    dataset = load_dataset(path)
    ratings, item_ids = dataset.ratings, dataset.item_ids
    users, counts = np.unique(ratings.user_ids, return_counts=True)
    rng = np.random.default_rng(seed)
    eligible = users[counts >= MIN_USER_RATINGS]
    new_users = np.sort(rng.choice(eligible, size=int(round(HELD_OUT_FRACTION * len(eligible))), replace=False))
    is_new = np.isin(ratings.user_ids, new_users)
    train = ratings.subset(~is_new)

    weights = InteractionWeights()
    interactions = build_interactions(
        user_ids=train.user_ids,
        item_ids=train.item_ids,
        kinds=np.full(len(train.user_ids), Kind.RATING),
        values=train.scores,
        timestamps=train.timestamps,
        weights=weights,
        all_item_ids=item_ids,
    )
    name = choose_algorithm(
        n_users=interactions.n_users, n_items=interactions.n_items, n_interactions=interactions.confidence.nnz
    )
    collaborative = production_model(name, n_interactions=interactions.confidence.nnz).fit(
        interactions.confidence, interactions.last_activity
    )
    model = fit_hybrid(interactions=interactions, item_features=dataset.features, collaborative=collaborative)

    # The new users' real ratings, users × items.
    columns = np.searchsorted(item_ids, ratings.item_ids[is_new])
    rows = np.searchsorted(new_users, ratings.user_ids[is_new])
    shape = (len(new_users), len(item_ids))
    answerable = rng.random(len(rows)) < ANSWERABLE_FRACTION
    scores = ratings.scores[is_new].astype(np.float32)
    known = sp.csr_matrix((scores[answerable], (rows[answerable], columns[answerable])), shape=shape)
    test = sp.csr_matrix((scores[~answerable], (rows[~answerable], columns[~answerable])), shape=shape)

    popular = np.argsort(-np.diff(interactions.ratings.tocsc().indptr), kind="stable")[:asked]
    onboarding = _onboarding_columns(path, train, item_ids, asked=asked)
    strategies = {
        STRATEGIES[0]: lambda user: np.zeros(0, dtype=np.int64),
        STRATEGIES[1]: lambda user: rng.choice(len(item_ids), size=asked, replace=False),
        STRATEGIES[2]: lambda user: popular,
        STRATEGIES[3]: lambda user: onboarding,
    }
    return [_score(label, choose, known, test, model, weights, k) for label, choose in strategies.items()]


def _score(
    label, choose, known: sp.csr_matrix, test: sp.csr_matrix, model, weights: InteractionWeights, k: int
) -> StrategyResult:
    """Each user rates what they can among ``choose(user)`` (``known``); their list is scored on ``test``."""
    profile_rows, profile_columns, profile_scores = [], [], []
    for user in range(known.shape[0]):
        asked = np.asarray(choose(user), dtype=np.int64)
        scores = known[user, asked].toarray().ravel() if len(asked) else np.zeros(0)
        seen = scores > 0
        profile_rows += [user] * int(seen.sum())
        profile_columns += asked[seen].tolist()
        profile_scores += scores[seen].tolist()
    shape = known.shape
    profile = sp.csr_matrix(
        (weights.rating_confidence(np.array(profile_scores)), (profile_rows, profile_columns)), shape=shape
    )
    recommended = model.recommend(profile, k=k, exclude=profile.astype(bool).tocsr()).items
    relevant = test.astype(bool).astype(np.float32).tocsr()
    liked = (test >= LIKED_SCORE).astype(np.float32).tocsr()
    return StrategyResult(
        strategy=label,
        seen=float(np.diff(profile.indptr).mean()),
        ndcg=float(np.nanmean(metrics.ndcg_at_k(recommended, relevant, k))),
        ndcg_liked=float(np.nanmean(metrics.ndcg_at_k(recommended, liked, k))),
        recall=float(np.nanmean(metrics.recall_at_k(recommended, relevant, k))),
    )


def _onboarding_columns(path, train, item_ids: np.ndarray, *, asked: int) -> np.ndarray:
    """The item columns onboarding asks a new user about, from the training ratings (as the API does from the
    database: the ``POOL_SIZE`` most-rated movies with ``POOL_MIN_RATINGS`` ratings, their genres and decades)."""
    columns = np.searchsorted(item_ids, train.item_ids)
    bins = np.clip(np.round(train.scores * 2).astype(np.int64) - 1, 0, SCORE_BINS - 1)
    histograms = np.zeros((len(item_ids), SCORE_BINS))
    np.add.at(histograms, (columns, bins), 1)
    counts = histograms.sum(axis=1)
    pool = np.argsort(-counts, kind="stable")[:POOL_SIZE]
    pool = pool[counts[pool] >= POOL_MIN_RATINGS]

    with open_dataset(path) as release:
        movies = list(release.movies())
    genre_names = sorted({genre for movie in movies for genre in movie.genres})
    genres = np.zeros((len(item_ids), len(genre_names)), dtype=bool)
    decades = np.full(len(item_ids), -1, dtype=np.int64)
    for movie in movies:
        column = np.searchsorted(item_ids, movie.movielens_id)
        for genre in movie.genres:
            genres[column, genre_names.index(genre)] = True
        year = normalize_title(movie.raw_title)[1]
        decades[column] = (year // 10) * 10 if year else -1
    candidates = Candidates(scores=informativeness(histograms[pool]), genres=genres[pool], decades=decades[pool])
    return pool[elicitation_pick(candidates, k=asked)]


def markdown_table(results: list[StrategyResult], *, k: int) -> str:
    lines = [
        f"| asked before the first list | rated of them (mean) | nDCG@{k} | nDCG@{k} (≥{LIKED_SCORE:g}★) "
        f"| recall@{k} |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {r.strategy} | {r.seen:.2f} | {r.ndcg:.4f} | {r.ndcg_liked:.4f} | {r.recall:.4f} |" for r in results]
    return "\n".join(lines)
