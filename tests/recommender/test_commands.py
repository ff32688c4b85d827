"""The recommender's commands: ``train_recommender``, ``recommend``, and the training an import queues."""

# ruff: noqa: F811 - test parameters name the fixtures imported from tests.recommender.support

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from graphql_relay import from_global_id

from catalog.models import Movie
from recommender import store
from recommender.models import ModelRun
from tests.recommender.support import (  # noqa: F401 - fixtures, requested by name
    empty_store,
    trained,
    trained_session,
)
from users.models import HiddenMovie, Rating, User

pytestmark = pytest.mark.usefixtures("movielens")
SOURCES = {"collaborative", "content", "popular", "trending", "similar"}


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def jsonl(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_train_recommender_trains_switches_and_summarises(empty_store):
    output = run("train_recommender")

    run_record = ModelRun.objects.order_by("-id").first()
    assert run_record.triggered_by == ModelRun.Trigger.COMMAND
    assert store.current_version() == run_record.version
    assert f"Trained version {run_record.version} (dlae in the hybrid)" in output
    assert "610 users, 9,742 movies and 100,836 interactions" in output
    assert "Timings: load " in output and "total " in output
    assert "users_with_lists 610" in output


def test_train_recommender_with_nothing_to_train_on_says_so(empty_store):
    Rating.objects.all().delete()

    with pytest.raises(CommandError, match="import MovieLens first"):
        run("train_recommender")

    assert ModelRun.objects.order_by("-id").first().status == ModelRun.Status.FAILED


def test_recommend_all_prints_one_json_object_per_user_with_interactions(trained):
    rated: dict[int, set[int]] = {}
    for user_id, movie_id in Rating.objects.values_list("user__movielens_id", "movie_id"):
        rated.setdefault(user_id, set()).add(movie_id)
    movielens_ids = dict(Movie.objects.values_list("pk", "movielens_id"))

    lines = jsonl(run("recommend", "--all", "--limit", "5", "--format", "jsonl"))

    assert len(lines) == 610
    assert [line["movielensUserId"] for line in lines] == sorted(rated)
    for line in lines:
        assert line.keys() == {"username", "movielensUserId", "items"}
        assert line["username"] == f"movielens-{line['movielensUserId']}"
        assert len(line["items"]) == 5
        for item in line["items"]:
            assert item.keys() == {"movielensId", "id", "score", "source"}
            kind, pk = from_global_id(item["id"])
            assert kind == "Movie" and movielens_ids[int(pk)] == item["movielensId"]
            assert int(pk) not in rated[line["movielensUserId"]]
            assert item["source"] in SOURCES
            assert isinstance(item["score"], float)


def test_recommend_for_named_users_leaves_out_what_they_hid_since(trained):
    user = User.objects.get(movielens_id=1)
    first = jsonl(run("recommend", "movielens-1", "--limit", "3", "--format", "jsonl"))[0]["items"][0]
    HiddenMovie.objects.create(user=user, movie_id=int(from_global_id(first["id"])[1]))

    lines = jsonl(run("recommend", "MovieLens-1", "movielens-2", "--limit", "3", "--format", "jsonl"))

    assert [line["username"] for line in lines] == ["movielens-1", "movielens-2"]
    assert first["id"] not in {item["id"] for item in lines[0]["items"]}
    assert len(lines[0]["items"]) == 3


def test_recommend_for_someone_without_a_list_uses_the_fallbacks(trained):
    User.objects.create(username="newcomer")

    [line] = jsonl(run("recommend", "newcomer", "--limit", "4", "--format", "jsonl"))

    assert (line["username"], line["movielensUserId"]) == ("newcomer", None)
    assert [item["source"] for item in line["items"]] == ["popular"] * 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody", "movielens-1"), "no such user: nobody"),
        ((), "give one or more usernames, or --all"),
        (("movielens-1", "--all"), "give one or more usernames, or --all"),
        (("movielens-1", "--limit", "0"), "--limit must be at least 1"),
    ],
)
def test_recommend_refuses_unclear_requests(trained, args, message):
    with pytest.raises(CommandError, match=message):
        run("recommend", *args)


def write_release(folder) -> None:
    """A two-movie MovieLens release (ml-latest layout) with one rating."""
    folder.mkdir()
    (folder / "movies.csv").write_text("movieId,title,genres\r\n990001,Pipeline Test (2024),Drama\r\n")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\r\n990001,990001,4.0,1700000000\r\n")
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\r\n")
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\r\n")


@pytest.mark.parametrize(("extra", "queued"), [((), 1), (("--no-train",), 0)])
def test_an_import_queues_a_training_unless_told_not_to(tmp_path, django_capture_on_commit_callbacks, extra, queued):
    write_release(tmp_path / "release")
    import_runs = ModelRun.objects.filter(triggered_by=ModelRun.Trigger.IMPORT, status=ModelRun.Status.QUEUED)
    before = import_runs.count()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("import_movielens", str(tmp_path / "release"), *extra, verbosity=0)

    assert Movie.objects.filter(movielens_id=990001).exists()
    assert import_runs.count() == before + queued
    # Besides bumping data versions (the catalog's, nexus.versions), the import's commit queues the training, and
    # nothing else.
    assert len([callback for callback in callbacks if callback.__module__ != "nexus.versions"]) == queued


def test_recommend_prints_a_table_for_people_by_default(trained):
    lines = run("recommend", "movielens-1", "--limit", "3").splitlines()
    assert lines[0] == "movielens-1: 3 recommendations"
    assert lines[1].split() == ["#", "title", "(year)", "score", "source", "reason"]
    first = jsonl(run("recommend", "movielens-1", "--limit", "3", "--format", "jsonl"))[0]["items"][0]
    movie = Movie.objects.get(movielens_id=first["movielensId"])
    assert lines[2].split()[0] == "1"
    assert f"{movie.title} ({movie.year})"[:40] in lines[2]
    assert first["source"] in lines[2]
    assert len(lines) == 5
