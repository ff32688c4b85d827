"""Offline evaluation of the recommenders on a MovieLens release (pure numpy/scipy; no Django).

Protocol (documented in docs/recommender.md):

1. Split: for every user with at least ``MIN_USER_RATINGS`` ratings, a seeded random ``HOLDOUT_FRACTION`` of
   their ratings is held out as the test set; everything else (including all ratings of users with fewer) is
   training data. The same procedure, seeded differently, carves a validation set out of the training data.
2. Hyper-parameters are chosen on the validation split only: each algorithm is trained on training-minus-
   validation and scored on validation; the test split is used once, for the final table.
3. Each model is retrained on the whole training split and ranks every catalog movie the user has not rated in
   training; its top ``k`` are scored against the held-out ratings with binary relevance, under two definitions:
   every held-out rating is relevant (the protocol of Microsoft Recommenders' ML-100k and RecBole's ML-1M tables),
   and only held-out ratings of at least ``LIKED_SCORE`` stars.
"""

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from datasets.movielens import open_dataset
from recommender import metrics
from recommender.algorithms import COLLABORATIVE_MODELS, ContentBased, Popularity, Trending, choose_algorithm
from recommender.algorithms.content import GENRE, TAG, ItemFeatures, feature_tokens
from recommender.algorithms.hybrid import DEFAULT_DIVERSITY, BlendWeights, Hybrid, fit_hybrid
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


def holdout_mask(*, user_ids: np.ndarray, fraction: float, min_ratings: int, seed: int) -> np.ndarray:
    """Which ratings to hold out: a seeded random ``round(fraction × n)`` of each user's ``n`` ratings, for users
    with at least ``min_ratings`` of them; vectorised (one random key per rating, ranked within each user)."""
    random_keys = np.random.default_rng(seed).random(len(user_ids))
    order = np.lexsort((random_keys, user_ids))
    sorted_users = user_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, len(sorted_users)])
    rank_in_user = np.arange(len(sorted_users)) - np.repeat(starts, counts)
    holdout_counts = np.where(counts >= min_ratings, np.floor(fraction * counts + 0.5), 0).astype(np.int64)
    held_out = np.zeros(len(user_ids), dtype=bool)
    held_out[order] = rank_in_user < np.repeat(holdout_counts, counts)
    return held_out


@dataclass
class Split:
    """Training ratings and held-out ratings over fixed user rows and item columns."""

    train: RatingLog
    held_out: RatingLog
    user_ids: np.ndarray
    item_ids: np.ndarray
    _interactions: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, ratings: RatingLog, item_ids: np.ndarray, *, seed: int) -> "Split":
        mask = holdout_mask(
            user_ids=ratings.user_ids, fraction=HOLDOUT_FRACTION, min_ratings=MIN_USER_RATINGS, seed=seed
        )
        return cls(ratings.subset(~mask), ratings.subset(mask), np.unique(ratings.user_ids), item_ids)

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
        inner = Split.of(self.train, self.item_ids, seed=seed)
        return Split(inner.train, inner.held_out, self.user_ids, self.item_ids)


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
        model = COLLABORATIVE_MODELS[config.algorithm](**config.params).fit(train.confidence)
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
        model = COLLABORATIVE_MODELS[collaborative.algorithm](**collaborative.params).fit(train.confidence)
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


# The searched grids; the report lists every validation result next to the value chosen.
LIKED_BONUSES = (0.0, 1.0, 2.0)
GRIDS: dict[str, list[dict]] = {
    "ease": [{"l2": l2} for l2 in (100.0, 200.0, 400.0)],
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
LABELS = {"itemknn": "item-kNN", "als": "ALS", "ease": "EASE"}
DIVERSITY_PENALTIES = (0.1, 0.2, 0.3)
# The diversity re-rank may cost at most this share of the validation objective.
MAX_DIVERSITY_COST = 0.01


def production_config(split: Split) -> Config:
    """The hybrid as the training pipeline builds it: every library default, around the collaborative model
    that ``choose_algorithm`` picks for data of this size."""
    algorithm = choose_algorithm(
        n_users=len(split.user_ids), n_items=len(split.item_ids), n_interactions=len(split.train.user_ids)
    )
    defaults = {
        name: value for name, value in COLLABORATIVE_MODELS[algorithm]().state()[0].items() if value is not None
    }
    collaborative = Config(LABELS[algorithm], algorithm, defaults)
    blend = {"blend": asdict(BlendWeights()), "diversity": DEFAULT_DIVERSITY}
    return Config(f"hybrid ({collaborative.label}), defaults", "hybrid", {"collaborative": collaborative, **blend})


def tune(split: Split, features: ItemFeatures, *, k: int, seed: int) -> tuple[dict[str, Config], list[Result]]:
    """Chooses every algorithm's hyper-parameters on a validation split carved from ``split``'s training data:
    each collaborative model's own parameters, then its confidence weighting (``liked_bonus``); then the
    hybrid's blend on top of the production collaborative model, then the strongest diversity re-rank that costs
    at most ``MAX_DIVERSITY_COST`` of the objective."""
    validation = split.validation(seed=seed + 1)
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
            "k": self.k,
            "seed": self.seed,
            "protocol": {
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


def run_evaluation(
    dataset_path: str | Path, *, k: int = 10, seed: int = 42, on_step: Callable[[str], None] = lambda step: None
) -> Report:
    """The whole protocol: load, split, tune on validation, evaluate every algorithm once on the test split;
    ``on_step(name)`` is told as each of its four steps ends (a progress bar's hook)."""
    started = time.perf_counter()
    dataset = load_dataset(dataset_path)
    split = Split.of(dataset.ratings, dataset.item_ids, seed=seed)
    on_step("split")
    chosen, validation_results = tune(split, dataset.features, k=k, seed=seed)
    on_step("tuned")
    baselines = [Config("popularity", "popularity"), Config("trending", "trending"), Config("content", "content")]
    results = [evaluate_config(config, split, dataset.features, k=k) for config in baselines]
    results += [evaluate_config(chosen[algorithm], split, dataset.features, k=k) for algorithm in LABELS]
    on_step("algorithms")
    # The tuned hybrid and, to show what the diversity re-rank costs, the same blend re-ranked differently.
    tuned = chosen["hybrid"]
    penalties = sorted({0.0, tuned.params["diversity"], *DIVERSITY_PENALTIES})
    hybrids = [tuned.with_params(diversity=penalty) for penalty in penalties]
    results += HybridTrial.fit(tuned.params["collaborative"], split, dataset.features).evaluate(
        hybrids, split, dataset.features, k=k
    )
    production = production_config(split)
    results += HybridTrial.fit(production.params["collaborative"], split, dataset.features).evaluate(
        [production], split, dataset.features, k=k
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
    return Report(str(dataset_path), k, seed, sizes, production.title, chosen, results, validation_results, seconds)


def markdown_table(report: Report) -> str:
    k = report.k
    columns = [
        f"precision@{k}",
        f"recall@{k}",
        f"ndcg@{k}",
        f"map@{k}",
        f"ndcg@{k}{LIKED_SUFFIX}",
        f"map@{k}{LIKED_SUFFIX}",
        "coverage",
        "genre diversity",
    ]
    lines = [
        "| algorithm | " + " | ".join(columns) + " | fit s |",
        "|---|" + "---:|" * (len(columns) + 1),
    ]
    for result in report.results:
        values = " | ".join(f"{result.metrics[column]:.4f}" for column in columns)
        title = result.config.title
        label = f"**{title}** (production)" if title == report.production else title
        lines.append(f"| {label} | {values} | {result.fit_seconds:.2f} |")
    return "\n".join(lines) + "\n"


def markdown_parameters(report: Report) -> str:
    """What the validation split chose for each tuned model, and what production runs."""
    production = next(result.config for result in report.results if result.config.title == report.production)
    configs = [(f"{config.title} (tuned)", config) for config in report.tuned.values()]
    configs.append((f"{production.title} (production)", production))
    return "".join(f"- {title}: {json.dumps(config.describe())}\n" for title, config in configs)


def write_report(report: Report, out_dir: str | Path) -> list[Path]:
    """Writes ``evaluation.md``, ``evaluation.json`` and ``evaluation.png`` into ``out_dir``."""
    # The object-oriented Matplotlib API with the Agg canvas: no pyplot, no global backend, no display needed.
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown, as_json, chart = out_dir / "evaluation.md", out_dir / "evaluation.json", out_dir / "evaluation.png"
    sizes = ", ".join(f"{value:,} {name}" for name, value in report.sizes.items())
    markdown.write_text(
        f"# Offline evaluation: {report.dataset}\n\n{sizes}; seed {report.seed}; top {report.k}; "
        f"{report.seconds:.0f} s.\n\n{markdown_table(report)}\n## Hyper-parameters\n\n{markdown_parameters(report)}"
    )
    as_json.write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n")

    k = report.k
    shown = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"map@{k}", f"ndcg@{k}{LIKED_SUFFIX}", "coverage"]
    figure = Figure(figsize=(13, 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(report.results)
    for position, result in enumerate(report.results):
        offsets = np.arange(len(shown)) + (position - (len(report.results) - 1) / 2) * width
        values = [result.metrics[name] for name in shown]
        axes.bar(offsets, values, width, label=result.config.title, color=colormaps["tab20"](position % 20))
    axes.set_xticks(np.arange(len(shown)), shown)
    axes.set_ylabel("score")
    axes.set_title(f"{Path(report.dataset).name}: top-{k} ranking quality on held-out ratings")
    figure.legend(loc="outside right upper", fontsize="small")
    figure.savefig(chart, dpi=110)
    return [markdown, as_json, chart]
