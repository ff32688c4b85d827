"""Reading the files Letterboxd, IMDb, Trakt and Nexus export (importers.library), and matching their rows to the
real ml-latest-small catalog."""

import io
import json
import zipfile
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.models import Movie
from importers.library.formats import imdb_file, letterboxd_file, trakt_file
from importers.library.matching import MovieMatcher, title_key, title_keys
from importers.library.nexus_format import nexus_file
from importers.library.rows import RATING, VIEWING, WATCHLIST, MalformedFile, Row, json_entries, ten_point_score


def archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(("ten", "stars"), [(1, "0.5"), (2, "1.0"), (5, "2.5"), (7, "3.5"), (9, "4.5"), (10, "5.0")])
def test_ten_point_ratings_are_halved_into_half_stars(ten, stars):
    assert ten_point_score(ten, line=1) == Decimal(stars)


@pytest.mark.parametrize("bad", [0, 11, 7.5, "seven", None, True])
def test_a_ten_point_rating_out_of_its_scale_is_malformed(bad):
    with pytest.raises(MalformedFile) as refused:
        ten_point_score(bad, line=3)
    assert refused.value.line == 3


def test_letterboxd_archive_reads_ratings_watched_and_watchlist_but_not_deleted_entries():
    content = archive(
        {
            "ratings.csv": b"Date,Name,Year,Letterboxd URI,Rating\n2020-01-05,Alien,1979,x,4\n",
            "watched.csv": b"Date,Name,Year,Letterboxd URI\n2020-01-04,Alien,1979,x\n",
            "watchlist.csv": b"Date,Name,Year,Letterboxd URI\n2020-01-06,Heat,1995,x\n",
            "deleted/ratings.csv": b"Date,Name,Year,Letterboxd URI,Rating\n2020-01-05,Jaws,1975,x,1\n",
            "diary.csv": b"Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date\n",
        }
    )

    rows = letterboxd_file(content, filename="letterboxd-someone-2026.zip").rows

    assert [(row.file, row.kind, row.title) for row in rows] == [
        ("watched.csv", VIEWING, "Alien"),
        ("ratings.csv", RATING, "Alien"),
        ("watchlist.csv", WATCHLIST, "Heat"),
    ]
    assert rows[0].at == datetime(2020, 1, 4, tzinfo=UTC) and rows[1].score == Decimal("4.0")


def test_an_archive_that_expands_too_far_is_refused(settings):
    settings.NEXUS_UPLOAD_MAX_BYTES = 100
    content = archive({"ratings.csv": b"Date,Name,Year,Letterboxd URI,Rating\n" + b"\n" * 5000})

    with pytest.raises(MalformedFile, match="expands to more than"):
        letterboxd_file(content, filename="export.zip")


def test_an_error_in_an_archive_names_the_member_and_line():
    content = archive({"ratings.csv": b"Date,Name,Year,Letterboxd URI,Rating\n2020-01-05,Alien,1979,x,9\n"})

    with pytest.raises(MalformedFile) as refused:
        letterboxd_file(content, filename="export.zip")
    assert str(refused.value).startswith("ratings.csv, line 2:")


def test_imdb_watchlist_export_is_read_as_the_watchlist():
    content = (
        b"Position,Const,Created,Modified,Description,Title,URL,Title Type,Year\n"
        b"1,tt0133093,2021-02-03,,,The Matrix,,movie,1999\n"
    )

    [row] = imdb_file(content, filename="WATCHLIST.csv").rows

    assert (row.kind, row.imdb_id, row.at.date().isoformat()) == (WATCHLIST, "tt0133093", "2021-02-03")


def test_trakt_entries_say_what_they_are_with_their_json_lines():
    entries = [
        {"listed_at": "2023-01-01T00:00:00.000Z", "type": "movie", "movie": {"title": "Heat", "ids": {"tmdb": 949}}},
        {"plays": 3, "last_watched_at": "2023-02-01T21:00:00.000Z", "movie": {"ids": {"imdb": "tt0113277"}}},
        {"rating": 8, "rated_at": "2023-03-01T00:00:00Z", "type": "show", "show": {"title": "The Wire"}},
    ]
    text = json.dumps(entries, indent=2).encode()

    rows = trakt_file(text, filename="export.json").rows

    assert [(row.kind, row.line) for row in rows] == [(WATCHLIST, 2), (VIEWING, 12), (RATING, 21)]
    assert rows[1].at == datetime(2023, 2, 1, 21, tzinfo=UTC)
    assert rows[2].not_a_movie == "show" and MovieMatcher(rows[2:]).match(rows[2]) is None
    assert "Not a movie" in MovieMatcher.reason(rows[2])


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[\n  {"rating": 8},\n  {"rating": 8,}\n]', 3),
        ('[\n  {"rating": 8}\n  {"rating": 8}\n]', 3),
        ('{"not": "an array"}', 1),
        ("[1] [2]", 1),
    ],
)
def test_malformed_json_is_refused_with_its_line(text, line):
    with pytest.raises(MalformedFile) as refused:
        json_entries(text)
    assert refused.value.line == line


def test_nexus_csv_with_an_unknown_section_is_refused_with_its_line():
    content = (
        b"section,movielens_id,tmdb_id,imdb_id,title,year,score,date,changed,value\nbio,,,,,,,,,hi\nlists,1,,,,,,,,\n"
    )

    with pytest.raises(MalformedFile) as refused:
        nexus_file(content, filename="nexus.csv")
    assert refused.value.line == 3 and "Unknown section" in refused.value.reason


NEXUS_CSV_HEADER = b"section,movielens_id,tmdb_id,imdb_id,title,year,score,date,changed,value,list,public\n"


def test_nexus_csv_lists_tie_their_entries_by_slug_in_order():
    content = NEXUS_CSV_HEADER + (
        b'list,,,,Rewatch,,,2020-01-01,,"Two\nlines",rewatch-abc123,true\n'
        b"list_entry,2571,,,The Matrix,1999,,,,Again,rewatch-abc123,\n"
        b"list_entry,1,,,Toy Story,1995,,,,,rewatch-abc123,\n"
    )

    library = nexus_file(content, filename="nexus.csv")

    [header] = library.lists
    assert (header.name, header.description, header.public, header.line) == ("Rewatch", "Two\nlines", True, 3)
    assert [(row.kind, row.movielens_id, row.note, row.list_key) for row in library.rows] == [
        ("list_entry", 2571, "Again", "rewatch-abc123"),
        ("list_entry", 1, "", "rewatch-abc123"),
    ]


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        (b"list_entry,1,,,Toy Story,1995,,,,,nowhere,\n", "No list 'nowhere'"),
        (b"list,,,,Rewatch,,,,,,,\n", "its own slug"),
        (b"list,,,,Rewatch,,,,,,a,yes\n", "true or false"),
        (b"list,,,,A,,,,,,a,\nlist,,,,B,,,,,,a,\n", "its own slug"),
    ],
)
def test_nexus_csv_lists_that_cannot_be_read_are_refused_with_their_line(rows, words):
    with pytest.raises(MalformedFile) as refused:
        nexus_file(NEXUS_CSV_HEADER + rows, filename="nexus.csv")
    assert refused.value.line == rows.count(b"\n") + 1 and words in refused.value.reason


def test_nexus_json_lists_that_cannot_be_read_are_refused():
    document = {"format": "nexus-library", "version": 1, "lists": [{"name": "A", "public": "yes", "movies": []}]}
    with pytest.raises(MalformedFile, match="true or false"):
        nexus_file(json.dumps(document).encode(), filename="x.json")


def test_nexus_json_of_another_format_is_refused():
    with pytest.raises(MalformedFile, match="Not a Nexus library export"):
        nexus_file(b'{"format": "something-else", "version": 1}', filename="x.json")


def test_titles_compare_without_accents_case_or_punctuation():
    assert title_key("Amélie") == title_key("AMELIE") == "amelie"
    assert title_key("Fast & Furious") == title_key("Fast and Furious")
    assert title_keys("The City of Lost Children (La Cité des enfants perdus)") >= {
        "the city of lost children",
        "la cite des enfants perdus",
    }
    assert "se7en" in title_keys("Seven (a.k.a. Se7en)")


@pytest.mark.usefixtures("movielens")
def test_rows_match_by_movielens_imdb_tmdb_then_title_and_nearest_year():
    def matched(**given) -> int | None:
        row = Row(line=1, kind=RATING, **given)
        pk = MovieMatcher([row]).match(row)
        return Movie.objects.get(pk=pk).movielens_id if pk else None

    assert matched(movielens_id=1, imdb_id="tt0068646") == 1  # Nexus' own id first
    assert matched(imdb_id="tt0068646", tmdb_id=862) == 858  # then IMDb: The Godfather, not Toy Story
    assert matched(tmdb_id=862, title="The Godfather", year=1972) == 1
    assert matched(title="the matrix", year=2000) == 2571  # one year off
    assert matched(title="The Matrix", year=2001) is None  # two years off
    assert matched(title="Amelie", year=2001) == Movie.objects.get(imdb_id="tt0211915").movielens_id
