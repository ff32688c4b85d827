"""The catalog version (catalog/cache.py) moves whenever what catalog queries return changes — an import, an admin
edit at once; ratings, which change movies' statistics all the time, within NEXUS_STATISTICS_STALENESS_SECONDS —
and only then, so that cached movie cards and responses are never served stale beyond that bound. Checked through
GraphQL requests, management commands and the admin."""

# ruff: noqa: F811 - test parameters name the fixtures imported from tests.recommender.support

import io
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from graphql_jwt.shortcuts import get_token

from catalog.cache import catalog_version
from catalog.models import Genre, Movie
from tests.conftest import movielens_small_dir, tmdb_csv
from tests.recommender.support import eager_tasks, empty_store  # noqa: F401 - fixtures, requested by name
from tests.users.factories import movie_global_id, person_create

pytestmark = pytest.mark.usefixtures("movielens")

POPULAR = "{ popular(first: 3) { movielensId title ratingCount genres { name } } }"
MOVIE = "query($id: ID!) { movie(id: $id) { ratingCount myRating } }"
RATE = "mutation($movie: ID!, $score: Float!) { rateMovie(movieId: $movie, score: $score) { errors { code } } }"


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    """Run the callbacks of what a block commits (the version is bumped on commit), as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def rate(gql, token: str, movie_id: str, score: float) -> None:
    body = gql.data(RATE, {"movie": movie_id, "score": score}, token=token)
    assert body["rateMovie"]["errors"] == []


def test_a_rating_shows_at_once_on_its_movie_and_in_lists_within_the_staleness_bound(
    gql, commits, empty_store, eager_tasks, settings
):
    settings.NEXUS_STATISTICS_STALENESS_SECONDS = 0.5
    before = gql.data(POPULAR)["popular"]  # now cached as movie cards
    version = catalog_version()
    token = get_token(person_create())
    top = before[0]
    movie = Movie.objects.get(movielens_id=top["movielensId"])
    with commits():
        rate(gql, token, movie_global_id(movie), 4.5)
        rate(gql, get_token(person_create("bob")), movie_global_id(Movie.objects.get(movielens_id=2)), 2.0)

    # One rating does not make every cached catalog answer cold; the rated movie's card is fresh at once.
    assert catalog_version() == version
    page = gql.data(MOVIE, {"id": movie_global_id(movie)}, token=token)["movie"]
    assert (page["ratingCount"], page["myRating"]) == (top["ratingCount"] + 1, 4.5)

    time.sleep(0.6)  # past the bound: both ratings reach every catalog answer, with one bump
    assert catalog_version() == version + 1
    after = gql.data(POPULAR)["popular"]
    assert after[0]["movielensId"] == top["movielensId"]
    assert after[0]["ratingCount"] == top["ratingCount"] + 1


def test_a_rating_that_changes_no_statistics_keeps_the_version(gql, commits, empty_store, eager_tasks):
    token = get_token(person_create())
    movie_id = movie_global_id(Movie.objects.get(movielens_id=1))
    with commits():
        rate(gql, token, movie_id, 3.0)
    version = catalog_version()
    with commits():
        rate(gql, token, movie_id, 3.0)  # the same score again: nothing a catalog query returns changes
    assert catalog_version() == version


def movielens_subset(folder: Path, *, up_to_movie: int, renamed: dict[int, str] | None = None) -> Path:
    """The movies of ml-latest-small up to MovieLens id ``up_to_movie`` with their links, with the titles of
    ``renamed`` (by MovieLens id) replaced, and no ratings or tags: importing it changes only those titles."""
    source = movielens_small_dir()
    folder.mkdir()
    for name in ("movies.csv", "links.csv"):
        header, *lines = (source / name).read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if int(line.split(",", 1)[0]) <= up_to_movie]
        if name == "movies.csv":
            kept = [_renamed(line, renamed or {}) for line in kept]
        (folder / name).write_text(header + "".join(kept), encoding="utf-8")
    for name in ("ratings.csv", "tags.csv"):
        header = (source / name).read_text(encoding="utf-8").splitlines(keepends=True)[0]
        (folder / name).write_text(header, encoding="utf-8")
    return folder


def _renamed(line: str, renamed: dict[int, str]) -> str:
    movielens_id = int(line.split(",", 1)[0])
    if movielens_id not in renamed:
        return line
    genres = line.rsplit(",", 1)[1]
    return f"{movielens_id},{renamed[movielens_id]},{genres}"


def import_movielens(path: Path) -> None:
    call_command("import_movielens", str(path), "--no-train", verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())


def test_an_unchanged_movielens_import_bumps_the_version_once(tmp_path, commits):
    """The import does not tell changed rows from unchanged ones: it bumps once, whatever it changed."""
    subset = movielens_subset(tmp_path / "subset", up_to_movie=50)
    version = catalog_version()
    with commits():
        import_movielens(subset)
    assert catalog_version() == version + 1


def test_a_movielens_import_that_renames_a_movie_shows_in_lists_at_once(gql, tmp_path, commits):
    top = gql.data(POPULAR)["popular"][0]  # cached as a card from now on
    year = Movie.objects.get(movielens_id=top["movielensId"]).year
    subset = movielens_subset(
        tmp_path / "renamed", up_to_movie=top["movielensId"], renamed={top["movielensId"]: f"Renamed Film ({year})"}
    )
    with commits():
        import_movielens(subset)
    assert gql.data(POPULAR)["popular"][0]["title"] == "Renamed Film"


def test_an_unchanged_tmdb_import_keeps_the_version(commits):
    version = catalog_version()
    with commits():
        call_command("import_tmdb", str(tmdb_csv()), stdout=io.StringIO())
    assert catalog_version() == version


def test_an_admin_edit_of_a_genre_bumps_the_version_and_shows_in_lists(gql, admin_client, commits):
    genre = Genre.objects.get(name="Drama")
    query = '{ popular(first: 1, genre: "drama") { genres { name } } }'
    assert "Drama" in {entry["name"] for entry in gql.data(query)["popular"][0]["genres"]}
    version = catalog_version()
    with commits():
        response = admin_client.post(
            reverse("admin:catalog_genre_change", args=[genre.pk]), {"name": "Dramas", "slug": genre.slug}
        )
    assert response.status_code == 302, response.content[:500]
    assert catalog_version() == version + 1
    assert "Dramas" in {entry["name"] for entry in gql.data(query)["popular"][0]["genres"]}
