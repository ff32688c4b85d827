"""The offline evaluation's runs (pure numpy/scipy; no Django): tuning on a validation split, then one pass over
the test split for every algorithm, the tuned hybrid and the production configuration.

``run_evaluations`` loads a release once and evaluates it under several splits (``random``, ``temporal``) and
seeds in one process; ``recommender.evaluation`` holds the protocol, ``recommender.evaluation_report`` the tables.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from recommender import metrics
from recommender.algorithms import choose_algorithm, production_model
from recommender.algorithms.content import ItemFeatures
from recommender.algorithms.hybrid import DEFAULT_DIVERSITY, BlendWeights
from recommender.evaluation import (
    HOLDOUT_FRACTION,
    LIKED_SCORE,
    MIN_USER_RATINGS,
    Config,
    Dataset,
    HybridTrial,
    Result,
    Split,
    best,
    evaluate_config,
    load_dataset,
    objective,
)

# The searched grids; the report lists every validation result next to the value chosen.
LIKED_BONUSES = (0.0, 0.5, 1.0)
GRIDS: dict[str, list[dict]] = {
    "ease": [{"l2": l2} for l2 in (100.0, 200.0, 400.0)],
    "dlae": [{"dropout": dropout, "l2": l2} for dropout, l2 in ((0.33, 200.0), (0.5, 200.0), (0.5, 400.0))],
    "edlae": [{"dropout": dropout, "l2": l2} for dropout, l2 in ((0.25, 100.0), (0.5, 100.0), (0.5, 200.0))],
    "itemknn": [{"neighbours": neighbours} for neighbours in (25, 50, 100)],
    "als": [
        {"factors": factors, "regularization": regularization, "alpha": alpha}
        for factors, regularization, alpha in ((64, 10.0, 1.0), (64, 30.0, 2.0), (128, 30.0, 2.0))
    ],
    "blend": [
        {"collaborative": 1.0, "content": content, "popularity": popularity}
        for content in (0.0, 0.05, 0.1)
        for popularity in (0.0, 0.05)
    ],
}
LABELS = {"itemknn": "item-kNN", "als": "ALS", "ease": "EASE", "dlae": "DLAE", "edlae": "EDLAE"}
DIVERSITY_PENALTIES = (0.1, 0.2, 0.3)
# The diversity re-rank may cost at most this share of the validation objective.
MAX_DIVERSITY_COST = 0.01
# The validation split is carved from the training data with the test split's seed plus this.
VALIDATION_SEED_OFFSET = 1


def production_config(split: Split) -> Config:
    """The hybrid as the training pipeline builds it: every library default, around the collaborative model
    that ``choose_algorithm`` picks for data of this size (``production_model``'s settings)."""
    n_interactions = len(split.train.user_ids)
    algorithm = choose_algorithm(
        n_users=len(split.user_ids), n_items=len(split.item_ids), n_interactions=n_interactions
    )
    settings = production_model(algorithm, n_interactions=n_interactions).state()[0]
    collaborative = Config(
        LABELS[algorithm], algorithm, {name: value for name, value in settings.items() if value is not None}
    )
    blend = {"blend": asdict(BlendWeights()), "diversity": DEFAULT_DIVERSITY}
    return Config(f"hybrid ({collaborative.label}), defaults", "hybrid", {"collaborative": collaborative, **blend})


def production_variants(production: Config) -> list[Config]:
    """Production, and production without each of its extras (the content blend, the diversity re-rank): what
    each one costs or buys, on the same fitted model."""
    variants = [production]
    if production.params["diversity"]:
        variants.append(replace(production.with_params(diversity=0.0), label=f"{production.label}, no re-rank"))
    if production.params["blend"]["content"]:
        no_content = {**production.params["blend"], "content": 0.0}
        variants.append(replace(production.with_params(blend=no_content), label=f"{production.label}, no content"))
    return variants


def tune(split: Split, features: ItemFeatures, *, k: int, seed: int) -> tuple[dict[str, Config], list[Result]]:
    """Chooses every algorithm's hyper-parameters on a validation split carved from ``split``'s training data:
    each collaborative model's own parameters, then its confidence weighting (``liked_bonus``); then the
    hybrid's blend on top of the production collaborative model, then the strongest diversity re-rank that costs
    at most ``MAX_DIVERSITY_COST`` of the objective."""
    validation = split.validation(seed=seed + VALIDATION_SEED_OFFSET)
    chosen: dict[str, Config] = {}
    history: list[Result] = []
    for algorithm, label in LABELS.items():
        results = [
            evaluate_config(Config(label, algorithm, params), validation, features, k=k) for params in GRIDS[algorithm]
        ]
        best_params = best(results, k)
        results += [
            evaluate_config(replace(best_params, liked_bonus=bonus), validation, features, k=k)
            for bonus in LIKED_BONUSES
            if bonus != best_params.liked_bonus
        ]
        chosen[algorithm] = best(results, k)
        history += results

    collaborative = chosen[production_config(split).params["collaborative"].algorithm]
    blends = [
        Config(
            f"hybrid ({collaborative.label})",
            "hybrid",
            {"collaborative": collaborative, "blend": blend, "diversity": 0.0},
            liked_bonus=collaborative.liked_bonus,
        )
        for blend in GRIDS["blend"]
    ]
    trial = HybridTrial.fit(collaborative, validation, features)
    results = trial.evaluate(blends, validation, features, k=k)
    blended = max(results, key=lambda result: objective(result, k))
    penalties = [blended.config.with_params(diversity=penalty) for penalty in DIVERSITY_PENALTIES]
    diversified = trial.evaluate(penalties, validation, features, k=k)
    affordable = [
        result for result in diversified if objective(result, k) >= (1 - MAX_DIVERSITY_COST) * objective(blended, k)
    ]
    chosen["hybrid"] = max(affordable, key=lambda result: result.config.params["diversity"], default=blended).config
    history += results + diversified
    return chosen, history


@dataclass(frozen=True)
class Report:
    dataset: str
    split: str
    k: int
    seed: int
    sizes: dict[str, int]
    production: str
    tuned: dict[str, Config]
    results: list[Result]
    validation: list[Result]
    seconds: float

    def as_json(self) -> dict:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "k": self.k,
            "seed": self.seed,
            "protocol": {
                "split": self.split,
                "holdout_fraction": HOLDOUT_FRACTION,
                "min_user_ratings": MIN_USER_RATINGS,
                "liked_score": LIKED_SCORE,
            },
            "sizes": self.sizes,
            "production": self.production,
            "tuned": {algorithm: config.describe() for algorithm, config in self.tuned.items()},
            "test": [result.as_json() for result in self.results],
            "validation": [result.as_json() for result in self.validation],
            "seconds": round(self.seconds, 1),
        }

    def metrics_of(self, label: str) -> dict[str, float]:
        return next(result.metrics for result in self.results if result.config.title == label)


def evaluate_split(
    dataset: Dataset, dataset_name: str, *, kind: str, seed: int, k: int, on_step: Callable[[str], None]
) -> Report:
    """The whole protocol on one split: tune on validation, evaluate every algorithm once on the test split;
    ``on_step(name)`` is told as each of its four steps ends."""
    started = time.perf_counter()
    split = Split.of(dataset.ratings, dataset.item_ids, seed=seed, kind=kind)
    features = dataset.features
    on_step("split")
    chosen, validation_results = tune(split, features, k=k, seed=seed)
    on_step("tuned")
    baselines = [Config("popularity", "popularity"), Config("trending", "trending"), Config("content", "content")]
    results = [evaluate_config(config, split, features, k=k) for config in baselines]
    results += [evaluate_config(chosen[algorithm], split, features, k=k) for algorithm in LABELS]
    on_step("algorithms")
    # The tuned hybrid and, to show what the diversity re-rank costs, the same blend re-ranked differently.
    tuned = chosen["hybrid"]
    penalties = sorted({0.0, tuned.params["diversity"], *DIVERSITY_PENALTIES})
    hybrids = [tuned.with_params(diversity=penalty) for penalty in penalties]
    results += HybridTrial.fit(tuned.params["collaborative"], split, features).evaluate(hybrids, split, features, k=k)
    production = production_config(split)
    results += HybridTrial.fit(production.params["collaborative"], split, features).evaluate(
        production_variants(production), split, features, k=k
    )
    on_step("hybrids")
    sizes = {
        "users": len(split.user_ids),
        "items": len(split.item_ids),
        "ratings": len(dataset.ratings.user_ids),
        "train ratings": len(split.train.user_ids),
        "test ratings": len(split.held_out.user_ids),
        "evaluated users": int(np.count_nonzero(metrics.relevant_counts(split.relevance[""]))),
    }
    seconds = time.perf_counter() - started
    return Report(dataset_name, kind, k, seed, sizes, production.title, chosen, results, validation_results, seconds)


def run_evaluations(
    dataset_path: str | Path,
    *,
    k: int = 10,
    seeds: Iterable[int] = (42,),
    splits: Iterable[str] = ("random",),
    on_step: Callable[[str], None] = lambda step: None,
) -> list[Report]:
    """Loads the release once and runs the protocol for every split and seed, in that order."""
    dataset = load_dataset(dataset_path)
    return [
        evaluate_split(dataset, str(dataset_path), kind=kind, seed=seed, k=k, on_step=on_step)
        for kind in splits
        for seed in seeds
    ]


def run_evaluation(
    dataset_path: str | Path, *, k: int = 10, seed: int = 42, split: str = "random", on_step=lambda step: None
) -> Report:
    """One split and seed (``run_evaluations``)."""
    return run_evaluations(dataset_path, k=k, seeds=(seed,), splits=(split,), on_step=on_step)[0]
