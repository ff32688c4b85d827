"""The production recommender: collaborative filtering blended with content and popularity, with cold start,
exclusions, a diversity re-rank and a ``source`` for every recommendation."""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Self

import numpy as np
import scipy.sparse as sp

from recommender.algorithms.base import CollaborativeRecommender, Recommender, l2_normalize_rows
from recommender.algorithms.content import ContentBased, ItemFeatures
from recommender.algorithms.popularity import Popularity, Trending
from recommender.interactions import Interactions
from recommender.ranking import NO_ITEM, Explanation, diversify, explain, top_k

# Off in production: around DLAE, the re-rank cost 0.6 % of validation nDCG@10 at 0.1 and 1.4 % at 0.2 for
# +0.012 / +0.024 genre diversity and no coverage (docs/recommender.md); ``diversify`` stays for those who ask.
DEFAULT_DIVERSITY = 0.0


class Source(IntEnum):
    """Where a recommendation comes from: the one list of sources, stored as these codes in the score store,
    written by ``recommend`` as ``label`` and named so in the API. SIMILAR is never stored: serving falls back to
    movies similar to one the user rated."""

    COLLABORATIVE = 0
    CONTENT = 1
    POPULAR = 2
    TRENDING = 3
    SIMILAR = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class BlendWeights:
    """Weight of each component's scores, each first scaled so that the user's best item scores 1.

    Chosen on validation splits (see docs/recommender.md): collaborative filtering carries the ranking and a
    little content lifts items it cannot score (the unkept long tail): around DLAE it leaves nDCG@10 level and
    raises catalog coverage and novelty. Blending in popularity only lowered validation nDCG, so by default
    popularity serves the cold start alone.
    """

    collaborative: float = 1.0
    content: float = 0.05
    popularity: float = 0.0

    def __post_init__(self):
        if min(asdict(self).values()) < 0 or max(asdict(self).values()) <= 0:
            raise ValueError(f"blend weights must be non-negative with at least one positive: {self}")


@dataclass(frozen=True)
class Recommendations:
    """Ranked lists for a batch of users, ``batch × k``, best first. Missing places hold ``NO_ITEM``."""

    items: np.ndarray
    scores: np.ndarray
    sources: np.ndarray

    def source_labels(self, row: int) -> list[str]:
        return [Source(code).label for code, item in zip(self.sources[row], self.items[row], strict=True) if item >= 0]


class Hybrid(Recommender):
    """Blends fitted components and ranks.

    - A user with interactions gets ``Σ weight × scaled component score``; each item's ``source`` is the
      component that added the most to it.
    - A user without interactions gets popular movies, those in a declared favorite genre first (``popular``).
    - Anonymous visitors get trending movies (``recommend_anonymous``).
    - What the caller excludes (rated, watched, hidden: ``Interactions.exclude``) is never returned.
    - With ``diversity > 0`` a personalised list is re-ranked from its top ``candidate_factor × k`` by
      ``ranking.diversify`` over ``genre_vectors`` (unit-length item genre vectors), which breaks up runs of
      same-genre movies.
    """

    name = "hybrid"

    def __init__(
        self,
        *,
        collaborative: CollaborativeRecommender,
        content: ContentBased,
        popularity: Popularity,
        trending: Trending,
        genre_vectors: np.ndarray,
        weights: BlendWeights | None = None,
        diversity: float = DEFAULT_DIVERSITY,
        candidate_factor: int = 3,
    ):
        self.collaborative = collaborative
        self.content = content
        self.popularity = popularity
        self.trending = trending
        self.genre_vectors = genre_vectors
        self.weights = weights or BlendWeights()
        self.diversity = diversity
        self.candidate_factor = candidate_factor

    def with_settings(self, *, weights: BlendWeights, diversity: float) -> "Hybrid":
        """The same fitted components blended and re-ranked differently (no refitting)."""
        return Hybrid(
            collaborative=self.collaborative,
            content=self.content,
            popularity=self.popularity,
            trending=self.trending,
            genre_vectors=self.genre_vectors,
            weights=weights,
            diversity=diversity,
            candidate_factor=self.candidate_factor,
        )

    def score(self, user_rows: sp.csr_matrix, declared: sp.csr_matrix | None = None) -> np.ndarray:
        return self._blend(user_rows, declared)[0]

    def _blend(self, user_rows: sp.csr_matrix, declared: sp.csr_matrix | None) -> tuple[np.ndarray, "BlendParts"]:
        """Blended scores, and the weighted components that name each listed item's ``Source``."""
        components = [
            (Source.COLLABORATIVE, self.weights.collaborative, lambda: self.collaborative.score(user_rows)),
            (Source.CONTENT, self.weights.content, lambda: self.content.score(user_rows, declared)),
            (Source.POPULAR, self.weights.popularity, lambda: self.popularity.score(user_rows)),
        ]
        parts = []
        for source, weight, compute in components:
            if weight > 0:
                part = scaled_to_best(compute())
                if weight != 1.0:
                    part *= np.float32(weight)
                parts.append((source, part))
        total = parts[0][1].copy()
        for _, part in parts[1:]:
            total += part
        return total, BlendParts(parts)

    def cold_start_scores(self, n_rows: int, favorite_genres: sp.csr_matrix | None) -> np.ndarray:
        """Popularity scaled into ``[0, 1]``, plus 1 for movies in one of the user's favorite genres (in the
        content feature space, ``ItemFeatures.user_matrix``): genre-aware popular."""
        scores = np.repeat(scaled_to_best(self.popularity.item_scores[None, :]), n_rows, axis=0)
        if favorite_genres is not None:
            in_favorite_genre = (favorite_genres.sign() @ self.content.item_vectors.sign().T).toarray() > 0
            scores += in_favorite_genre
        return scores

    def recommend(
        self,
        user_rows: sp.csr_matrix,
        *,
        k: int,
        exclude: sp.csr_matrix | None,
        favorite_genres: sp.csr_matrix | None = None,
    ) -> Recommendations:
        """Top ``k`` for a batch of users; ``favorite_genres`` (batch × content features) is optional."""
        personalised = np.diff(user_rows.indptr) > 0
        if personalised.all():
            scores, parts = self._blend(user_rows, favorite_genres)
            return self._rank(scores, parts.sources_at, k, exclude, personalised)
        scores = self.cold_start_scores(user_rows.shape[0], favorite_genres)
        warm = np.flatnonzero(personalised)
        warm_parts = None
        if len(warm):
            declared = favorite_genres[warm] if favorite_genres is not None else None
            scores[warm], warm_parts = self._blend(user_rows[warm], declared)

        def sources_at(items: np.ndarray) -> np.ndarray:
            sources = np.full(items.shape, Source.POPULAR, dtype=np.int8)
            if warm_parts is not None:
                sources[warm] = warm_parts.sources_at(items[warm])
            return sources

        return self._rank(scores, sources_at, k, exclude, personalised)

    def recommend_anonymous(self, *, k: int, exclude: sp.csr_matrix | None = None) -> Recommendations:
        """Trending movies for a visitor nobody knows (one row)."""
        scores = self.trending.item_scores[None, :]
        return self._rank(scores, lambda items: np.full(items.shape, Source.TRENDING, dtype=np.int8), k, exclude)

    def similar(self, items: np.ndarray, *, k: int) -> Recommendations:
        """Movies like each of ``items`` ("similar" lists): the blend for a user who interacted with that item
        alone, the item itself excluded."""
        n_items = self.genre_vectors.shape[0]
        just_that_item = sp.csr_matrix(
            (np.ones(len(items), dtype=np.float32), (np.arange(len(items)), items)), shape=(len(items), n_items)
        )
        scores, parts = self._blend(just_that_item, None)
        scores[scores <= 0] = -np.inf  # nothing links these to the item: not "similar", whatever their index
        return self._rank(scores, parts.sources_at, k, just_that_item)

    def explain(self, user_row: sp.csr_matrix, items: np.ndarray) -> list[Explanation | None]:
        """For each of ``items``, the user's item that added most to its collaborative score ("Because you rated
        Alien 5★"); ``None`` where the user's history does not speak for it."""
        items = np.asarray(items)
        contributions = self.collaborative.contributions(user_row, items)
        return explain(user_items=user_row.indices, contributions=contributions, items=items)

    def strongest_contributors(self, user_rows: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        """``explain`` for a batch (``CollaborativeRecommender.strongest_contributors``): for each listed item,
        the column of the user's item that added most to its collaborative score, or ``NO_ITEM``."""
        return self.collaborative.strongest_contributors(user_rows, items)

    def _rank(
        self,
        scores: np.ndarray,
        sources_at: Callable[[np.ndarray], np.ndarray],
        k: int,
        exclude: sp.csr_matrix | None,
        personalised: np.ndarray | None = None,
    ) -> Recommendations:
        """Top ``k`` per row; rows flagged ``personalised`` get the diversity re-rank. Popular, trending and
        "similar" lists do not: the first two are what the user asked for (a favorite genre, what is hot), and
        variety would work against the point of the third."""
        if self.diversity > 0 and personalised is not None and personalised.any():
            candidates, candidate_scores = top_k(scores, k * self.candidate_factor, exclude=exclude)
            diverse, diverse_scores = diversify(
                candidates, candidate_scores, k, item_vectors=self.genre_vectors, penalty=self.diversity
            )
            width = diverse.shape[1]
            items = np.where(personalised[:, None], diverse, candidates[:, :width])
            best = np.where(personalised[:, None], diverse_scores, candidate_scores[:, :width])
        else:
            items, best = top_k(scores, k, exclude=exclude)
        picked_sources = sources_at(np.maximum(items, 0))
        return Recommendations(items=items, scores=best, sources=np.where(items == NO_ITEM, -1, picked_sources))

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        params = {
            "weights": asdict(self.weights),
            "diversity": self.diversity,
            "candidate_factor": self.candidate_factor,
            "collaborative_algorithm": self.collaborative.name,
        }
        arrays = {"genre_vectors": self.genre_vectors}
        for part in ("collaborative", "content", "popularity", "trending"):
            part_params, part_arrays = getattr(self, part).state()
            params[part] = part_params
            arrays.update({f"{part}.{key}": value for key, value in part_arrays.items()})
        return params, arrays

    @classmethod
    def from_state(cls, params: dict, arrays: dict[str, np.ndarray]) -> Self:
        # Imported here: the registry imports this module.
        from recommender.algorithms import COLLABORATIVE_MODELS

        def part(name: str, model_class: type[Recommender]) -> Recommender:
            prefix = f"{name}."
            part_arrays = {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}
            return model_class.from_state(params[name], part_arrays)

        return cls(
            collaborative=part("collaborative", COLLABORATIVE_MODELS[params["collaborative_algorithm"]]),
            content=part("content", ContentBased),
            popularity=part("popularity", Popularity),
            trending=part("trending", Trending),
            genre_vectors=arrays["genre_vectors"],
            weights=BlendWeights(**params["weights"]),
            diversity=params["diversity"],
            candidate_factor=params["candidate_factor"],
        )


@dataclass(frozen=True)
class BlendParts:
    """Each blended component's weighted, scaled scores for a batch. An item's ``Source`` is the component that
    added most to its score (the earlier one on a tie, collaborative where none added anything); it is looked
    up for the listed items only, which at ML-20M size saves a masked write over every user × item per
    component."""

    parts: list[tuple[Source, np.ndarray]]

    def sources_at(self, items: np.ndarray) -> np.ndarray:
        """The ``Source`` of each of ``items`` (batch × k item columns, in this batch's row order)."""
        sources = np.full(items.shape, Source.COLLABORATIVE, dtype=np.int8)
        strongest = np.zeros(items.shape, dtype=np.float32)
        for source, part in self.parts:
            values = np.take_along_axis(part, items, axis=1)
            sources[values > strongest] = source
            np.maximum(strongest, values, out=strongest)
        return sources


def scaled_to_best(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its best score, so components with different scales can be blended; negative and
    ``-inf`` scores (evidence against, or "cannot score") become 0. Three passes over the batch (clip, row
    maximum, divide): at ML-20M size it runs on 138k users × 27k items per component."""
    clipped = np.maximum(scores, np.float32(0.0), dtype=np.float32)  # -inf → 0; +inf and NaN stay
    if clipped.shape[1] == 0:
        return clipped
    best = clipped.max(axis=1, keepdims=True)
    if not np.isfinite(best).all():  # a +inf or NaN somewhere: those rows need the full treatment
        unusual = ~np.isfinite(best).ravel()
        clipped[unusual] = np.where(np.isfinite(clipped[unusual]), clipped[unusual], 0.0)
        best[unusual] = clipped[unusual].max(axis=1, keepdims=True)
    # Rows whose best is 0 are all zeros already.
    return np.divide(clipped, best, out=clipped, where=best > 0)


def fit_hybrid(
    *,
    interactions: Interactions,
    item_features: ItemFeatures,
    collaborative: CollaborativeRecommender,
    weights: BlendWeights | None = None,
    diversity: float = DEFAULT_DIVERSITY,
    trending_half_life_days: float = 30.0,
    now: float | None = None,
) -> Hybrid:
    """Fits the cheap components on one snapshot and assembles the hybrid around ``collaborative``, a model
    already fitted on ``interactions.confidence`` (the expensive part, timed and chosen by the caller: see
    ``choose_algorithm``). ``item_features`` rows must be ``interactions``' item columns, in order; ``now``
    (Unix seconds) anchors trending and defaults to the newest event."""
    if item_features.matrix.shape[0] != interactions.n_items:
        raise ValueError(
            f"item_features has {item_features.matrix.shape[0]} rows for {interactions.n_items} item columns"
        )
    genre_vectors = l2_normalize_rows(item_features.genre_matrix().astype(np.float32)).toarray()
    return Hybrid(
        collaborative=collaborative,
        content=ContentBased().fit(item_features.matrix),
        popularity=Popularity().fit(interactions.ratings),
        trending=Trending(half_life_days=trending_half_life_days, now=now).fit(interactions.last_activity),
        genre_vectors=genre_vectors,
        weights=weights,
        diversity=diversity,
    )
