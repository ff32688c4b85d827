"""``evaluate_recommender --strategy``: the recommendation strategies measured on the offline protocol's test
split (``recommender.evaluation``: same split, same production hybrid), and the per-place hit rates that
calibrate ``Recommendation.score`` (``recommender.scores``)."""

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from recommender import metrics
from recommender.algorithms.hybrid import BlendWeights
from recommender.evaluation import LIKED_SUFFIX, HybridTrial, Split, load_dataset
from recommender.ranking import NO_ITEM, top_k
from recommender.scores import Curve
from recommender.strategies import Strategy, candidate_pool, familiarity, rerank
from recommender.tuning import production_config

# Places whose hit rates are fitted into the score curves.
CALIBRATION_DEPTH = 100
BATCH_USERS = 256


@dataclass(frozen=True)
class StrategyResult:
    label: str
    metrics: dict[str, float]
    curve: Curve


def _novelty(recommended: np.ndarray, users_per_item: np.ndarray, n_users: int) -> float:
    """Mean self-information ``−log2(share of users who rated the movie)`` of the listed movies (higher = more
    of the long tail); a movie nobody rated in training counts as rated by one."""
    listed = recommended[recommended != NO_ITEM]
    return float(np.mean(-np.log2(np.maximum(users_per_item[listed], 1) / n_users))) if len(listed) else 0.0


def _fit_curve(hit_rates: np.ndarray) -> Curve:
    """``a × place^−b`` fitted (least squares in log-log) to the hit rate of each place with any hit."""
    places = np.arange(1, len(hit_rates) + 1)
    seen = hit_rates > 0
    if seen.sum() < 2:
        return Curve(a=float(hit_rates.max(initial=0.0)), b=0.0)
    slope, intercept = np.polyfit(np.log(places[seen]), np.log(hit_rates[seen]), 1)
    return Curve(a=round(float(np.exp(intercept)), 4), b=round(float(max(-slope, 0.0)), 4))


def _scored(label: str, recommended: np.ndarray, split: Split, features, users_per_item, rows, k) -> StrategyResult:
    shown = recommended[:, :k]
    scores = {
        "coverage": metrics.catalog_coverage(shown[rows], len(split.item_ids), k),
        "novelty": _novelty(shown[rows], users_per_item, len(split.user_ids)),
        "genre diversity": float(np.nanmean(metrics.intra_list_diversity(shown[rows], features.genre_matrix()))),
    }
    for suffix, relevant in split.relevance.items():
        scores[f"precision@{k}{suffix}"] = float(np.nanmean(metrics.precision_at_k(shown, relevant, k)))
        scores[f"ndcg@{k}{suffix}"] = float(np.nanmean(metrics.ndcg_at_k(shown, relevant, k)))
    hits = metrics.hits(recommended, split.relevance[""])[rows]
    return StrategyResult(label, scores, _fit_curve(hits.mean(axis=0)))


def evaluate_strategies(dataset_path: str | Path, *, strategies: list[Strategy], k: int = 10, seed: int = 42):
    """Each strategy's top ``k`` from the production hybrid's candidates, beside popularity and trending."""
    started = time.perf_counter()
    dataset = load_dataset(dataset_path)
    split = Split.of(dataset.ratings, dataset.item_ids, seed=seed)
    production = production_config(split)
    trial = HybridTrial.fit(production.params["collaborative"], split, dataset.features)
    model = trial.hybrid.with_settings(
        weights=BlendWeights(**production.params["blend"]), diversity=production.params["diversity"]
    )
    train = trial.train
    rows = np.flatnonzero(metrics.relevant_counts(split.relevance[""]) > 0)
    users_per_item = np.diff(train.ratings.tocsc().indptr)
    item_familiarity = familiarity(model.popularity.item_scores)
    depth = max(k, CALIBRATION_DEPTH)
    results = []
    for strategy in strategies:
        recommended = np.full((len(split.user_ids), depth), NO_ITEM)
        for start in range(0, len(rows), BATCH_USERS):
            batch = rows[start : start + BATCH_USERS]
            pool = candidate_pool(model, train.confidence[batch], exclude=train.exclude[batch])
            order = rerank(
                strategy,
                pool.items,
                pool.relevance,
                familiarity=item_familiarity[np.maximum(pool.items, 0)],
                item_vectors=model.genre_vectors,
                k=depth,
            )
            picked = np.where(order >= 0, np.take_along_axis(pool.items, np.maximum(order, 0), axis=1), NO_ITEM)
            recommended[batch, : picked.shape[1]] = picked
        results.append(_scored(strategy.name, recommended, split, dataset.features, users_per_item, rows, k))
    for label, item_scores in (("popular", model.popularity.item_scores), ("trending", model.trending.item_scores)):
        recommended = np.full((len(split.user_ids), depth), NO_ITEM)
        for start in range(0, len(rows), BATCH_USERS):
            batch = rows[start : start + BATCH_USERS]
            scores = np.repeat(item_scores[None, :], len(batch), axis=0)
            ranked = top_k(scores, depth, exclude=train.exclude[batch])[0]
            recommended[batch, : ranked.shape[1]] = ranked
        results.append(_scored(label, recommended, split, dataset.features, users_per_item, rows, k))
    return {"dataset": str(dataset_path), "seed": seed, "k": k, "seconds": time.perf_counter() - started}, results


def strategy_table(results: list[StrategyResult], k: int) -> str:
    columns = [f"ndcg@{k}", f"ndcg@{k}{LIKED_SUFFIX}", f"precision@{k}", "coverage", "novelty", "genre diversity"]
    lines = [
        "| list | " + " | ".join(columns) + " | score curve a × place^−b |",
        "|---|" + "---:|" * (len(columns) + 1),
    ]
    for result in results:
        values = " | ".join(f"{result.metrics[column]:.4f}" for column in columns)
        lines.append(f"| {result.label} | {values} | {result.curve.a:g} × place^−{result.curve.b:g} |")
    return "\n".join(lines) + "\n"


def write_strategy_report(header: dict, results: list[StrategyResult], out_dir: str | Path) -> Path:
    path = Path(out_dir) / "strategies.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {**header, "results": [{**asdict(result), "curve": asdict(result.curve)} for result in results]}
    path.write_text(json.dumps(body, indent=2))
    return path
