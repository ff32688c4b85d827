"""import_movielens and the MovieLens readers: every layout, folder or zip, idempotence, all-or-nothing
failures that name file and line, and --download against a local stand-in for GroupLens."""

import hashlib
import io
import socket
import threading
import time
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F

from catalog.models import Genre, Movie, Tag
from datasets import DatasetError
from datasets.movielens import RatingRow, open_dataset
from tests.conftest import movielens_small_dir, need
from users.models import Rating, User

CLASSIC_GENRES = {
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
}  # fmt: skip
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip


def table_counts() -> dict[str, int]:
    return {
        "movies": Movie.objects.count(),
        "genres": Genre.objects.count(),
        "movie genres": Movie.genres.through.objects.count(),
        "users": User.objects.count(),
        "ratings": Rating.objects.count(),
        "tags": Tag.objects.count(),
    }


def import_movielens(path, **options) -> str:
    out = io.StringIO()
    call_command("import_movielens", str(path), stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def zip_folder(folder: Path) -> Path:
    """A zip like GroupLens's: the release's files under one top-level folder."""
    archive = folder.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in folder.iterdir():
            zipped.write(file, f"{folder.name}/{file.name}")
    return archive


def ml100k_item(movie_id: int, title: str, release: str, genres: set[str]) -> str:
    flags = "|".join("1" if genre in genres else "0" for genre in ML100K_GENRES)
    return f"{movie_id}|{title}|{release}||http://us.imdb.com/M/title-exact?x|{flags}\n"


def write_ml100k(folder: Path) -> Path:
    folder.mkdir()
    genres = "".join(f"{name}|{index}\n" for index, name in enumerate(ML100K_GENRES)) + "\n"
    (folder / "u.genre").write_text(genres, encoding="latin-1")
    items = (
        ml100k_item(900001, "Postino, Il (1994)", "01-Jan-1994", {"Comedy", "Drama", "Romance"})
        + ml100k_item(900002, "Cité des enfants perdus, La (1995)", "15-Dec-1995", {"Adventure", "Sci-Fi"})
        + ml100k_item(900003, "Lion King, The (1994)", "", {"Animation", "Children's", "Musical"})
        + ml100k_item(900004, "unknown", "", {"unknown"})
    )
    (folder / "u.item").write_text(items, encoding="latin-1")
    (folder / "u.data").write_text(
        "900001\t900001\t5\t881250949\n900001\t900002\t3\t881250950\n900002\t900001\t4\t881250951\n"
    )
    return folder


def write_ml1m(folder: Path, *, encoding: str = "latin-1") -> Path:
    folder.mkdir()
    movies = (
        "900011::Fabuleux destin d'Amélie Poulain, Le (2001)::Comedy|Romance\n"
        "900012::Heat (1995)::Action|Crime|Thriller\n"
        "900013::Nothing (2003)::(no genres listed)\n"
    )
    (folder / "movies.dat").write_text(movies, encoding=encoding)
    (folder / "ratings.dat").write_text(
        "900011::900011::5::978300760\n900012::900011::3.5::978300761\n900012::900012::4::978300762\n"
    )
    return folder


def write_ml_latest(folder: Path, *, ratings: str | None = None) -> Path:
    """A tiny ml-latest-layout release with the shared copy's CRLF line endings."""
    folder.mkdir()
    files = {
        "movies.csv": 'movieId,title,genres\n900021,"Saint, The (1997)",Action|Romance|Thriller\n'
        "900022,Zero Day (2003),(no genres listed)\n",
        "links.csv": "movieId,imdbId,tmdbId\n900021,0120053,\n900022,10000001,99000022\n",
        "ratings.csv": ratings
        or "userId,movieId,rating,timestamp\n900021,900021,4.5,1445714994\n900021,900022,0.5,1445714995\n"
        "900022,900021,2.0,1445714996\n",
        "tags.csv": 'userId,movieId,tag,timestamp\n900023,900021,"heist, sort of",1445714997\n',
    }
    for name, text in files.items():
        (folder / name).write_bytes(text.replace("\n", "\r\n").encode())
    return folder


# --- The release loaded for the session (ml-latest-small) --------------------------------------------------


def test_the_loaded_release_has_every_movie_user_rating_tag_and_genre(movielens):
    assert Movie.objects.count() == 9742
    movielens_users = User.objects.filter(username__startswith="movielens-")
    assert movielens_users.count() == 610
    assert movielens_users.filter(movielens_id__isnull=True).count() == 0
    assert not User.objects.get(username="movielens-1").has_usable_password()
    assert Rating.objects.count() == 100_836
    assert Tag.objects.count() == 3683
    assert set(Genre.objects.values_list("name", flat=True)) == CLASSIC_GENRES | {"IMAX"}
    assert Genre.objects.get(name="Sci-Fi").slug == "sci-fi"


def test_toy_story_has_its_title_year_genres_and_links(movielens):
    toy_story = Movie.objects.get(movielens_id=1)
    assert (toy_story.title, toy_story.year, toy_story.movielens_title) == (
        "Toy Story",
        1995,
        "Toy Story (1995)",
    )
    assert set(toy_story.genres.values_list("name", flat=True)) == {
        "Adventure", "Animation", "Children", "Comedy", "Fantasy",
    }  # fmt: skip
    assert (toy_story.imdb_id, toy_story.tmdb_id) == ("tt0114709", 862)


def test_titles_are_normalized_and_the_original_kept(movielens):
    godfather = Movie.objects.get(movielens_id=858)
    assert (godfather.title, godfather.year, godfather.movielens_title) == (
        "The Godfather",
        1972,
        "Godfather, The (1972)",
    )
    assert Movie.objects.get(movielens_id=29).title == "The City of Lost Children (La Cité des enfants perdus)"


def test_movies_without_genres_or_tmdb_link_import_with_none(movielens):
    no_genres = Movie.objects.get(movielens_title="Black Mirror")
    assert (no_genres.title, no_genres.year, no_genres.genres.count()) == ("Black Mirror", None, 0)
    assert Movie.objects.filter(tmdb_id__isnull=True).count() == 8


def test_ratings_and_tags_keep_their_time_in_utc(movielens):
    rating = Rating.objects.get(user__movielens_id=1, movie__movielens_id=1)
    rated_at = datetime.fromtimestamp(964982703, tz=UTC)
    assert (rating.score, rating.created_at, rating.updated_at) == (Decimal("4.0"), rated_at, rated_at)
    tag = Tag.objects.get(user__movielens_id=2, movie__movielens_id=60756, name="funny")
    assert tag.created_at == datetime.fromtimestamp(1445714994, tz=UTC)


def test_movie_statistics_count_the_rating_rows(movielens):
    off = Movie.objects.annotate(rows=Count("ratings")).exclude(rating_count=F("rows"))
    assert not off.exists()
    toy_story = Movie.objects.get(movielens_id=1)
    scores = [float(score) for score in Rating.objects.filter(movie=toy_story).values_list("score", flat=True)]
    assert toy_story.rating_count == len(scores) == 215
    assert toy_story.rating_mean == pytest.approx(sum(scores) / len(scores))
    assert toy_story.popularity > 0


def test_a_second_import_changes_nothing(movielens):
    before = table_counts()
    toy_story_rating = Rating.objects.get(user__movielens_id=1, movie__movielens_id=1)
    output = import_movielens(movielens_small_dir())
    assert table_counts() == before
    assert "9,742 movies, 610 users, 100,836 ratings, 3,683 tags" in output
    assert Rating.objects.get(pk=toy_story_rating.pk).updated_at == toy_story_rating.updated_at
    # ml-latest has no release dates: the exact one from TMDb stays.
    assert Movie.objects.get(movielens_id=1).release_date == date(1995, 10, 30)


# --- Small releases of every layout -------------------------------------------------------------------------


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_an_ml100k_release_imports(db, tmp_path, as_zip):
    folder = write_ml100k(tmp_path / "ml-100k")
    before = table_counts()

    output = import_movielens(zip_folder(folder) if as_zip else folder)

    assert "ml-100k release: 4 movies, 2 users, 3 ratings, 0 tags" in output
    postino = Movie.objects.get(movielens_id=900001)
    assert (postino.title, postino.year, postino.release_date) == ("Il Postino", 1994, date(1994, 1, 1))
    assert set(postino.genres.values_list("name", flat=True)) == {"Comedy", "Drama", "Romance"}
    assert (postino.rating_count, postino.rating_mean) == (2, 4.5)
    assert (postino.imdb_id, postino.tmdb_id) == ("", None)
    assert Movie.objects.get(movielens_id=900002).title == "La Cité des enfants perdus"
    lion_king = Movie.objects.get(movielens_id=900003)
    assert lion_king.release_date is None
    assert Genre.objects.get(name="Children's").slug == "childrens"
    assert Movie.objects.get(movielens_id=900004).genres.count() == 0
    user = User.objects.get(username="movielens-900001")
    assert (user.movielens_id, user.has_usable_password()) == (900001, False)
    assert Rating.objects.get(user=user, movie=postino).score == Decimal("5.0")
    assert table_counts()["ratings"] == before["ratings"] + 3


@pytest.mark.parametrize(
    ("encoding", "as_zip"), [("latin-1", False), ("utf-8", True)], ids=["ml-1m-folder", "ml-10m-zip"]
)
def test_an_ml1m_or_ml10m_release_imports(db, tmp_path, encoding, as_zip):
    folder = write_ml1m(tmp_path / "ml-10M100K", encoding=encoding)
    (folder / "tags.dat").write_text("900012::900012::heist::1138537770\n", encoding=encoding)

    output = import_movielens(zip_folder(folder) if as_zip else folder)

    assert "ml-1m release: 3 movies, 2 users, 3 ratings, 1 tags" in output
    amelie = Movie.objects.get(movielens_id=900011)
    assert (amelie.title, amelie.year) == ("Le Fabuleux destin d'Amélie Poulain", 2001)
    assert Movie.objects.get(movielens_id=900013).genres.count() == 0
    assert Rating.objects.get(user__movielens_id=900012, movie=amelie).score == Decimal("3.5")
    assert Tag.objects.get(user__movielens_id=900012).name == "heist"


def test_an_ml_latest_release_imports_links_and_tags(db, tmp_path):
    import_movielens(write_ml_latest(tmp_path / "ml-latest"))

    saint = Movie.objects.get(movielens_id=900021)
    assert (saint.title, saint.imdb_id, saint.tmdb_id) == ("The Saint", "tt0120053", None)
    assert Movie.objects.get(movielens_id=900022).imdb_id == "tt10000001"
    tag = Tag.objects.get(movie=saint)
    assert (tag.name, tag.user.username) == ("heist, sort of", "movielens-900023")
    assert User.objects.filter(movielens_id__in=[900021, 900022, 900023]).count() == 3


def test_a_reimport_updates_changed_scores_titles_and_genres(db, tmp_path):
    folder = write_ml1m(tmp_path / "ml-1m")
    import_movielens(folder)
    first = Rating.objects.get(user__movielens_id=900012, movie__movielens_id=900012)
    before = table_counts()

    (folder / "movies.dat").write_text(
        "900011::Fabuleux destin d'Amélie Poulain, Le (2001)::Comedy|Romance\n"
        "900012::Heat, The (1995)::Action|Crime\n"
        "900013::Nothing (2003)::(no genres listed)\n",
        encoding="latin-1",
    )
    (folder / "ratings.dat").write_text(
        "900011::900011::5::978300760\n900012::900011::3.5::978300761\n900012::900012::2::978400000\n"
    )
    import_movielens(folder)

    assert table_counts() == {**before, "movie genres": before["movie genres"] - 1}
    heat = Movie.objects.get(movielens_id=900012)
    assert heat.title == "The Heat"
    assert set(heat.genres.values_list("name", flat=True)) == {"Action", "Crime"}
    second = Rating.objects.get(pk=first.pk)
    assert second.score == Decimal("2.0")
    assert (second.created_at, second.updated_at) == (
        first.created_at,
        datetime.fromtimestamp(978400000, tz=UTC),
    )
    assert (heat.rating_count, heat.rating_mean) == (1, 2.0)


# --- Malformed input: a CommandError naming file and line, and the database as it was -----------------------


BAD_RATINGS = [
    (
        "900021,900021,4.5,1445714994\nabc,900022,0.5,1445714995\n",
        3,
        "userId 'abc' is not a positive integer",
    ),
    ("900021,900021,7,1445714994\n", 2, "rating '7' is not a half star from 0.5 to 5.0"),
    ("900021,900021,4.5\n", 2, "expected 4 fields, found 3"),
    ("900021,900021,4.5,yesterday\n", 2, "timestamp 'yesterday' is not a number of seconds"),
]


@pytest.mark.parametrize(("rows", "line", "problem"), BAD_RATINGS)
def test_a_bad_rating_names_file_and_line_and_changes_nothing(db, tmp_path, rows, line, problem):
    folder = write_ml_latest(tmp_path / "ml-latest-small", ratings="userId,movieId,rating,timestamp\n" + rows)
    before = table_counts()

    with pytest.raises(CommandError) as error:
        import_movielens(folder)

    assert f"ratings.csv, line {line}: {problem}" in str(error.value)
    assert table_counts() == before
    assert not Movie.objects.filter(movielens_id=900021).exists()


def test_a_bad_row_in_a_zip_names_the_member(db, tmp_path):
    folder = write_ml_latest(tmp_path / "ml-latest-small", ratings="userId,movieId,rating,timestamp\n1,2,3,x\n")
    archive = zip_folder(folder)

    with pytest.raises(CommandError, match=r"ml-latest-small\.zip/ml-latest-small/ratings\.csv, line 2: "):
        import_movielens(archive)


def test_a_bad_movie_line_in_ml100k_is_named(db, tmp_path):
    folder = write_ml100k(tmp_path / "ml-100k")
    with (folder / "u.item").open("a", encoding="latin-1") as items:
        items.write(ml100k_item(900005, "Tomorrow (1995)", "31-Foo-1995", set()))
    before = table_counts()

    with pytest.raises(CommandError, match=r"u\.item, line 5: release date '31-Foo-1995' is not like 01-Jan-1995"):
        import_movielens(folder)
    assert table_counts() == before


def test_a_rating_of_a_movie_missing_from_the_movie_list_is_refused(db, tmp_path):
    folder = write_ml1m(tmp_path / "ml-1m")
    with (folder / "ratings.dat").open("a") as ratings:
        ratings.write("900011::900099::4::978300763\n")
    before = table_counts()

    with pytest.raises(CommandError, match=r"ratings\.dat: movie 900099 is not in movies\.dat"):
        import_movielens(folder)
    assert table_counts() == before


def test_a_missing_file_is_named(db, tmp_path):
    folder = write_ml_latest(tmp_path / "ml-latest")
    (folder / "ratings.csv").unlink()
    before = table_counts()

    with pytest.raises(CommandError, match=r"ml-latest/ratings\.csv: missing"):
        import_movielens(folder)
    assert table_counts() == before


def test_an_unknown_layout_is_refused(db, tmp_path):
    (tmp_path / "README.txt").write_text("not a release")
    with pytest.raises(CommandError, match="unknown MovieLens layout"):
        import_movielens(tmp_path)


def test_a_path_that_does_not_exist_is_named(db, tmp_path):
    with pytest.raises(CommandError, match=r"nowhere: no such folder or zip file"):
        import_movielens(tmp_path / "nowhere")


def test_a_file_that_is_no_zip_is_refused(db, tmp_path):
    not_a_zip = tmp_path / "ratings.zip"
    not_a_zip.write_text("userId,movieId")
    with pytest.raises(CommandError, match="not a folder or zip file"):
        import_movielens(not_a_zip)


def test_without_path_or_setting_the_command_explains_what_to_pass(db, settings):
    settings.NEXUS_MOVIELENS = ""
    with pytest.raises(CommandError, match="no MovieLens release given"):
        call_command("import_movielens")


def test_the_setting_is_the_default_path(db, tmp_path, settings):
    settings.NEXUS_MOVIELENS = str(write_ml1m(tmp_path / "ml-1m"))
    call_command("import_movielens", verbosity=0)
    assert Movie.objects.filter(movielens_id=900012).exists()


# --- --download ---------------------------------------------------------------------------------------------


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        """Keep the test output clean."""


@pytest.fixture
def grouplens_mirror(tmp_path, monkeypatch, settings):
    """A local HTTP server standing in for files.grouplens.org; downloads cache under a temporary VAR_DIR."""
    root = tmp_path / "mirror"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NEXUS_MOVIELENS_BASE_URL", f"http://127.0.0.1:{server.server_port}/")
    settings.VAR_DIR = tmp_path / "var"
    yield root
    server.shutdown()
    server.server_close()


def publish(mirror: Path, archive: Path, *, md5: str | None = None) -> None:
    (mirror / "ml-100k.zip").write_bytes(archive.read_bytes())
    md5 = md5 or hashlib.md5(archive.read_bytes(), usedforsecurity=False).hexdigest()
    (mirror / "ml-100k.zip.md5").write_text(f"MD5 (ml-100k.zip) = {md5}\n")


def test_download_verifies_caches_and_imports(db, tmp_path, grouplens_mirror, settings):
    publish(grouplens_mirror, zip_folder(write_ml100k(tmp_path / "ml-100k")))

    call_command("import_movielens", download="ml-100k", verbosity=0)

    assert Movie.objects.get(movielens_id=900001).title == "Il Postino"
    cached = Path(settings.VAR_DIR) / "downloads" / "ml-100k.zip"
    assert cached.read_bytes() == (grouplens_mirror / "ml-100k.zip").read_bytes()
    # A verified copy in the cache is used without asking the server again.
    for published in grouplens_mirror.iterdir():
        published.unlink()
    call_command("import_movielens", download="ml-100k", verbosity=0)


def test_a_download_with_a_wrong_checksum_is_refused_and_not_cached(db, tmp_path, grouplens_mirror, settings):
    publish(grouplens_mirror, zip_folder(write_ml100k(tmp_path / "ml-100k")), md5="0" * 32)
    before = table_counts()

    with pytest.raises(CommandError, match=f"has MD5 [0-9a-f]{{32}}, not the published {'0' * 32}"):
        call_command("import_movielens", download="ml-100k", verbosity=0)
    assert list((Path(settings.VAR_DIR) / "downloads").iterdir()) == []
    assert table_counts() == before


def test_an_unreachable_server_fails_quickly_and_clearly(db, monkeypatch, tmp_path, settings):
    with socket.socket() as probe:  # a local port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("NEXUS_MOVIELENS_BASE_URL", f"http://127.0.0.1:{port}")
    settings.VAR_DIR = tmp_path
    started = time.monotonic()

    with pytest.raises(CommandError) as error:
        call_command("import_movielens", download="ml-latest-small", verbosity=0)

    assert time.monotonic() - started < 15
    message = str(error.value)
    assert message.startswith(f"could not download http://127.0.0.1:{port}/ml-latest-small.zip")
    assert message.endswith("pass a local folder or zip instead")


def test_path_and_download_together_are_refused(db, tmp_path):
    with pytest.raises(CommandError, match="either PATH or --download"):
        call_command("import_movielens", str(tmp_path), download="ml-100k")


# --- Readers ------------------------------------------------------------------------------------------------


def test_readers_stream_every_layout_without_a_database(tmp_path):
    with open_dataset(write_ml100k(tmp_path / "ml-100k")) as dataset:
        assert dataset.layout == "ml-100k"
        assert [movie.genres for movie in dataset.movies()][2] == ("Animation", "Children's", "Musical")
        assert list(dataset.links()) == list(dataset.tags()) == []
        assert next(dataset.ratings()) == RatingRow(
            user_id=900001, movie_id=900001, score=Decimal("5.0"), timestamp=881250949
        )
    with open_dataset(zip_folder(write_ml_latest(tmp_path / "ml-latest"))) as dataset:
        assert dataset.layout == "ml-latest"
        assert [link.tmdb_id for link in dataset.links()] == [None, 99000022]


@pytest.mark.parametrize("write", [write_ml100k, write_ml1m, write_ml_latest])
def test_ratings_array_holds_the_same_ratings_as_the_row_reader(tmp_path, write):
    with open_dataset(write(tmp_path / "release")) as dataset:
        arrays = dataset.ratings_array()
        rows = list(dataset.ratings())
    assert arrays.user_id.dtype == np.int64 and arrays.score.dtype == np.float32
    assert arrays.user_id.tolist() == [row.user_id for row in rows]
    assert arrays.movie_id.tolist() == [row.movie_id for row in rows]
    assert arrays.score.tolist() == [float(row.score) for row in rows]
    assert arrays.timestamp.tolist() == [row.timestamp for row in rows]


@pytest.mark.parametrize(("rows", "line", "problem"), BAD_RATINGS)
def test_ratings_array_names_the_bad_line_like_the_row_reader(tmp_path, rows, line, problem):
    folder = write_ml_latest(tmp_path / "release", ratings="userId,movieId,rating,timestamp\n" + rows)
    with open_dataset(folder) as dataset, pytest.raises(DatasetError, match=f"ratings.csv, line {line}: "):
        dataset.ratings_array()


def test_ratings_array_reads_ml_latest_small_fast():
    need(movielens_small_dir() is not None, "NEXUS_DATA_DIR must point at shared/data with ml-latest-small")
    started = time.monotonic()
    with open_dataset(movielens_small_dir()) as dataset:
        arrays = dataset.ratings_array()
    assert time.monotonic() - started < 1
    assert len(arrays.score) == 100_836
    assert len(np.unique(arrays.user_id)) == 610
    assert set(np.unique(arrays.score).tolist()) == {half / 2 for half in range(1, 11)}


def test_every_rating_is_stored_with_its_half_star_score_and_time(movielens):
    """The bulk path writes PostgreSQL's binary format itself (numeric scores, microsecond timestamps): every
    stored rating must read back as the file has it."""
    with open_dataset(movielens_small_dir()) as dataset:
        arrays = dataset.ratings_array()
    expected = sorted(
        zip(
            arrays.user_id.tolist(),
            arrays.movie_id.tolist(),
            arrays.score.tolist(),
            arrays.timestamp.tolist(),
            strict=True,
        )
    )
    stored = sorted(
        (user, movie, float(score), int(created.timestamp()))
        for user, movie, score, created, updated in Rating.objects.filter(user__movielens_id__isnull=False)
        .values_list("user__movielens_id", "movie__movielens_id", "score", "created_at", "updated_at")
        .iterator(chunk_size=20_000)
        if created == updated
    )
    assert stored == expected
    assert {score for _, _, score, _ in stored} == {half / 2 for half in range(1, 11)}


def test_a_user_rating_a_movie_twice_in_one_file_is_named(db, tmp_path):
    ratings = "userId,movieId,rating,timestamp\n900021,900021,4.5,1445714994\n900021,900021,3.0,1445714995\n"
    before = table_counts()
    with pytest.raises(CommandError, match=r"ratings.csv, line 3: user 900021 rates movie 900021 a second time"):
        import_movielens(write_ml_latest(tmp_path / "ml-latest-small", ratings=ratings))
    assert table_counts() == before
