"""The files Letterboxd, IMDb and Trakt export, read into rows (importers.library.rows); Nexus' own export is read
by importers.library.nexus_format.

- Letterboxd (Settings → Data → Export): a ZIP holding ``ratings.csv`` (Date, Name, Year, Letterboxd URI, Rating:
  0.5–5 stars), ``watched.csv`` and ``watchlist.csv`` (Date, Name, Year, Letterboxd URI). One of these CSV files
  may be uploaded alone: a file with a Rating column is ratings, one whose name contains "watchlist" the
  watchlist, any other the films watched (a viewing on its Date). Letterboxd gives no IMDb or TMDb id: its rows
  match by title and year.
- IMDb (Your ratings → Export): a CSV with Const (the tt id), Your Rating (1–10), Date Rated, Title, Year and
  more; the watchlist export (Position, Const, Created, ...) is read as the watchlist.
- Trakt (Settings → Data → Export): a ZIP of JSON files, of which ``ratings-movies.json`` (rated_at, rating 1–10,
  movie{title, year, ids{imdb, tmdb}}), ``watchlist-movies.json`` (listed_at, movie) and ``watched-movies.json``
  (plays, last_watched_at, movie) are read; one of them may be uploaded alone (each entry says what it is).

Ratings on 10 points become half stars: n / 2 (1 → 0.5 star, 7 → 3.5, 10 → 5). A viewing is recorded once per
entry, at the date the service gives (Trakt: the last time watched).
"""

import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath

from django.conf import settings

from importers.library.rows import (
    RATING,
    VIEWING,
    WATCHLIST,
    LibraryFile,
    MalformedFile,
    Row,
    decoded,
    imdb_id_of,
    json_entries,
    moment,
    positive_id,
    star_score,
    ten_point_score,
    year_of,
)

ZIP_MAGIC = b"PK\x03\x04"
# What the members read from one archive may expand to, at most: so many times the upload limit.
ARCHIVE_EXPANSION = 10
LETTERBOXD_MEMBERS = ("watched.csv", "ratings.csv", "watchlist.csv")
# Letterboxd's archive keeps what its user deleted in folders of their own: not part of the library.
SET_ASIDE_FOLDERS = frozenset({"deleted", "orphaned"})
TRAKT_MEMBERS = ("watched-movies.json", "ratings-movies.json", "watchlist-movies.json")


def csv_records(text: str, *, file: str = "") -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """A CSV file's header (column names, stripped) and its records, each with the line it ends on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise MalformedFile("The file is empty: a CSV header line is expected.", line=1, file=file)
        records = []
        for values in reader:
            if not any(value.strip() for value in values):
                continue  # blank lines
            if len(values) > len(header):
                raise MalformedFile(f"{len(values)} values for {len(header)} columns.", line=reader.line_num, file=file)
            records.append((reader.line_num, dict(zip(header, (value.strip() for value in values), strict=False))))
    except csv.Error as problem:
        raise MalformedFile(f"Malformed CSV: {problem}.", line=reader.line_num, file=file) from None
    return header, records


def _require(header: list[str], columns: tuple[str, ...], *, what: str, file: str) -> None:
    missing = [column for column in columns if column not in header]
    if missing:
        raise MalformedFile(
            f"Not {what}: the column(s) {', '.join(missing)} are missing from the header.", line=1, file=file
        )


# --- Letterboxd ---------------------------------------------------------------------------------------------------


def letterboxd_read(content: bytes, *, filename: str, file: str = "") -> list[Row]:
    header, records = csv_records(decoded(content, file=file), file=file)
    _require(header, ("Name", "Year"), what="a Letterboxd export (ratings, watched or watchlist CSV)", file=file)
    name = PurePosixPath(filename).name.lower()
    kind = RATING if "Rating" in header else WATCHLIST if "watchlist" in name else VIEWING
    rows = []
    for line, record in records:
        title = record.get("Name", "")
        if not title:
            raise MalformedFile("The film's Name is empty.", line=line, file=file)
        row = Row(
            line=line,
            kind=kind,
            title=title,
            year=year_of(record.get("Year"), line=line, file=file),
            at=moment(record.get("Date"), line=line, file=file),
            file=file,
        )
        if kind == RATING:
            row.score = star_score(record.get("Rating"), line=line, file=file)
        elif kind == VIEWING and row.at is None:
            raise MalformedFile("A film watched needs its Date.", line=line, file=file)
        rows.append(row)
    return rows


# --- IMDb ---------------------------------------------------------------------------------------------------------


def imdb_read(content: bytes, *, filename: str, file: str = "") -> list[Row]:
    header, records = csv_records(decoded(content, file=file), file=file)
    _require(header, ("Const",), what="an IMDb export (ratings or watchlist CSV)", file=file)
    rated = "Your Rating" in header
    if not rated and "Position" not in header:
        raise MalformedFile("Not an IMDb ratings export: the column Your Rating is missing.", line=1, file=file)
    rows = []
    for line, record in records:
        row = Row(
            line=line,
            kind=RATING if rated else WATCHLIST,
            title=record.get("Title", ""),
            year=year_of(record.get("Year"), line=line, file=file),
            imdb_id=imdb_id_of(record.get("Const"), line=line, file=file, required=True),
            at=moment(record.get("Date Rated") if rated else record.get("Created"), line=line, file=file),
            file=file,
        )
        if rated:
            row.score = ten_point_score(record.get("Your Rating"), line=line, file=file, what="Your Rating")
        rows.append(row)
    return rows


# --- Trakt --------------------------------------------------------------------------------------------------------


def trakt_read(content: bytes, *, filename: str, file: str = "") -> list[Row]:
    rows = []
    for line, entry in json_entries(decoded(content, file=file), file=file):
        if not isinstance(entry, dict):
            raise MalformedFile("Each entry of a Trakt export is a JSON object.", line=line, file=file)
        if "rating" in entry:
            kind, at = RATING, entry.get("rated_at")
        elif "listed_at" in entry:
            kind, at = WATCHLIST, entry.get("listed_at")
        elif "last_watched_at" in entry or "plays" in entry:
            kind, at = VIEWING, entry.get("last_watched_at")
        else:
            raise MalformedFile(
                "Not a Trakt movies export: an entry has no rating, listed_at or last_watched_at.", line=line, file=file
            )
        row = Row(line=line, kind=kind, at=moment(at, line=line, file=file), file=file)
        movie = entry.get("movie")
        if not isinstance(movie, dict):
            row.not_a_movie = str(entry.get("type") or "not a movie")
            item = next((entry[key] for key in ("show", "episode", "season") if isinstance(entry.get(key), dict)), {})
            row.title = str(item.get("title") or "")
            rows.append(row)
            continue
        ids = movie.get("ids") if isinstance(movie.get("ids"), dict) else {}
        row.title = str(movie.get("title") or "")
        row.year = year_of(movie.get("year"), line=line, file=file)
        row.imdb_id = imdb_id_of(ids.get("imdb"), line=line, file=file)
        row.tmdb_id = positive_id(ids.get("tmdb"), line=line, file=file)
        if kind == RATING:
            row.score = ten_point_score(entry.get("rating"), line=line, file=file)
        elif kind == VIEWING and row.at is None:
            raise MalformedFile("A movie watched needs its last_watched_at.", line=line, file=file)
        rows.append(row)
    return rows


# --- Archives -----------------------------------------------------------------------------------------------------


def archive_members(content: bytes, names: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """The members of a ZIP archive with these names, at its top level or in one folder (in ``names``' order);
    what they expand to is bounded."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
        raise MalformedFile("The file is not a readable ZIP archive.") from None
    chosen = []
    for name in names:
        candidates = [
            info
            for info in infos
            if (path := PurePosixPath(info.filename)).name == name and not info.is_dir()
            if len(path.parts) == 1 or (len(path.parts) == 2 and path.parts[0].lower() not in SET_ASIDE_FOLDERS)
        ]
        if candidates:
            chosen.append(min(candidates, key=lambda info: len(PurePosixPath(info.filename).parts)))
    if not chosen:
        raise MalformedFile(f"The archive holds none of {', '.join(names)}.")
    budget = ARCHIVE_EXPANSION * settings.NEXUS_UPLOAD_MAX_BYTES
    members = []
    for info in chosen:
        try:
            with archive.open(info) as member:
                data = member.read(budget + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, ValueError) as problem:
            raise MalformedFile(f"The archive cannot be read: {problem}.", file=info.filename) from None
        budget -= len(data)
        if budget < 0:
            raise MalformedFile(f"The archive expands to more than {ARCHIVE_EXPANSION} times the upload limit.")
        members.append((info.filename, data))
    return members


Reader = Callable[..., list[Row]]


def service_read(content: bytes, *, filename: str, reader: Reader, members: tuple[str, ...]) -> LibraryFile:
    """A service's export: one file, or its ZIP archive (each member named in the rows and errors about it)."""
    if content.startswith(ZIP_MAGIC):
        rows = []
        for name, data in archive_members(content, members):
            rows += reader(data, filename=name, file=name)
        return LibraryFile(rows=rows)
    return LibraryFile(rows=reader(content, filename=filename))


def letterboxd_file(content: bytes, *, filename: str) -> LibraryFile:
    return service_read(content, filename=filename, reader=letterboxd_read, members=LETTERBOXD_MEMBERS)


def imdb_file(content: bytes, *, filename: str) -> LibraryFile:
    return service_read(content, filename=filename, reader=imdb_read, members=("ratings.csv", "watchlist.csv"))


def trakt_file(content: bytes, *, filename: str) -> LibraryFile:
    return service_read(content, filename=filename, reader=trakt_read, members=TRAKT_MEMBERS)
