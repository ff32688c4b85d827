"""Offline evaluation of the recommenders on a MovieLens release (pure numpy/scipy; no Django).

Protocol (documented in docs/recommender.md):

1. Split: for every user with at least ``MIN_USER_RATINGS`` ratings, ``HOLDOUT_FRACTION`` of their ratings is
   held out as the test set — a seeded random choice (``random``) or their newest ratings (``temporal``);
   everything else (including all ratings of users with fewer) is training data. The same procedure, seeded
   differently, carves a validation set out of the training data.
2. Hyper-parameters are chosen on the validation split only: each algorithm is trained on training-minus-
   validation and scored on validation; the test split is used once, for the final table.
3. Each model is retrained on the whole training split and ranks every catalog movie the user has not rated in
   training; its top ``k`` are scored against the held-out ratings with binary relevance, under two definitions:
   every held-out rating is relevant (the protocol of Microsoft Recommenders' ML-100k and RecBole's ML-1M tables),
   and only held-out ratings of at least ``LIKED_SCORE`` stars. Lists are also measured by catalog coverage,
   genre diversity and novelty (``metrics.novelty``, from the training split's item popularity).

Tuning and whole runs are in ``recommender.tuning``, the written reports in ``recommender.evaluation_report``.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from datasets.movielens import open_dataset
from recommender import metrics
from recommender.algorithms import COLLABORATIVE_MODELS, ContentBased, Popularity, Trending
from recommender.algorithms.content import GENRE, TAG, ItemFeatures, feature_tokens
from recommender.algorithms.hybrid import BlendWeights, Hybrid, fit_hybrid
from recommender.interactions import Interactions, InteractionWeights, Kind, build_interactions
from recommender.ranking import NO_ITEM, top_k

HOLDOUT_FRACTION = 0.2
MIN_USER_RATINGS = 5
LIKED_SCORE = 4.0
LIKED_SUFFIX = f" (≥{LIKED_SCORE:g}★)"
SCORING_BATCH_USERS = 1024


@dataclass(frozen=True)
class RatingLog:
    """Ratings as parallel arrays."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    scores: np.ndarray
    timestamps: np.ndarray

    def subset(self, mask: np.ndarray) -> "RatingLog":
        return RatingLog(self.user_ids[mask], self.item_ids[mask], self.scores[mask], self.timestamps[mask])


@dataclass(frozen=True)
class Dataset:
    """A MovieLens release in arrays: its ratings, its movies (``item_ids``, sorted) and their content features
    (genres and tags; rows aligned with ``item_ids``)."""

    ratings: RatingLog
    item_ids: np.ndarray
    features: ItemFeatures


def load_dataset(path: str | Path) -> Dataset:
    """Reads a release through the importer's reader (any layout ``datasets.movielens`` knows)."""
    with open_dataset(path) as release:
        rating_arrays = release.ratings_array()
        movies = list(release.movies())
        tags = list(release.tags())
    ratings = RatingLog(
        user_ids=rating_arrays.user_id,
        item_ids=rating_arrays.movie_id,
        scores=rating_arrays.score,
        timestamps=rating_arrays.timestamp,
    )
    item_ids = np.unique(np.concatenate([[movie.movielens_id for movie in movies], ratings.item_ids]))
    genre_of = [(movie.movielens_id, genre) for movie in movies for genre in movie.genres]
    described_ids = np.array([movie_id for movie_id, _ in genre_of] + [tag.movie_id for tag in tags], dtype=np.int64)
    tokens = np.concatenate(
        [feature_tokens(GENRE, [genre for _, genre in genre_of]), feature_tokens(TAG, [tag.tag for tag in tags])]
    )
    known = np.isin(described_ids, item_ids)  # a tag on a movie the release does not list has no row
    features = ItemFeatures.from_pairs(
        item_columns=np.searchsorted(item_ids, described_ids[known]), tokens=tokens[known], n_items=len(item_ids)
    )
    return Dataset(ratings=ratings, item_ids=item_ids, features=features)


def holdout_mask(
    *, user_ids: np.ndarray, fraction: float, min_ratings: int, seed: int, timestamps: np.ndarray | None = None
) -> np.ndarray:
    """Which ratings to hold out: ``round(fraction × n)`` of each user's ``n`` ratings, for users with at least
    ``min_ratings`` of them. Without ``timestamps`` a seeded random choice; with them the user's most recent
    ratings (the seed only breaks ties between ratings made in the same second). Vectorised: one random key per
    rating, ranked within each user."""
    random_keys = np.random.default_rng(seed).random(len(user_ids))
    keys = (random_keys, user_ids) if timestamps is None else (random_keys, -np.asarray(timestamps), user_ids)
    order = np.lexsort(keys)
    sorted_users = user_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, len(sorted_users)])
    rank_in_user = np.arange(len(sorted_users)) - np.repeat(starts, counts)
    holdout_counts = np.where(counts >= min_ratings, np.floor(fraction * counts + 0.5), 0).astype(np.int64)
    held_out = np.zeros(len(user_ids), dtype=bool)
    held_out[order] = rank_in_user < np.repeat(holdout_counts, counts)
    return held_out


SPLITS = ("random", "temporal")


@dataclass
class Split:
    """Training ratings and held-out ratings over fixed user rows and item columns. ``kind`` is how the ratings
    were held out: ``random`` (a seeded random fifth of each user's) or ``temporal`` (each user's newest fifth)."""

    train: RatingLog
    held_out: RatingLog
    user_ids: np.ndarray
    item_ids: np.ndarray
    kind: str = "random"
    _interactions: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, ratings: RatingLog, item_ids: np.ndarray, *, seed: int, kind: str = "random") -> "Split":
        if kind not in SPLITS:
            raise ValueError(f"unknown split {kind!r}: one of {', '.join(SPLITS)}")
        mask = holdout_mask(
            user_ids=ratings.user_ids,
            fraction=HOLDOUT_FRACTION,
            min_ratings=MIN_USER_RATINGS,
            seed=seed,
            timestamps=ratings.timestamps if kind == "temporal" else None,
        )
        return cls(ratings.subset(~mask), ratings.subset(mask), np.unique(ratings.user_ids), item_ids, kind)

    def interactions(self, weights: InteractionWeights) -> Interactions:
        """The training interactions under ``weights`` (cached: tuning asks for the same ones many times)."""
        if weights not in self._interactions:
            self._interactions[weights] = build_interactions(
                user_ids=self.train.user_ids,
                item_ids=self.train.item_ids,
                kinds=np.full(len(self.train.user_ids), Kind.RATING),
                values=self.train.scores,
                timestamps=self.train.timestamps,
                weights=weights,
                all_user_ids=self.user_ids,
                all_item_ids=self.item_ids,
            )
        return self._interactions[weights]

    def relevant(self, min_score: float) -> sp.csr_matrix:
        """Users × items: held-out ratings of at least ``min_score`` stars."""
        liked = self.held_out.scores >= min_score
        rows = np.searchsorted(self.user_ids, self.held_out.user_ids[liked])
        columns = np.searchsorted(self.item_ids, self.held_out.item_ids[liked])
        ones = np.ones(len(rows), dtype=np.float32)
        return sp.csr_matrix((ones, (rows, columns)), shape=(len(self.user_ids), len(self.item_ids)))

    @cached_property
    def relevance(self) -> dict[str, sp.csr_matrix]:
        """The two relevance definitions, by the suffix their metrics carry."""
        return {"": self.relevant(0.0), LIKED_SUFFIX: self.relevant(LIKED_SCORE)}

    def validation(self, *, seed: int) -> "Split":
        """A split of this split's training data, for tuning."""
        inner = Split.of(self.train, self.item_ids, seed=seed, kind=self.kind)
        return Split(inner.train, inner.held_out, self.user_ids, self.item_ids, self.kind)

    @cached_property
    def item_popularity(self) -> np.ndarray:
        """Each item's share of the users who rated it in training, for novelty."""
        counts = np.bincount(np.searchsorted(self.item_ids, self.train.item_ids), minlength=len(self.item_ids))
        return counts / max(len(self.user_ids), 1)


@dataclass(frozen=True)
class Config:
    """One algorithm with one set of hyper-parameters. ``hybrid`` takes ``collaborative`` (a Config), ``blend``
    (``BlendWeights`` fields) and ``diversity``."""

    label: str
    algorithm: str
    params: dict = field(default_factory=dict)
    liked_bonus: float = InteractionWeights.liked_bonus

    @property
    def title(self) -> str:
        """The label, with the diversity re-rank when there is one: "hybrid (EASE) + diversity 0.2"."""
        diversity = self.params.get("diversity")
        return f"{self.label} + diversity {diversity:g}" if diversity else self.label

    def with_params(self, **params) -> "Config":
        return replace(self, params={**self.params, **params})

    def describe(self) -> dict:
        params = {key: value.describe() if isinstance(value, Config) else value for key, value in self.params.items()}
        if self.algorithm in COLLABORATIVE_MODELS or self.algorithm == "hybrid":
            params["liked_bonus"] = self.liked_bonus
        return {"algorithm": self.algorithm, **params}


Ranker = Callable[[np.ndarray, int], np.ndarray]


def fit_ranker(config: Config, split: Split, features: ItemFeatures) -> Ranker:
    """Trains ``config`` on ``split``'s training data; the result ranks given user rows, training items excluded."""
    train = split.interactions(InteractionWeights(liked_bonus=config.liked_bonus))
    if config.algorithm == "popularity":
        model = Popularity(**config.params).fit(train.ratings)
    elif config.algorithm == "trending":
        model = Trending(**config.params).fit(train.last_activity)
    elif config.algorithm == "content":
        model = ContentBased(**config.params).fit(features.matrix)
    else:
        model = COLLABORATIVE_MODELS[config.algorithm](**config.params).fit(train.confidence, train.last_activity)
    return lambda rows, k: top_k(model.score(train.confidence[rows]), k, exclude=train.exclude[rows])[0]


@dataclass(frozen=True)
class Result:
    config: Config
    metrics: dict[str, float]
    fit_seconds: float
    recommend_seconds: float

    def as_json(self) -> dict:
        return {
            "label": self.config.title,
            "params": self.config.describe(),
            "metrics": self.metrics,
            "fit_seconds": round(self.fit_seconds, 3),
            "recommend_seconds": round(self.recommend_seconds, 3),
        }


def evaluate_config(config: Config, split: Split, features: ItemFeatures, *, k: int) -> Result:
    started = time.perf_counter()
    ranker = fit_ranker(config, split, features)
    return evaluate_ranker(config, ranker, split, features, k=k, fit_seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class HybridTrial:
    """One fitted hybrid, evaluated under several blend and diversity settings without refitting."""

    hybrid: Hybrid
    train: Interactions
    fit_seconds: float

    @classmethod
    def fit(cls, collaborative: Config, split: Split, features: ItemFeatures) -> "HybridTrial":
        started = time.perf_counter()
        train = split.interactions(InteractionWeights(liked_bonus=collaborative.liked_bonus))
        model = COLLABORATIVE_MODELS[collaborative.algorithm](**collaborative.params).fit(
            train.confidence, train.last_activity
        )
        hybrid = fit_hybrid(interactions=train, item_features=features, collaborative=model)
        return cls(hybrid, train, time.perf_counter() - started)

    def evaluate(self, configs: list[Config], split: Split, features: ItemFeatures, *, k: int) -> list[Result]:
        results = []
        for config in configs:
            variant = self.hybrid.with_settings(
                weights=BlendWeights(**config.params["blend"]), diversity=config.params["diversity"]
            )

            def ranker(rows: np.ndarray, k: int, variant: Hybrid = variant) -> np.ndarray:
                return variant.recommend(self.train.confidence[rows], k=k, exclude=self.train.exclude[rows]).items

            results.append(evaluate_ranker(config, ranker, split, features, k=k, fit_seconds=self.fit_seconds))
        return results


def evaluate_ranker(
    config: Config, ranker: Ranker, split: Split, features: ItemFeatures, *, k: int, fit_seconds: float
) -> Result:
    """Ranks the top ``k`` for every user with a held-out rating, in batches, and scores the lists."""
    started = time.perf_counter()
    rows = np.flatnonzero(metrics.relevant_counts(split.relevance[""]) > 0)
    recommended = np.full((len(split.user_ids), k), NO_ITEM)
    for start in range(0, len(rows), SCORING_BATCH_USERS):
        batch = rows[start : start + SCORING_BATCH_USERS]
        recommended[batch] = ranker(batch, k)
    recommend_seconds = time.perf_counter() - started
    scores = {
        "coverage": metrics.catalog_coverage(recommended[rows], len(split.item_ids), k),
        "genre diversity": float(np.nanmean(metrics.intra_list_diversity(recommended[rows], features.genre_matrix()))),
        "novelty": float(
            np.nanmean(metrics.novelty(recommended[rows], split.item_popularity, n_users=len(split.user_ids)))
        ),
    }
    for suffix, relevant in split.relevance.items():
        per_user = {
            f"precision@{k}": metrics.precision_at_k(recommended, relevant, k),
            f"recall@{k}": metrics.recall_at_k(recommended, relevant, k),
            f"ndcg@{k}": metrics.ndcg_at_k(recommended, relevant, k),
            f"map@{k}": metrics.average_precision_at_k(recommended, relevant, k),
        }
        scores.update({name + suffix: float(np.nanmean(values)) for name, values in per_user.items()})
    return Result(config, scores, fit_seconds, recommend_seconds)


def objective(result: Result, k: int) -> float:
    """What tuning maximises: nDCG@k averaged over both relevance definitions, so that neither "anything the
    user rated" nor "what they liked" is optimised at the other's expense."""
    return (result.metrics[f"ndcg@{k}"] + result.metrics[f"ndcg@{k}{LIKED_SUFFIX}"]) / 2


def best(results: list[Result], k: int) -> Config:
    return max(results, key=lambda result: objective(result, k)).config
