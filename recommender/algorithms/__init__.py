"""Recommender models (pure numpy/scipy/implicit, no Django), the registry of them and the size-based choice of
the production collaborative model.

Typical use by the training pipeline::

    interactions = build_interactions(...)
    name = choose_algorithm(n_users=..., n_items=..., n_interactions=...)
    collaborative = production_model(name, n_interactions=interactions.confidence.nnz).fit(
        interactions.confidence, interactions.last_activity
    )
    model = fit_hybrid(interactions=interactions, item_features=features, collaborative=collaborative)
    model.save(path)            # one .npz; load_model(path) in the worker
    model.recommend(interactions.confidence[rows], k=100, exclude=interactions.exclude[rows])
"""

from pathlib import Path

from recommender.algorithms.als import ALS
from recommender.algorithms.base import CollaborativeRecommender, Recommender, read_saved
from recommender.algorithms.content import ContentBased
from recommender.algorithms.ease import DLAE, EASE, EDLAE
from recommender.algorithms.hybrid import Hybrid, fit_hybrid
from recommender.algorithms.itemknn import ItemKNN
from recommender.algorithms.popularity import Popularity, Trending

COLLABORATIVE_MODELS: dict[str, type[CollaborativeRecommender]] = {
    model.name: model for model in (EASE, DLAE, EDLAE, ItemKNN, ALS)
}
MODELS: dict[str, type[Recommender]] = {
    model.name: model for model in (*COLLABORATIVE_MODELS.values(), ContentBased, Popularity, Trending, Hybrid)
}

# EASE inverts a dense items × items matrix: beyond this catalog size even its pruned model (EASE.max_items) would
# leave out too much of the catalog, and ALS's memory grows only linearly with the items.
EASE_MAX_CATALOG = 30_000
# Building XᵀX costs about Σ_u n_u² multiply-adds (n_u = interactions of user u), at least n_interactions² /
# n_users; past this many (minutes in scipy on two cores) ALS, linear in n_interactions, trains faster.
EASE_MAX_GRAM_WORK = 2e10
# Precomputing every user's list with EASE is a sparse × dense product of n_interactions × kept items
# multiply-adds, each streaming a row of the dense B from memory: scipy managed about 5·10⁸ a second here
# (docs/scaling.md), so ML-20M (20M × 15k) would spend ten minutes on it where ALS's dense factor product takes
# seconds. Past this many, ALS.
EASE_MAX_SCORING_WORK = 5e10


def choose_algorithm(*, n_users: int, n_items: int, n_interactions: int) -> str:
    """The production collaborative model for data of this size: DLAE (EASE's closed form with a per-item
    dropout penalty, the same cost) while it fits and its scoring of every user stays cheap, ALS beyond."""
    gram_work = n_interactions**2 / max(n_users, 1)
    scoring_work = n_interactions * min(n_items, EASE().max_items)
    fits = n_items <= EASE_MAX_CATALOG and gram_work <= EASE_MAX_GRAM_WORK
    return DLAE.name if fits and scoring_work <= EASE_MAX_SCORING_WORK else ALS.name


# ALS's iterations at ML-10M size and beyond: fewer iterations cut a third of the fit for well under 1 % of
# nDCG@10 (docs/scaling.md, "Training: fit"). Below this size the fit takes seconds and keeps its 15.
ALS_LARGE_DATA_INTERACTIONS = 5_000_000
ALS_LARGE_DATA_ITERATIONS = 10


def production_model(name: str, *, n_interactions: int) -> CollaborativeRecommender:
    """The unfitted collaborative model ``name`` with its production settings for data of this size."""
    if name == ALS.name and n_interactions >= ALS_LARGE_DATA_INTERACTIONS:
        return ALS(iterations=ALS_LARGE_DATA_ITERATIONS)
    return COLLABORATIVE_MODELS[name]()


def load_model(path: str | Path) -> Recommender:
    """A model saved with ``Recommender.save``."""
    algorithm, params, arrays = read_saved(path)
    return MODELS[algorithm].from_state(params, arrays)


__all__ = [
    "ALS",
    "COLLABORATIVE_MODELS",
    "DLAE",
    "EASE",
    "EDLAE",
    "MODELS",
    "ContentBased",
    "Hybrid",
    "ItemKNN",
    "Popularity",
    "Trending",
    "choose_algorithm",
    "fit_hybrid",
    "load_model",
    "production_model",
]
