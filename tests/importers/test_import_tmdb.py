"""import_tmdb: movies enriched by TMDb id from the TMDB 5000 CSV; idempotent, all or nothing, clear errors"""

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Keyword, Movie
from importers.tmdb import TMDB_COLUMNS
from tests.conftest import tmdb_csv


def import_tmdb(path) -> str:
    out = io.StringIO()
    call_command("import_tmdb", str(path), stdout=out)
    return out.getvalue()


def keyword_json(*names: str) -> str:
    return json.dumps([{"id": index, "name": name} for index, name in enumerate(names)])


def tmdb_row(tmdb_id, **values) -> dict:
    row = {
        "id": str(tmdb_id),
        "overview": "A test overview.",
        "runtime": "98.0",
        "release_date": "2003-04-05",
        "original_language": "fr",
        "popularity": "12.5",
        "vote_count": "40",
        "vote_average": "6.5",
        "keywords": keyword_json("test-heist", "test-paris"),
        "title": "Test",
    }
    return row | values


def write_tmdb(path: Path, *rows: dict) -> Path:
    """A CSV shaped like tmdb_5000_movies.csv (LF line endings), with the columns the importer reads."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=[*TMDB_COLUMNS, "title"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def two_movies(db):
    """Two MovieLens movies linked to one TMDb id, as happens in ml-latest-small (tmdbId 4912)."""
    return [
        Movie.objects.create(movielens_id=movielens_id, tmdb_id=99_000_001, title=f"Movie {movielens_id}")
        for movielens_id in (900101, 900102)
    ]


# --- The TMDB 5000 file loaded for the session ------------------------------------------------------------


def test_toy_story_is_enriched(movielens):
    toy_story = Movie.objects.get(tmdb_id=862)
    assert toy_story.title == "Toy Story"
    assert toy_story.overview.startswith("Led by Woody, Andy's toys live happily in his room")
    assert (toy_story.runtime, toy_story.release_date) == (81, date(1995, 10, 30))
    assert (toy_story.original_language, toy_story.tmdb_vote_count) == ("en", 5269)
    assert toy_story.tmdb_vote_average == pytest.approx(7.7)
    assert toy_story.tmdb_popularity == pytest.approx(73.640445)
    assert {"toy", "friendship", "jealousy", "rivalry"} <= set(toy_story.keywords.values_list("name", flat=True))


def test_one_tmdb_id_enriches_both_movies_linked_to_it(movielens):
    movies = Movie.objects.filter(tmdb_id=4912)
    assert movies.count() == 2
    assert {(movie.runtime, movie.release_date) for movie in movies} == {(113, date(2002, 12, 30))}
    assert all(movie.keywords.exists() for movie in movies)


def test_a_bare_carriage_return_in_an_overview_becomes_a_line_break(movielens):
    kung_pow = Movie.objects.get(tmdb_id=11891)
    assert "\r" not in kung_pow.overview
    assert "weaving the new and old together.\n As the main character" in kung_pow.overview


def test_movies_the_file_does_not_mention_stay_as_they_were(movielens):
    with tmdb_csv().open(encoding="utf-8", newline="") as file:
        tmdb_ids = {int(row["id"]) for row in csv.DictReader(file)}
    unmatched = Movie.objects.exclude(tmdb_id__in=tmdb_ids)
    assert unmatched.count() == 9742 - 3537
    assert not unmatched.exclude(overview="").exists()
    assert not unmatched.filter(keywords__isnull=False).exists()


def test_a_second_import_changes_nothing(movielens):
    def counts():
        return (
            Keyword.objects.count(),
            Movie.keywords.through.objects.count(),
            Movie.objects.exclude(overview="").count(),
        )

    before = counts()
    output = import_tmdb(tmdb_csv())

    assert "Enriched 3,537 movies from 3,536 of 4,803 TMDb rows (1,267 matched no movie)" in output
    assert counts() == before


# --- Small files --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unknown", ["0", "0.0", ""])
def test_runtime_zero_or_empty_is_unknown_and_decimals_are_minutes(two_movies, tmp_path, unknown):
    movie = two_movies[0]
    import_tmdb(write_tmdb(tmp_path / "tmdb.csv", tmdb_row(99_000_001, runtime="98.0")))
    movie.refresh_from_db()
    assert movie.runtime == 98

    import_tmdb(write_tmdb(tmp_path / "tmdb.csv", tmdb_row(99_000_001, runtime=unknown)))
    movie.refresh_from_db()
    assert movie.runtime is None


def test_both_movies_of_a_tmdb_id_get_its_fields_and_keywords(two_movies, tmp_path):
    output = import_tmdb(write_tmdb(tmp_path / "tmdb.csv", tmdb_row(99_000_001), tmdb_row(99_000_002)))

    assert "Enriched 2 movies from 1 of 2 TMDb rows (1 matched no movie), with 2 keywords" in output
    for movie in Movie.objects.filter(pk__in=[movie.pk for movie in two_movies]):
        assert (movie.overview, movie.runtime, movie.release_date) == (
            "A test overview.",
            98,
            date(2003, 4, 5),
        )
        assert (movie.original_language, movie.tmdb_popularity, movie.tmdb_vote_count) == ("fr", 12.5, 40)
        assert movie.tmdb_vote_average == 6.5
        assert set(movie.keywords.values_list("name", flat=True)) == {"test-heist", "test-paris"}


def test_a_newer_file_replaces_fields_and_keywords(two_movies, tmp_path):
    import_tmdb(write_tmdb(tmp_path / "tmdb.csv", tmdb_row(99_000_001)))
    import_tmdb(
        write_tmdb(
            tmp_path / "tmdb.csv",
            tmdb_row(
                99_000_001,
                overview="Rewritten.",
                keywords=keyword_json("test-paris", "test-night", "test-paris"),
            ),
        )
    )

    movie = Movie.objects.get(pk=two_movies[0].pk)
    assert movie.overview == "Rewritten."
    assert sorted(movie.keywords.values_list("name", flat=True)) == ["test-night", "test-paris"]


BAD_ROWS = [
    ({"id": "abc"}, "id 'abc' is not a positive integer"),
    ({"runtime": "long"}, "runtime 'long' is not a number of minutes"),
    ({"runtime": "-5"}, "runtime '-5' is negative"),
    ({"release_date": "30/10/1995"}, "release_date '30/10/1995' is not a date like 1995-10-30"),
    ({"vote_count": "many"}, "vote_count 'many' is not an integer"),
    ({"popularity": "high"}, "popularity 'high' is not a number"),
    ({"keywords": '[{"id": 1}]'}, """keywords '[{"id": 1}]' are not a JSON list of {"id", "name"} objects"""),
    ({"keywords": "toy, boy"}, """keywords 'toy, boy' are not a JSON list of {"id", "name"} objects"""),
]


@pytest.mark.parametrize(("values", "problem"), BAD_ROWS)
def test_a_bad_row_names_file_and_line_and_changes_nothing(two_movies, tmp_path, values, problem):
    # The first row's overview spans two lines: the bad row starts on line 4.
    path = write_tmdb(
        tmp_path / "tmdb.csv",
        tmdb_row(99_000_001, overview="First line, and\ra second one."),
        tmdb_row(99_000_002, **values),
    )

    with pytest.raises(CommandError) as error:
        import_tmdb(path)

    assert str(error.value) == f"{path}, line 4: {problem}"
    assert not Movie.objects.exclude(overview="").filter(pk__in=[movie.pk for movie in two_movies]).exists()
    assert not Keyword.objects.filter(name="test-heist").exists()


def test_a_row_with_missing_fields_is_named(two_movies, tmp_path):
    path = tmp_path / "tmdb.csv"
    path.write_text(",".join(TMDB_COLUMNS) + "\n99000001,Too short\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"tmdb\.csv, line 2: expected 9 fields"):
        import_tmdb(path)


def test_missing_columns_are_named(db, tmp_path):
    path = tmp_path / "tmdb.csv"
    path.write_text("id,title\n862,Toy Story\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"tmdb\.csv, line 1: missing the column\(s\) overview, runtime"):
        import_tmdb(path)


def test_a_missing_file_is_named(db, tmp_path):
    with pytest.raises(CommandError, match=r"nothing\.csv: no such file"):
        import_tmdb(tmp_path / "nothing.csv")
