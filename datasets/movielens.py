"""Readers for MovieLens releases, free of database code so that the importer and the recommender share them.

Each layout GroupLens has published is read from a folder or a zip (a zip usually has one top-level folder):
- "ml-latest": ml-latest, ml-latest-small, ml-20m, ml-25m (CSV with headers; the genome-* files are ignored);
- "ml-100k": u.item, u.genre, u.data;
- "ml-1m": ml-1m and ml-10m (movies.dat, ratings.dat and, in ml-10m, tags.dat, separated by "::").

Rows stream from the files. A bad row raises DatasetError naming its file and line.
"""

import csv
import io
import warnings
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple, TypeVar

import numpy as np

from datasets import DatasetError

NO_GENRES = "(no genres listed)"

# Half stars from 0.5 to 5.0, keyed by each spelling the releases use: "4.5", "4.0" and, in older sets, "4".
_HALF_STARS = [Decimal(half * 5).scaleb(-1) for half in range(1, 11)]
_SCORES = {str(score): score for score in _HALF_STARS} | {
    str(int(score)): score for score in _HALF_STARS if score == int(score)
}

Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class MovieRow:
    movielens_id: int
    raw_title: str
    genres: tuple[str, ...]
    release_date: date | None = None


@dataclass(frozen=True, slots=True)
class LinkRow:
    movielens_id: int
    imdb_id: str | None  # "tt0114709"
    tmdb_id: int | None


@dataclass(frozen=True, slots=True)
class RatingRow:
    user_id: int
    movie_id: int
    score: Decimal
    timestamp: int


@dataclass(frozen=True, slots=True)
class TagRow:
    user_id: int
    movie_id: int
    tag: str
    timestamp: int


class RatingArrays(NamedTuple):
    user_id: np.ndarray  # int64
    movie_id: np.ndarray  # int64
    score: np.ndarray  # float32
    timestamp: np.ndarray  # int64, Unix seconds


# --- Field parsers (a ValueError becomes a DatasetError naming file and line) -------------------------------


def _positive_int(text: str, column: str) -> int:
    if text.isdecimal() and int(text) > 0:
        return int(text)
    raise ValueError(f"{column} {text!r} is not a positive integer")


def _timestamp(text: str) -> int:
    if text.isdecimal():
        return int(text)
    raise ValueError(f"timestamp {text!r} is not a number of seconds")


def _score(text: str) -> Decimal:
    try:
        return _SCORES[text]
    except KeyError:
        raise ValueError(f"rating {text!r} is not a half star from 0.5 to 5.0") from None


def _genres(text: str) -> tuple[str, ...]:
    return tuple(genre for genre in text.split("|") if genre and genre != NO_GENRES)


def _imdb_id(text: str) -> str | None:
    if not text:
        return None
    return f"tt{_positive_int(text, 'imdbId'):07d}"


def _rating(fields: list[str]) -> RatingRow:
    user_id, movie_id, score, timestamp = fields
    return RatingRow(
        user_id=_positive_int(user_id, "userId"),
        movie_id=_positive_int(movie_id, "movieId"),
        score=_score(score),
        timestamp=_timestamp(timestamp),
    )


def _tag(fields: list[str]) -> TagRow:
    user_id, movie_id, tag, timestamp = fields
    return TagRow(
        user_id=_positive_int(user_id, "userId"),
        movie_id=_positive_int(movie_id, "movieId"),
        tag=tag.strip(),
        timestamp=_timestamp(timestamp),
    )


def _movie(fields: list[str]) -> MovieRow:
    movie_id, title, genres = fields
    return MovieRow(movielens_id=_positive_int(movie_id, "movieId"), raw_title=title, genres=_genres(genres))


def _link(fields: list[str]) -> LinkRow:
    movie_id, imdb_id, tmdb_id = fields
    return LinkRow(
        movielens_id=_positive_int(movie_id, "movieId"),
        imdb_id=_imdb_id(imdb_id),
        tmdb_id=_positive_int(tmdb_id, "tmdbId") if tmdb_id else None,
    )


# --- Files in a folder or a zip -----------------------------------------------------------------------------


class _Source(ABC):
    """The files of one release, at the top of a folder or zip or in its one top-level folder."""

    def __init__(self, path: Path, members: Iterable[str]):
        self.path = path
        self._members: dict[str, str] = {}  # file name -> path inside the source, the shallowest one
        for member in sorted(members, key=lambda member: (member.count("/"), member)):
            self._members.setdefault(PurePosixPath(member).name, member)

    @abstractmethod
    def open_binary(self, name: str) -> IO[bytes]: ...

    @abstractmethod
    def close(self) -> None: ...

    def has(self, name: str) -> bool:
        return name in self._members

    def describe(self, name: str) -> str:
        return f"{self.path}/{self._members.get(name, name)}"

    def error(self, name: str, line: int, problem: str) -> DatasetError:
        return DatasetError(f"{self.describe(name)}, line {line}: {problem}")

    @contextmanager
    def open_text(self, name: str, *, encoding: str) -> Iterator[IO[str]]:
        # newline="" keeps the CRLF endings of the CSV releases for the csv module to handle.
        with (
            self.open_binary(name) as binary,
            io.TextIOWrapper(binary, encoding=encoding, newline="") as text,
        ):
            yield text

    def read_text(self, name: str) -> str:
        """A small file whose encoding differs between releases (ml-1m is latin-1, ml-10m UTF-8)."""
        with self.open_binary(name) as binary:
            data = binary.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")

    def csv_records(self, name: str, columns: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
        """Data rows of a UTF-8 CSV file with the given header, each with the line it starts on."""
        with self.open_text(name, encoding="utf-8-sig") as text:
            reader = csv.reader(text)
            line = 1
            try:
                if next(reader, None) != list(columns):
                    raise self.error(name, line, f"expected the header {','.join(columns)}")
                line = reader.line_num + 1
                for fields in reader:
                    if fields:
                        if len(fields) != len(columns):
                            raise self.error(name, line, f"expected {len(columns)} fields, found {len(fields)}")
                        yield line, fields
                    line = reader.line_num + 1
            except UnicodeDecodeError as error:
                raise self.error(name, line, f"not UTF-8 text ({error.reason})") from error

    def split_records(
        self, name: str, lines: Iterable[str], *, separator: str, field_count: int
    ) -> Iterator[tuple[int, list[str]]]:
        """Rows of a headerless file whose fields are separated by `separator`, with their line numbers."""
        for line, text in enumerate(lines, start=1):
            text = text.rstrip("\r\n")
            if not text:
                continue
            fields = text.split(separator)
            if len(fields) != field_count:
                raise self.error(name, line, f"expected {field_count} fields, found {len(fields)}")
            yield line, fields


class _Folder(_Source):
    def __init__(self, path: Path):
        files = (file for pattern in ("*", "*/*") for file in path.glob(pattern) if file.is_file())
        super().__init__(path, (file.relative_to(path).as_posix() for file in files))

    def open_binary(self, name: str) -> IO[bytes]:
        return (self.path / self._members[name]).open("rb")

    def close(self) -> None:
        """Nothing to release: each read opens and closes its own file."""


class _Zip(_Source):
    def __init__(self, path: Path):
        try:
            self._zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as error:
            raise DatasetError(f"{path}: not a folder or zip file of a MovieLens release ({error})") from error
        members = (name for name in self._zip.namelist() if not name.endswith("/") and name.count("/") <= 1)
        super().__init__(path, members)

    def open_binary(self, name: str) -> IO[bytes]:
        return self._zip.open(self._members[name])

    def close(self) -> None:
        self._zip.close()


# --- Layouts ------------------------------------------------------------------------------------------------


class MovieLensDataset(ABC):
    """One MovieLens release in any supported layout. Iterating streams its files again each time."""

    layout: str
    movies_file: str
    ratings_file: str
    links_file: str | None = None
    tags_file: str | None = None
    required_files: tuple[str, ...]
    # How ratings_array reads the ratings file.
    ratings_separator: str
    ratings_header: bool = False

    def __init__(self, source: _Source):
        self._source = source

    @abstractmethod
    def movies(self) -> Iterator[MovieRow]: ...

    @abstractmethod
    def ratings(self) -> Iterator[RatingRow]: ...

    def links(self) -> Iterator[LinkRow]:
        return iter(())

    def tags(self) -> Iterator[TagRow]:
        return iter(())

    @contextmanager
    def ratings_csv(self) -> Iterator[IO[bytes] | None]:
        """The raw ratings file when it is a ``userId,movieId,rating,timestamp`` CSV with a header (the
        ml-latest layout), for a database to parse in bulk; None for other layouts."""
        if self.ratings_separator != "," or not self.ratings_header:
            yield None
            return
        with self._source.open_binary(self.ratings_file) as binary:
            yield binary

    def file_location(self, name: str) -> str:
        """Where a release file is, for messages: "/data/ml-latest-small.zip/ml-latest-small/tags.csv"."""
        return self._source.describe(name)

    def ratings_array(self) -> RatingArrays:
        """All ratings as numpy columns, parsed by numpy's C reader: seconds for ml-25m's 25 million rows."""
        # loadtxt wants a one-character delimiter.
        separator = "," if self.ratings_separator == "::" else self.ratings_separator
        with self._source.open_text(self.ratings_file, encoding="latin-1") as text:
            lines = (line.replace("::", ",") for line in text) if self.ratings_separator == "::" else text
            try:
                with warnings.catch_warnings():  # a release without ratings is fine: an empty table
                    warnings.filterwarnings("ignore", "loadtxt: input contained no data", UserWarning)
                    table = np.loadtxt(lines, delimiter=separator, skiprows=int(self.ratings_header), ndmin=2)
            except ValueError:
                raise self._first_rating_error() from None
        if table.size == 0:
            table = table.reshape(0, 4)
        if not _is_rating_table(table):
            raise self._first_rating_error()
        return RatingArrays(
            user_id=table[:, 0].astype(np.int64),
            movie_id=table[:, 1].astype(np.int64),
            score=table[:, 2].astype(np.float32),
            timestamp=table[:, 3].astype(np.int64),
        )

    def _first_rating_error(self) -> DatasetError:
        """The row reader's error for the first bad rating, which names its line."""
        try:
            for _ in self.ratings():
                pass
        except DatasetError as error:
            return error
        return DatasetError(f"{self.file_location(self.ratings_file)}: not a table of ratings")

    def _parsed(
        self, name: str, records: Iterable[tuple[int, list[str]]], parse: Callable[[list[str]], Row]
    ) -> Iterator[Row]:
        for line, fields in records:
            try:
                row = parse(fields)
            except ValueError as error:
                raise self._source.error(name, line, str(error)) from error
            yield row


def _is_rating_table(table: np.ndarray) -> bool:
    if table.shape[1] != 4:
        return False
    ids, timestamps = table[:, :2], table[:, 3]
    return bool(
        (ids >= 1).all()
        and (ids == np.floor(ids)).all()
        and (timestamps >= 0).all()
        and (timestamps == np.floor(timestamps)).all()
        and np.isin(table[:, 2] * 2, np.arange(1, 11)).all()
    )


class _CsvDataset(MovieLensDataset):
    """ml-latest, ml-latest-small, ml-20m, ml-25m."""

    layout = "ml-latest"
    movies_file, ratings_file, links_file, tags_file = "movies.csv", "ratings.csv", "links.csv", "tags.csv"
    required_files = (movies_file, ratings_file)
    ratings_separator, ratings_header = ",", True

    def movies(self) -> Iterator[MovieRow]:
        records = self._source.csv_records(self.movies_file, ("movieId", "title", "genres"))
        return self._parsed(self.movies_file, records, _movie)

    def links(self) -> Iterator[LinkRow]:
        if not self._source.has(self.links_file):
            return iter(())
        records = self._source.csv_records(self.links_file, ("movieId", "imdbId", "tmdbId"))
        return self._parsed(self.links_file, records, _link)

    def ratings(self) -> Iterator[RatingRow]:
        records = self._source.csv_records(self.ratings_file, ("userId", "movieId", "rating", "timestamp"))
        return self._parsed(self.ratings_file, records, _rating)

    def tags(self) -> Iterator[TagRow]:
        if not self._source.has(self.tags_file):
            return iter(())
        records = self._source.csv_records(self.tags_file, ("userId", "movieId", "tag", "timestamp"))
        return self._parsed(self.tags_file, records, _tag)


class _Ml100kDataset(MovieLensDataset):
    """ml-100k: u.item (movies with genre flags), u.genre (the flags' names), u.data (ratings)."""

    layout = "ml-100k"
    movies_file, ratings_file, genres_file = "u.item", "u.data", "u.genre"
    required_files = (movies_file, ratings_file, genres_file)
    ratings_separator = "\t"

    def movies(self) -> Iterator[MovieRow]:
        genre_names = self._genre_names()
        # id|title|release date|video release date|IMDb URL|one 0/1 flag per genre of u.genre
        with self._source.open_text(self.movies_file, encoding="latin-1") as text:
            records = self._source.split_records(
                self.movies_file, text, separator="|", field_count=5 + len(genre_names)
            )
            yield from self._parsed(self.movies_file, records, lambda fields: _ml100k_movie(fields, genre_names))

    def ratings(self) -> Iterator[RatingRow]:
        with self._source.open_text(self.ratings_file, encoding="latin-1") as text:
            records = self._source.split_records(self.ratings_file, text, separator="\t", field_count=4)
            yield from self._parsed(self.ratings_file, records, _rating)

    def _genre_names(self) -> list[str]:
        """Genre names in flag order; u.genre lists "name|index" lines."""
        lines = self._source.read_text(self.genres_file).split("\n")
        records = self._source.split_records(self.genres_file, lines, separator="|", field_count=2)
        by_index = dict(self._parsed(self.genres_file, records, _ml100k_genre))
        if sorted(by_index) != list(range(len(by_index))):
            raise DatasetError(f"{self.file_location(self.genres_file)}: genre indexes are not 0, 1, 2, ...")
        return [by_index[index] for index in range(len(by_index))]


def _ml100k_genre(fields: list[str]) -> tuple[int, str]:
    name, index = fields
    if not index.isdecimal():
        raise ValueError(f"genre index {index!r} is not a number")
    return int(index), name


def _ml100k_movie(fields: list[str], genre_names: list[str]) -> MovieRow:
    movie_id, title, release_date, _video_release_date, _imdb_url, *flags = fields
    if set(flags) - {"0", "1"}:
        raise ValueError(f"genre flags {'|'.join(flags)!r} are not 0 or 1")
    return MovieRow(
        movielens_id=_positive_int(movie_id, "movie id"),
        raw_title=title,
        # "unknown" is ml-100k's flag for a movie without genres.
        genres=tuple(name for name, flag in zip(genre_names, flags, strict=True) if flag == "1" and name != "unknown"),
        release_date=_ml100k_date(release_date),
    )


def _ml100k_date(text: str) -> date | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%d-%b-%Y").date()
    except ValueError:
        raise ValueError(f"release date {text!r} is not like 01-Jan-1995") from None


class _DatDataset(MovieLensDataset):
    """ml-1m and ml-10m: "::"-separated movies.dat, ratings.dat and (ml-10m) tags.dat."""

    layout = "ml-1m"
    movies_file, ratings_file, tags_file = "movies.dat", "ratings.dat", "tags.dat"
    required_files = (movies_file, ratings_file)
    ratings_separator = "::"

    def movies(self) -> Iterator[MovieRow]:
        lines = self._source.read_text(self.movies_file).split("\n")
        records = self._source.split_records(self.movies_file, lines, separator="::", field_count=3)
        return self._parsed(self.movies_file, records, _movie)

    def ratings(self) -> Iterator[RatingRow]:
        # Ratings are ASCII; latin-1 decodes any byte, so a stray one surfaces as a bad field with its line.
        with self._source.open_text(self.ratings_file, encoding="latin-1") as text:
            records = self._source.split_records(self.ratings_file, text, separator="::", field_count=4)
            yield from self._parsed(self.ratings_file, records, _rating)

    def tags(self) -> Iterator[TagRow]:
        if not self._source.has(self.tags_file):
            return iter(())
        lines = self._source.read_text(self.tags_file).split("\n")
        records = self._source.split_records(self.tags_file, lines, separator="::", field_count=4)
        return self._parsed(self.tags_file, records, _tag)


_LAYOUTS: tuple[type[MovieLensDataset], ...] = (_CsvDataset, _Ml100kDataset, _DatDataset)


@contextmanager
def open_dataset(path: str | Path) -> Iterator[MovieLensDataset]:
    """Open a MovieLens release (folder or zip), recognising its layout by the files it holds."""
    path = Path(path)
    if path.is_dir():
        source: _Source = _Folder(path)
    elif path.is_file():
        source = _Zip(path)
    else:
        raise DatasetError(f"{path}: no such folder or zip file")
    try:
        yield _dataset_in(source)
    finally:
        source.close()


def _dataset_in(source: _Source) -> MovieLensDataset:
    for layout in _LAYOUTS:
        if any(source.has(name) for name in layout.required_files):
            missing = [name for name in layout.required_files if not source.has(name)]
            if missing:
                raise DatasetError(
                    f"{source.describe(missing[0])}: missing (the {layout.layout} layout needs "
                    f"{', '.join(layout.required_files)})"
                )
            return layout(source)
    raise DatasetError(
        f"{source.path}: unknown MovieLens layout: it holds none of movies.csv (ml-latest, ml-20m, ml-25m), "
        "u.data (ml-100k) or movies.dat (ml-1m, ml-10m), at its top or in its top-level folder"
    )
