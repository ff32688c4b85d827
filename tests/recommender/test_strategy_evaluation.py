"""``evaluate_recommender --strategy``: each strategy measured on the protocol's test split, with its score
curve."""

import json

from django.core.management import call_command

from tests.recommender.test_evaluate_command import write_release


def test_strategies_are_measured_side_by_side(tmp_path, capsys):
    release = write_release(tmp_path / "release")
    call_command("evaluate_recommender", dataset=str(release), out=str(tmp_path / "out"), seed=5, k=5, strategy=["all"])

    report = json.loads((tmp_path / "out" / "strategies.json").read_text())
    results = {result["label"]: result for result in report["results"]}
    assert list(results) == ["BALANCED", "FAMILIAR", "DISCOVERY", "popular", "trending"]
    for result in results.values():
        assert {"ndcg@5", "coverage", "novelty", "genre diversity"} <= result["metrics"].keys()
        assert 0 <= result["metrics"]["ndcg@5"] <= 1 and result["metrics"]["novelty"] >= 0
        assert 0 <= result["curve"]["a"] <= 1 and result["curve"]["b"] >= 0
    # The two taste groups are easy: a personal list beats the popular one.
    assert results["BALANCED"]["metrics"]["ndcg@5"] > results["popular"]["metrics"]["ndcg@5"]
    assert "| DISCOVERY |" in capsys.readouterr().out


def test_one_strategy_can_be_asked_for(tmp_path):
    release = write_release(tmp_path / "release")
    call_command(
        "evaluate_recommender", dataset=str(release), out=str(tmp_path / "out"), k=5, strategy=["familiar"], verbosity=0
    )
    labels = [result["label"] for result in json.loads((tmp_path / "out" / "strategies.json").read_text())["results"]]
    assert labels == ["FAMILIAR", "popular", "trending"]
