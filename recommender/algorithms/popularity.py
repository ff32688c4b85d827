"""Non-personalised rankings: popular (Bayesian average) and trending (time-decayed activity)."""

from typing import Self

import numpy as np
import scipy.sparse as sp

from recommender.algorithms.base import Recommender, broadcast_rows

SECONDS_PER_DAY = 86_400.0


def bayesian_average(*, counts: np.ndarray, sums: np.ndarray, prior_weight: float, prior_mean: float) -> np.ndarray:
    """Mean rating shrunk towards ``prior_mean`` as if every item had ``prior_weight`` extra ratings of it, so a
    single 5★ does not outrank hundreds of 4.5★ (same formula as ``users.statistics.movie_stats_refresh``)."""
    return (prior_weight * prior_mean + sums) / (prior_weight + counts)


class Popularity(Recommender):
    """Ranks items by how many people liked them: ``rating count × Bayesian average rating / 5``.

    That is the catalog's ``Movie.popularity``: the count alone would rank much-watched disappointments high and
    the Bayesian average alone would rank obscure gems first; their product is "how many people liked it".
    ``prior_mean`` defaults to the global mean rating of the data.
    """

    name = "popularity"
    hyperparameters = ("prior_weight", "prior_mean")
    fitted_attributes = ("item_scores",)

    def __init__(self, *, prior_weight: float = 10.0, prior_mean: float | None = None):
        self.prior_weight = prior_weight
        self.prior_mean = prior_mean
        self.item_scores: np.ndarray | None = None

    def fit(self, ratings: sp.csr_matrix) -> Self:
        """``ratings``: users × items star scores (``Interactions.ratings``; 0 = not rated)."""
        counts = np.diff(ratings.tocsc().indptr).astype(np.float64)
        sums = np.asarray(ratings.sum(axis=0), dtype=np.float64).ravel()
        prior_mean = self.prior_mean
        if prior_mean is None:
            prior_mean = float(sums.sum() / counts.sum()) if counts.sum() else 0.0
        bayesian = bayesian_average(counts=counts, sums=sums, prior_weight=self.prior_weight, prior_mean=prior_mean)
        self.item_scores = (counts * bayesian / 5.0).astype(np.float32)
        return self

    def score(self, user_rows: sp.csr_matrix) -> np.ndarray:
        return broadcast_rows(self.item_scores, user_rows.shape[0])


class Trending(Recommender):
    """Ranks items by recent activity: each user's newest positive event on an item counts
    ``0.5 ** (age / half_life)``, so activity halves in weight every ``half_life_days``.

    Counting one event per user and item keeps a single enthusiast re-watching a movie from making it trend.
    ``now`` is a parameter because datasets end in the past (MovieLens ml-latest-small ends in 2018): by default
    it is the newest event in the data, so "trending" means trending at the end of the log. Events after ``now``
    are ignored.
    """

    name = "trending"
    hyperparameters = ("half_life_days", "now")
    fitted_attributes = ("item_scores",)

    def __init__(self, *, half_life_days: float = 30.0, now: float | None = None):
        self.half_life_days = half_life_days
        self.now = now
        self.item_scores: np.ndarray | None = None

    def fit(self, last_activity: sp.csr_matrix) -> Self:
        """``last_activity``: users × items Unix seconds of each user's newest positive event
        (``Interactions.last_activity``)."""
        activity = last_activity.tocoo()
        now = self.now if self.now is not None else (float(activity.data.max()) if activity.nnz else 0.0)
        age_days = (now - activity.data) / SECONDS_PER_DAY
        decayed = np.where(age_days >= 0, 0.5 ** (np.maximum(age_days, 0) / self.half_life_days), 0.0)
        self.now = now
        self.item_scores = np.bincount(activity.col, weights=decayed, minlength=activity.shape[1]).astype(np.float32)
        return self

    def score(self, user_rows: sp.csr_matrix) -> np.ndarray:
        return broadcast_rows(self.item_scores, user_rows.shape[0])
