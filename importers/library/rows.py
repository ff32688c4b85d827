"""What every library file becomes once read: rows naming a movie by whatever ids the service gives, and an entry
of the library (a rating, a watchlist entry, ...); files that cannot be read raise ``MalformedFile``."""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

RATING, WATCHLIST, VIEWING, FAVORITE, HIDDEN = "rating", "watchlist", "viewing", "favorite", "hidden"
LIST_ENTRY = "list_entry"  # a movie in one of the lists of a Nexus export
_IMDB_ID = re.compile(r"^tt\d{1,10}$")


class MalformedFile(Exception):
    """The file cannot be imported: ``reason``, about ``line`` (1-based; None for the whole file) of ``file``
    (the member of an archive; empty for the upload itself). Nothing is imported then."""

    def __init__(self, reason: str, *, line: int | None = None, file: str = ""):
        super().__init__(reason)
        self.reason, self.line, self.file = reason, line, file

    def __str__(self):
        where = f"line {self.line}" if self.line is not None else ""
        where = f"{self.file}, {where}" if self.file and where else (self.file or where)
        return f"{where}: {self.reason}" if where else self.reason


@dataclass
class Row:
    """One entry of an exported library: a movie (by IMDb id, TMDb id, MovieLens id, title and year, as far as
    the file gives them) and what the library holds of it."""

    line: int
    kind: str  # RATING, WATCHLIST, VIEWING, FAVORITE, HIDDEN or LIST_ENTRY
    title: str = ""
    year: int | None = None
    imdb_id: str | None = None
    tmdb_id: int | None = None
    movielens_id: int | None = None
    score: Decimal | None = None  # half stars, 0.5 to 5.0
    at: datetime | None = None  # when rated, added, watched
    changed_at: datetime | None = None  # ratings: when the score last changed
    file: str = ""
    not_a_movie: str = ""  # what the entry is instead (a show, an episode): reported as unmatched
    list_key: str = ""  # LIST_ENTRY: the key of its list in the file (ListHeader.key)
    note: str = ""  # LIST_ENTRY: the owner's note


@dataclass
class Profile:
    """The profile part of a Nexus export; None leaves a part as it is."""

    line: int | None = None
    display_name: str | None = None
    bio: str | None = None
    favorite_genres: list[str] | None = None


@dataclass
class ListHeader:
    """A custom list of a Nexus export (its movies are LIST_ENTRY rows naming its ``key``, in the list's order)."""

    line: int
    key: str  # ties the list's entries to it within the file (the exported slug)
    name: str
    description: str = ""
    public: bool = False
    created_at: datetime | None = None


@dataclass
class LibraryFile:
    """A file read: its rows in file order, a profile and custom lists (Nexus exports only)."""

    rows: list[Row] = field(default_factory=list)
    profile: Profile | None = None
    lists: list[ListHeader] = field(default_factory=list)


# --- Reading values -----------------------------------------------------------------------------------------------


def decoded(content: bytes, *, file: str = "") -> str:
    """The file as text: UTF-8, with or without a byte order mark."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        line = content[: problem.start].count(b"\n") + 1
        raise MalformedFile("The file is not UTF-8 text.", line=line, file=file) from None


def ten_point_score(value, *, line: int, file: str = "", what: str = "rating") -> Decimal:
    """A 1–10 rating (IMDb, Trakt) as half stars: n / 2, so 1 → 0.5 … 10 → 5.0."""
    number = _decimal(value, line=line, file=file, what=what)
    if number != number.to_integral_value() or not 1 <= number <= 10:
        raise MalformedFile(f"A {what} is a whole number from 1 to 10 (got {value!r}).", line=line, file=file)
    return (number / 2).quantize(Decimal("0.1"))


def star_score(value, *, line: int, file: str = "", what: str = "rating") -> Decimal:
    """A 0.5–5 star rating in half steps (Letterboxd, Nexus)."""
    number = _decimal(value, line=line, file=file, what=what)
    if not Decimal("0.5") <= number <= 5 or (number * 2) != (number * 2).to_integral_value():
        raise MalformedFile(f"A {what} is 0.5 to 5 stars in half steps (got {value!r}).", line=line, file=file)
    return number.quantize(Decimal("0.1"))


def _decimal(value, *, line: int, file: str, what: str) -> Decimal:
    if isinstance(value, bool):
        value = None
    try:
        number = Decimal(str(value).strip()) if value is not None else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise MalformedFile(f"The {what} {value!r} is not a number.", line=line, file=file)
    return number


def year_of(value, *, line: int, file: str = "") -> int | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1800 <= int(text) <= 2200:
        raise MalformedFile(f"The year {value!r} is not a year.", line=line, file=file)
    return int(text)


def imdb_id_of(value, *, line: int, file: str = "", required: bool = False) -> str | None:
    """``tt`` and digits, as IMDb writes them; stored as the catalog does (at least 7 digits)."""
    text = str(value).strip().lower() if value is not None else ""
    if not text:
        if required:
            raise MalformedFile("The IMDb id (Const) is missing.", line=line, file=file)
        return None
    if not _IMDB_ID.match(text):
        raise MalformedFile(f"{value!r} is not an IMDb id (tt and digits).", line=line, file=file)
    return f"tt{int(text[2:]):07d}"


def positive_id(value, *, line: int, file: str = "", what: str = "TMDb id") -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**31:
        raise MalformedFile(f"The {what} {value!r} is not a positive whole number.", line=line, file=file)
    return int(text)


def moment(value, *, line: int, file: str = "", what: str = "date") -> datetime | None:
    """An ISO 8601 date or time ("2021-03-04", "2021-03-04T20:15:00.000Z"); a date is midnight UTC, a time without
    an offset is UTC."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedFile(f"The {what} {value!r} is not an ISO 8601 date or time.", line=line, file=file) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# --- JSON with line numbers ---------------------------------------------------------------------------------------

_decoder = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\r\n]*")


def json_entries(text: str, *, file: str = "") -> list[tuple[int, object]]:
    """A JSON array's elements, each with the line it starts on."""
    index = _skip(text, 0)
    if not text.startswith("[", index):
        raise MalformedFile("The file is not a JSON array.", line=_line(text, index), file=file)
    entries, end = _array(text, index, file=file)
    if _skip(text, end) != len(text):
        raise MalformedFile("Extra data after the JSON array.", line=_line(text, end), file=file)
    return entries


def json_sections(text: str, *, file: str = "") -> dict[str, object]:
    """A JSON object's members; those that are arrays as lists of (line, element)."""
    index = _skip(text, 0)
    if not text.startswith("{", index):
        raise MalformedFile("The file is not a JSON object.", line=_line(text, index), file=file)
    members: dict[str, object] = {}
    index = _skip(text, index + 1)
    while not text.startswith("}", index):
        key, index = _value(text, index, file=file)
        index = _skip(text, index)
        if not isinstance(key, str) or not text.startswith(":", index):
            raise MalformedFile("Malformed JSON object.", line=_line(text, index), file=file)
        index = _skip(text, index + 1)
        if text.startswith("[", index):
            members[key], index = _array(text, index, file=file)
        else:
            members[key], index = _value(text, index, file=file)
        index = _skip(text, index)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
        elif not text.startswith("}", index):
            raise MalformedFile("Expected , or } in the JSON object.", line=_line(text, index), file=file)
    if _skip(text, index + 1) != len(text):
        raise MalformedFile("Extra data after the JSON object.", line=_line(text, index + 1), file=file)
    return members


def _array(text: str, index: int, *, file: str) -> tuple[list[tuple[int, object]], int]:
    entries = []
    index = _skip(text, index + 1)
    while not text.startswith("]", index):
        line = _line(text, index)
        value, index = _value(text, index, file=file)
        entries.append((line, value))
        index = _skip(text, index)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
        elif not text.startswith("]", index):
            raise MalformedFile("Expected , or ] in the JSON array.", line=_line(text, index), file=file)
    return entries, index + 1


def _value(text: str, index: int, *, file: str) -> tuple[object, int]:
    try:
        return _decoder.raw_decode(text, index)
    except json.JSONDecodeError as problem:
        raise MalformedFile(f"Malformed JSON: {problem.msg}.", line=problem.lineno, file=file) from None
    except RecursionError:
        raise MalformedFile("The JSON is nested too deeply.", line=_line(text, index), file=file) from None


def _skip(text: str, index: int) -> int:
    return _SPACE.match(text, index).end()


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1
