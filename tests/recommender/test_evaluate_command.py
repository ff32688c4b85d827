"""The offline evaluation: the split protocol, and ``evaluate_recommender`` end to end."""

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recommender.evaluation import RatingLog, Split, holdout_mask
from tests.conftest import movielens_small_dir, need


def test_holdout_is_a_seeded_fifth_of_each_users_ratings_for_users_with_at_least_five():
    users = np.repeat([1, 2, 3, 4], [10, 5, 4, 23])
    held_out = holdout_mask(user_ids=users, fraction=0.2, min_ratings=5, seed=3)
    per_user = [int(held_out[users == user].sum()) for user in (1, 2, 3, 4)]
    assert per_user == [2, 1, 0, 5]  # round(0.2 n); user 3 has too few ratings to be evaluated
    assert np.array_equal(held_out, holdout_mask(user_ids=users, fraction=0.2, min_ratings=5, seed=3))
    other_seeds = [holdout_mask(user_ids=users, fraction=0.2, min_ratings=5, seed=seed) for seed in range(4, 9)]
    assert any(not np.array_equal(held_out, other) for other in other_seeds)


def test_the_validation_split_is_carved_from_training_data_only():
    rng = np.random.default_rng(0)
    ratings = RatingLog(
        user_ids=np.repeat(np.arange(30), 20),
        item_ids=np.tile(np.arange(20), 30),
        scores=rng.integers(1, 11, 600).astype(np.float32) / 2,
        timestamps=np.arange(600),
    )
    split = Split.of(ratings, np.arange(20), seed=1)
    validation = split.validation(seed=2)
    test_events = set(split.held_out.timestamps.tolist())
    validation_events = set(validation.train.timestamps.tolist()) | set(validation.held_out.timestamps.tolist())
    assert validation_events == set(split.train.timestamps.tolist())
    assert not validation_events & test_events
    assert len(split.held_out.timestamps) == 30 * 4 and len(validation.held_out.timestamps) == 30 * 3


def write_release(folder, *, n_users=60, seed=0):
    """A small ml-latest-layout release with two taste groups: sci-fi fans and drama fans."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    movies = ["movieId,title,genres"] + [
        f"{movie},Movie {movie} (2000),{'Sci-Fi|Action' if movie <= 20 else 'Drama|Romance'}" for movie in range(1, 41)
    ]
    (folder / "movies.csv").write_text("\n".join(movies) + "\n")
    ratings = ["userId,movieId,rating,timestamp"]
    for user in range(1, n_users + 1):
        liked = np.arange(1, 21) if user % 2 else np.arange(21, 41)
        for movie in rng.choice(liked, 12, replace=False):
            ratings.append(f"{user},{movie},{rng.choice([3.5, 4.0, 4.5, 5.0])},{1_500_000_000 + user * 1000 + movie}")
    (folder / "ratings.csv").write_text("\n".join(ratings) + "\n")
    return folder


def test_evaluate_recommender_writes_a_table_json_and_chart(tmp_path, capsys):
    release = write_release(tmp_path / "release")
    call_command("evaluate_recommender", dataset=str(release), out=str(tmp_path / "out"), seed=5, k=5)

    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    labels = [result["label"] for result in report["test"]]
    for expected in ("popularity", "trending", "content", "item-kNN", "ALS", "EASE", "DLAE", "EDLAE", "hybrid (DLAE)"):
        assert expected in labels
    assert report["k"] == 5 and report["seed"] == 5
    assert report["sizes"]["ratings"] == 60 * 12 and report["sizes"]["evaluated users"] == 60
    assert report["validation"], "hyper-parameters are chosen on a validation split"
    by_label = {result["label"]: result for result in report["test"]}
    assert set(by_label["EASE"]["metrics"]) >= {"precision@5", "recall@5", "ndcg@5", "map@5", "coverage", "novelty"}
    assert report["split"] == "random"
    # Two clean taste groups: collaborative filtering finds the held-out movies far better than popularity.
    assert by_label["EASE"]["metrics"]["ndcg@5"] > by_label["popularity"]["metrics"]["ndcg@5"]

    table = (tmp_path / "out" / "evaluation.md").read_text()
    assert "| EASE |" in table and "ndcg@5" in table
    assert (tmp_path / "out" / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Production model: hybrid (DLAE)" in capsys.readouterr().out


def test_evaluate_recommender_runs_both_splits_and_several_seeds_in_one_process(tmp_path, capsys):
    release = write_release(tmp_path / "release", n_users=30)
    call_command(
        "evaluate_recommender", dataset=str(release), out=str(tmp_path / "out"), seed=[3, 4], split="both", k=5
    )

    runs = sorted(path.name for path in (tmp_path / "out").iterdir() if path.is_dir())
    assert runs == ["random-seed3", "random-seed4", "temporal-seed3", "temporal-seed4"]
    temporal = json.loads((tmp_path / "out" / "temporal-seed3" / "evaluation.json").read_text())
    assert temporal["split"] == "temporal" and temporal["protocol"]["split"] == "temporal"
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| temporal | mean |" in summary and "| random | 4 |" in summary and "novelty" in summary
    assert "Production line:" in capsys.readouterr().out


def test_evaluate_recommender_reports_an_unreadable_dataset_as_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such folder"):
        call_command("evaluate_recommender", dataset=str(tmp_path / "missing"), out=str(tmp_path / "out"))
    with pytest.raises(CommandError, match="--k"):
        call_command("evaluate_recommender", dataset=str(tmp_path), k=0)


def test_the_production_model_clearly_beats_item_knn_on_ml_latest_small(tmp_path):
    dataset = movielens_small_dir()
    need(dataset is not None, "NEXUS_DATA_DIR must point at shared/data with ml-latest-small")
    call_command("evaluate_recommender", dataset=str(dataset), out=str(tmp_path), verbosity=0)

    report = json.loads((tmp_path / "evaluation.json").read_text())
    by_label = {result["label"]: result["metrics"] for result in report["test"]}
    production, item_knn = by_label[report["production"]], by_label["item-kNN"]
    assert report["sizes"]["users"] == 610 and report["sizes"]["ratings"] == 100_836
    assert production["ndcg@10"] > 1.05 * item_knn["ndcg@10"]
    assert production["ndcg@10 (≥4★)"] > 1.05 * item_knn["ndcg@10 (≥4★)"]
    assert production["ndcg@10"] > by_label["popularity"]["ndcg@10"]


def test_the_temporal_split_holds_out_each_users_newest_ratings():
    users = np.repeat([1, 2, 3], [10, 5, 4])
    timestamps = np.concatenate([np.arange(10)[::-1], [5, 1, 9, 3, 7], np.arange(4)]).astype(float)
    held_out = holdout_mask(user_ids=users, fraction=0.2, min_ratings=5, seed=0, timestamps=timestamps)
    assert sorted(timestamps[held_out & (users == 1)].tolist()) == [8.0, 9.0]
    assert timestamps[held_out & (users == 2)].tolist() == [9.0]
    assert not held_out[users == 3].any()
    # Ratings made in the same second: the seed decides which of them is the newest, always the same way.
    tied = np.zeros(10)
    picks = {
        tuple(np.flatnonzero(holdout_mask(user_ids=users[:10], fraction=0.2, min_ratings=5, seed=s, timestamps=tied)))
        for s in range(6)
    }
    assert len(picks) > 1 and all(len(pick) == 2 for pick in picks)


def test_a_temporal_split_and_its_validation_split_never_train_on_the_future():
    ratings = RatingLog(
        user_ids=np.repeat(np.arange(10), 10),
        item_ids=np.tile(np.arange(10), 10),
        scores=np.full(100, 4.0, dtype=np.float32),
        timestamps=np.tile(np.arange(10), 10).astype(float) + np.repeat(np.arange(10), 10) * 100,
    )
    split = Split.of(ratings, np.arange(10), seed=0, kind="temporal")
    validation = split.validation(seed=1)
    assert validation.kind == "temporal"
    for user in range(10):
        train = split.train.timestamps[split.train.user_ids == user]
        test = split.held_out.timestamps[split.held_out.user_ids == user]
        assert train.max() < test.min() and len(test) == 2
        inner = validation.train.timestamps[validation.train.user_ids == user]
        assert inner.max() < validation.held_out.timestamps[validation.held_out.user_ids == user].min()
    with pytest.raises(ValueError, match="unknown split"):
        Split.of(ratings, np.arange(10), seed=0, kind="sideways")
