"""What ``Recommendation.score`` means: the estimated chance that the movie is one the user goes on to watch and
rate, from where it stands in what kind of list (pure numpy; no Django).

Measured offline (``evaluate_recommender --strategy all``: the protocol's held-out ratings, ml-latest-small, seed
42): for every kind of list, the share of users for whom the movie at place ``p`` (1 = first) was one of their
held-out ratings, fitted as ``a × p^−b``. The same curve serves every user, so scores are comparable across
lists and sources — a popular fallback's first movie scores what a popular list's first movie earned offline,
below a personal list's first — and a list's scores never increase down the list (``calibrated`` takes the
running minimum, for lists that join kinds, e.g. personal picks topped up with popular ones).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Curve:
    """Hit rate at place ``p`` (1-based): ``a × p^−b``, capped to [0, 1]."""

    a: float
    b: float

    def at(self, places: np.ndarray) -> np.ndarray:
        return np.clip(self.a * np.power(places.astype(np.float64), -self.b), 0.0, 1.0)


# Fitted by ``evaluate_recommender --strategy all`` (docs/recommender.md); a list served from one of the
# precomputed lists or a fallback takes the curve of its kind. ``similar`` (movies like the user's recent high
# ratings) is the production model's item-to-item view and is not measured apart: it takes the balanced curve.
CURVES: dict[str, Curve] = {
    "balanced": Curve(a=0.8121, b=0.5588),
    "familiar": Curve(a=0.8152, b=0.573),
    "discovery": Curve(a=0.717, b=0.5248),
    "similar": Curve(a=0.8121, b=0.5588),
    "popular": Curve(a=0.3093, b=0.4277),
    "trending": Curve(a=0.0636, b=0.159),
}


def calibrated(kinds: list[str]) -> list[float]:
    """Scores of a served list, best first, whose ``i``-th movie comes from a list of kind ``kinds[i]`` (a
    ``CURVES`` key) and stands at place ``i + 1``: each kind's curve at that place, never above the score before
    it."""
    if not kinds:
        return []
    places = np.arange(1, len(kinds) + 1)
    scores = np.empty(len(kinds))
    for kind in set(kinds):
        at_kind = np.array([listed == kind for listed in kinds])
        scores[at_kind] = CURVES[kind].at(places[at_kind])
    return [round(float(score), 4) for score in np.minimum.accumulate(scores)]
