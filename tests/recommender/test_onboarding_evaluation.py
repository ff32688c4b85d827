"""``evaluate_onboarding`` end to end on a small release with two taste groups (sci-fi fans, drama fans)."""

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recommender.onboarding_evaluation import STRATEGIES, run_onboarding_evaluation


def write_release(folder, *, n_users=80, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir()
    movies = ["movieId,title,genres"] + [
        f"{movie},Movie {movie} ({1960 + movie}),{'Sci-Fi|Action' if movie <= 30 else 'Drama|Romance'}"
        for movie in range(1, 61)
    ]
    (folder / "movies.csv").write_text("\n".join(movies) + "\n")
    ratings = ["userId,movieId,rating,timestamp"]
    for user in range(1, n_users + 1):
        liked = np.arange(1, 31) if user % 2 else np.arange(31, 61)
        other = np.arange(31, 61) if user % 2 else np.arange(1, 31)
        for movie in rng.choice(liked, 20, replace=False):
            ratings.append(f"{user},{movie},{rng.choice([4.0, 4.5, 5.0])},{1_500_000_000 + user * 1000 + movie}")
        for movie in rng.choice(other, 4, replace=False):  # opinions split on the other group's movies
            ratings.append(f"{user},{movie},{rng.choice([0.5, 1.0, 1.5])},{1_500_000_000 + user * 1000 + movie}")
    (folder / "ratings.csv").write_text("\n".join(ratings) + "\n")
    return folder


def test_every_strategy_is_scored_and_answers_beat_the_cold_start(tmp_path):
    release = write_release(tmp_path / "release")
    results = {result.strategy: result for result in run_onboarding_evaluation(release, asked=10, k=5, seed=3)}
    assert list(results) == list(STRATEGIES)
    assert results["cold start (no ratings)"].seen == 0
    assert results["10 onboarding"].seen > 1 and results["10 most popular"].seen > 1
    assert all(0 <= result.ndcg <= 1 and 0 <= result.recall <= 1 for result in results.values())
    # Two taste groups: a few answers tell which one the user is in.
    assert results["10 onboarding"].ndcg > results["cold start (no ratings)"].ndcg


def test_the_command_prints_the_table_and_refuses_bad_arguments(tmp_path, capsys):
    release = write_release(tmp_path / "release")
    call_command("evaluate_onboarding", dataset=str(release), k=5, seed=3)
    out = capsys.readouterr().out
    assert "| 10 onboarding |" in out and "nDCG@5" in out
    with pytest.raises(CommandError, match="--k"):
        call_command("evaluate_onboarding", dataset=str(release), k=0)
    with pytest.raises(CommandError, match="no such folder"):
        call_command("evaluate_onboarding", dataset=str(tmp_path / "missing"))
