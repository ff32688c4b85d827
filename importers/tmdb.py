"""TMDb metadata from the TMDB 5000 CSV (Kaggle's tmdb_5000_movies.csv): a reader, and the enrichment of the
movies it matches by TMDb id (one TMDb id can be linked from two MovieLens movies)."""

import csv
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from django.db import connection, transaction

from catalog.models import Keyword, Movie
from datasets import DatasetError
from importers.bulk import copy_to_staging, m2m_links_replace
from nexus.versions import rows_changed

TMDB_COLUMNS = (
    "id",
    "overview",
    "runtime",
    "release_date",
    "original_language",
    "popularity",
    "vote_count",
    "vote_average",
    "keywords",
)
# The Movie fields (and columns) a row fills, with their PostgreSQL staging types.
_STAGING_TYPES = {
    "overview": "text",
    "runtime": "integer",
    "release_date": "date",
    "original_language": "text",
    "tmdb_popularity": "double precision",
    "tmdb_vote_count": "integer",
    "tmdb_vote_average": "double precision",
}
MOVIE_FIELDS = tuple(_STAGING_TYPES)
_LINE_BREAK = re.compile(r"\r\n?")

Value = TypeVar("Value")


@dataclass(frozen=True, slots=True)
class TmdbMovieRow:
    tmdb_id: int
    overview: str
    runtime: int | None  # minutes; TMDb's 0 means unknown
    release_date: date | None
    original_language: str
    tmdb_popularity: float | None
    tmdb_vote_count: int | None
    tmdb_vote_average: float | None
    keywords: tuple[str, ...]

    def movie_fields(self) -> dict:
        return {field: getattr(self, field) for field in MOVIE_FIELDS}


@dataclass(frozen=True)
class TmdbImportSummary:
    rows: int
    matched_rows: int
    unmatched_rows: int
    movies_enriched: int
    keywords: int
    seconds: float


def tmdb_movies(path: str | Path) -> Iterator[TmdbMovieRow]:
    """Stream the rows of a TMDB 5000 CSV; a bad row raises DatasetError naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    # newline="" keeps the bare "\r" inside three quoted overviews from splitting their rows.
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        line = 1
        try:
            missing = [column for column in TMDB_COLUMNS if column not in (reader.fieldnames or ())]
            if missing:
                raise DatasetError(f"{path}, line 1: missing the column(s) {', '.join(missing)}")
            line = reader.line_num + 1
            for record in reader:
                try:
                    row = _tmdb_row(record, field_count=len(reader.fieldnames))
                except ValueError as error:
                    raise DatasetError(f"{path}, line {line}: {error}") from error
                yield row
                line = reader.line_num + 1
        except UnicodeDecodeError as error:
            raise DatasetError(f"{path}, line {line}: not UTF-8 text ({error.reason})") from error


def _tmdb_row(record: dict, *, field_count: int) -> TmdbMovieRow:
    # DictReader files surplus fields under None and fills missing ones with None.
    if None in record or None in record.values():
        raise ValueError(f"expected {field_count} fields")
    return TmdbMovieRow(
        tmdb_id=_tmdb_id(record["id"]),
        overview=_LINE_BREAK.sub("\n", record["overview"]).strip(),
        runtime=_runtime(record["runtime"]),
        release_date=_optional(record["release_date"], "release_date", date.fromisoformat, "a date like 1995-10-30"),
        original_language=record["original_language"].strip(),
        tmdb_popularity=_optional(record["popularity"], "popularity", float, "a number"),
        tmdb_vote_count=_optional(record["vote_count"], "vote_count", int, "an integer"),
        tmdb_vote_average=_optional(record["vote_average"], "vote_average", float, "a number"),
        keywords=_keywords(record["keywords"]),
    )


def _tmdb_id(text: str) -> int:
    if text.isdecimal() and int(text) > 0:
        return int(text)
    raise ValueError(f"id {text!r} is not a positive integer")


def _runtime(text: str) -> int | None:
    """Minutes, written "81" or "81.0"; TMDb's 0 (like an empty field) means unknown."""
    minutes = _optional(text, "runtime", float, "a number of minutes")
    if minutes is not None and minutes < 0:
        raise ValueError(f"runtime {text!r} is negative")
    return round(minutes) if minutes else None


def _optional(text: str, column: str, parse: Callable[[str], Value], expected: str) -> Value | None:
    """None for an empty field, else `parse(text)`; `expected` describes a valid value for the error."""
    if not text.strip():
        return None
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not {expected}") from None


def _keywords(text: str) -> tuple[str, ...]:
    """'[{"id": 931, "name": "jealousy"}, ...]' -> ("jealousy", ...), without repeats."""
    try:
        names = [keyword["name"].strip() for keyword in json.loads(text or "[]")]
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ValueError(f'keywords {text[:60]!r} are not a JSON list of {{"id", "name"}} objects') from None
    return tuple(dict.fromkeys(name for name in names if name))


@transaction.atomic
def tmdb_import(*, path: str | Path) -> TmdbImportSummary:
    """Enrich the movies whose tmdb_id is in the file: overview, runtime, exact release date, language, TMDb
    popularity and votes, keywords. All or nothing; unchanged movies are not rewritten."""
    started = time.monotonic()
    rows = list(tmdb_movies(path))
    movies_by_tmdb_id: dict[int, list[Movie]] = defaultdict(list)
    for movie in Movie.objects.exclude(tmdb_id=None).only("tmdb_id", *MOVIE_FIELDS):
        movies_by_tmdb_id[movie.tmdb_id].append(movie)

    matched = [(row, movie) for row in rows for movie in movies_by_tmdb_id.get(row.tmdb_id, ())]
    changed = [movie for row, movie in matched if _movie_update(movie, row.movie_fields())]
    _movies_save_tmdb_fields(changed)
    if changed:  # keywords are not shown by catalog queries: only changed movies bump the catalog version
        rows_changed(Movie)

    keyword_names = {name for row, _ in matched for name in row.keywords}
    Keyword.objects.bulk_create([Keyword(name=name) for name in sorted(keyword_names)], ignore_conflicts=True)
    keyword_ids = dict(Keyword.objects.values_list("name", "pk"))
    m2m_links_replace(
        relation=Movie.keywords,
        owner_ids=[movie.pk for _, movie in matched],
        wanted={(movie.pk, keyword_ids[name]) for row, movie in matched for name in row.keywords},
    )
    matched_rows = len({row.tmdb_id for row, _ in matched})
    return TmdbImportSummary(
        rows=len(rows),
        matched_rows=matched_rows,
        unmatched_rows=len(rows) - matched_rows,
        movies_enriched=len(matched),
        keywords=len(keyword_names),
        seconds=time.monotonic() - started,
    )


def _movies_save_tmdb_fields(movies: list[Movie]) -> None:
    """COPY and one UPDATE on PostgreSQL; a prepared UPDATE run per movie in-process on SQLite. (bulk_update
    builds a CASE per field and row: seconds of Python for a few thousand movies.)"""
    table = Movie._meta.db_table
    fields = [Movie._meta.get_field(name) for name in MOVIE_FIELDS]
    rows = [
        [movie.pk, *(field.get_db_prep_save(getattr(movie, field.attname), connection) for field in fields)]
        for movie in movies
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            copy_to_staging(cursor, "import_tmdb", {"id": "bigint", **_STAGING_TYPES}, rows)
            assignments = ", ".join(f"{field} = staged.{field}" for field in MOVIE_FIELDS)
            cursor.execute(
                f"UPDATE {table} SET {assignments} "  # noqa: S608
                f"FROM import_tmdb AS staged WHERE {table}.id = staged.id"
            )
        else:
            assignments = ", ".join(f"{field} = %s" for field in MOVIE_FIELDS)
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE id = %s",  # noqa: S608
                [[*values, pk] for pk, *values in rows],
            )


def _movie_update(movie: Movie, values: dict) -> bool:
    """Set `values` on `movie`; tells whether anything changed."""
    changed = False
    for field, value in values.items():
        if getattr(movie, field) != value:
            setattr(movie, field, value)
            changed = True
    return changed
