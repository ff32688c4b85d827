"""Nexus' own library export (``me { libraryExport }``), written here and read back by ``importLibrary(source:
NEXUS)``. The format is documented in docs/library-import-export.md; in short:

JSON — one object::

    {"format": "nexus-library", "version": 1, "exportedAt": "<ISO 8601>",
     "profile": {"username", "displayName", "bio", "favoriteGenres": [names]},
     "ratings":   [{"movie": MOVIE, "score": 0.5–5.0, "ratedAt", "updatedAt"}],
     "favorites": [{"movie": MOVIE, "addedAt"}],
     "watchlist": [{"movie": MOVIE, "addedAt"}],
     "history":   [{"movie": MOVIE, "watchedAt"}],
     "hidden":    [{"movie": MOVIE, "hiddenAt"}],
     "lists":     [{"name", "description", "public", "slug", "createdAt",
                    "movies": [{"movie": MOVIE, "note", "addedAt"}]}]}

where MOVIE is ``{"movielensId", "tmdbId", "imdbId", "title", "year"}`` (ids null when unknown), every section
oldest first, a list's movies in the list's order. A reader ignores members it does not know.

CSV — one table with the header ``section,movielens_id,tmdb_id,imdb_id,title,year,score,date,changed,value,list,
public``: one row per entry with ``section`` rating, favorite, watchlist, history or hidden (``date`` when rated,
added, watched or hidden; ``changed`` when a rating last changed), the profile in rows display_name, bio and
favorite_genres (``value``; genres separated by ``|``), and each custom list as a row ``list`` (``list`` its slug,
``title`` its name, ``value`` its description, ``public`` true or false, ``date`` created) followed by its movies in
order, rows ``list_entry`` (``list`` the slug of their list, ``value`` the note, ``date`` added). A file with the
first ten columns only (no lists) is read too.

Reading matches movies by MovieLens id first (Nexus' own), then IMDb id, TMDb id, title and year.
"""

import csv
import io
import json
from datetime import datetime

from importers.library.formats import csv_records
from importers.library.rows import (
    FAVORITE,
    HIDDEN,
    LIST_ENTRY,
    RATING,
    VIEWING,
    WATCHLIST,
    LibraryFile,
    ListHeader,
    MalformedFile,
    Profile,
    Row,
    decoded,
    imdb_id_of,
    json_sections,
    moment,
    positive_id,
    star_score,
    year_of,
)
from users.custom_list_portability import ListSnapshot
from users.portability import LibraryEntry, LibrarySnapshot

FORMAT, VERSION = "nexus-library", 1
CSV_COLUMNS = (
    *("section", "movielens_id", "tmdb_id", "imdb_id", "title", "year", "score", "date", "changed", "value"),
    *("list", "public"),
)
CSV_COLUMNS_WITHOUT_LISTS = CSV_COLUMNS[:10]  # files written before lists were exported
# Sections of the export: (JSON member, CSV section, row kind, JSON name of the date).
SECTIONS = (
    ("ratings", "rating", RATING, "ratedAt"),
    ("favorites", "favorite", FAVORITE, "addedAt"),
    ("watchlist", "watchlist", WATCHLIST, "addedAt"),
    ("history", "history", VIEWING, "watchedAt"),
    ("hidden", "hidden", HIDDEN, "hiddenAt"),
)
GENRE_SEPARATOR = "|"


# --- Writing ------------------------------------------------------------------------------------------------------


def export_filename(snapshot: LibrarySnapshot, *, extension: str, now: datetime) -> str:
    return f"nexus-library-{snapshot.user.username}-{now:%Y-%m-%d}.{extension}"


def export_json(snapshot: LibrarySnapshot, *, now: datetime) -> str:
    user = snapshot.user
    document = {
        "format": FORMAT,
        "version": VERSION,
        "exportedAt": now.isoformat(),
        "profile": {
            "username": user.username,
            "displayName": user.display_name,
            "bio": user.bio,
            "favoriteGenres": snapshot.favorite_genres,
        },
    }
    for member, _, kind, date_name in SECTIONS:
        document[member] = [_json_entry(entry, kind, date_name) for entry in getattr(snapshot, member)]
    document["lists"] = [_json_list(custom_list) for custom_list in snapshot.lists]
    return json.dumps(document, ensure_ascii=False, indent=2)


def _json_movie(movie) -> dict:
    return {
        "movielensId": movie.movielens_id,
        "tmdbId": movie.tmdb_id,
        "imdbId": movie.imdb_id or None,
        "title": movie.title,
        "year": movie.year,
    }


def _json_list(custom_list: ListSnapshot) -> dict:
    return {
        "name": custom_list.name,
        "description": custom_list.description,
        "public": custom_list.public,
        "slug": custom_list.slug,
        "createdAt": custom_list.created_at.isoformat(),
        "movies": [
            {"movie": _json_movie(entry.movie), "note": entry.note, "addedAt": entry.at.isoformat()}
            for entry in custom_list.entries
        ],
    }


def _json_entry(entry: LibraryEntry, kind: str, date_name: str) -> dict:
    item = {"movie": _json_movie(entry.movie)}
    if kind == RATING:
        item["score"] = float(entry.score)
    item[date_name] = entry.at.isoformat()
    if kind == RATING:
        item["updatedAt"] = entry.changed_at.isoformat()
    return item


def export_csv(snapshot: LibrarySnapshot) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    user = snapshot.user
    for section, value in (
        ("display_name", user.display_name),
        ("bio", user.bio),
        ("favorite_genres", GENRE_SEPARATOR.join(snapshot.favorite_genres)),
    ):
        writer.writerow([section, *[""] * 8, value, "", ""])
    for member, section, kind, _ in SECTIONS:
        for entry in getattr(snapshot, member):
            movie = entry.movie
            writer.writerow(
                [
                    section,
                    movie.movielens_id,
                    movie.tmdb_id or "",
                    movie.imdb_id,
                    movie.title,
                    movie.year or "",
                    entry.score if kind == RATING else "",
                    entry.at.isoformat(),
                    entry.changed_at.isoformat() if kind == RATING else "",
                    "",
                    "",
                    "",
                ]
            )
    for custom_list in snapshot.lists:
        created = custom_list.created_at.isoformat()
        writer.writerow(
            ["list", *[""] * 3, custom_list.name, "", "", created, "", custom_list.description, custom_list.slug]
            + [str(custom_list.public).lower()]
        )
        for entry in custom_list.entries:
            movie = entry.movie
            writer.writerow(
                ["list_entry", movie.movielens_id, movie.tmdb_id or "", movie.imdb_id, movie.title, movie.year or ""]
                + ["", entry.at.isoformat(), "", entry.note, custom_list.slug, ""]
            )
    return out.getvalue()


# --- Reading ------------------------------------------------------------------------------------------------------


def nexus_file(content: bytes, *, filename: str) -> LibraryFile:
    """A Nexus export, JSON or CSV (told apart by its first character)."""
    text = decoded(content)
    if text.lstrip().startswith("{"):
        return _json_read(text)
    return _csv_read(text)


def _json_read(text: str) -> LibraryFile:
    members = json_sections(text)
    if members.get("format") != FORMAT or members.get("version") != VERSION:
        raise MalformedFile(f'Not a Nexus library export: "format" must be "{FORMAT}" and "version" {VERSION}.')
    library = LibraryFile()
    profile = members.get("profile")
    if profile is not None:
        if not isinstance(profile, dict):
            raise MalformedFile('"profile" must be an object.')
        genres = profile.get("favoriteGenres")
        if genres is not None and not (isinstance(genres, list) and all(isinstance(g, str) for g in genres)):
            raise MalformedFile('"profile.favoriteGenres" must be a list of genre names.')
        library.profile = Profile(
            display_name=_text(profile.get("displayName"), what="profile.displayName"),
            bio=_text(profile.get("bio"), what="profile.bio"),
            favorite_genres=genres,
        )
    for member, _, kind, date_name in SECTIONS:
        entries = members.get(member, [])
        if not isinstance(entries, list):
            raise MalformedFile(f'"{member}" must be an array.')
        for line, entry in entries:
            row = _json_movie_row(entry, line, kind, date_name, where=f'Each entry of "{member}"')
            if kind == RATING:
                row.score = star_score(entry.get("score"), line=line, what="score")
                row.changed_at = moment(entry.get("updatedAt"), line=line)
            library.rows.append(row)
    _json_lists(members.get("lists", []), library)
    return library


def _json_lists(lists, library: LibraryFile) -> None:
    """The ``lists`` member: each list a header, its movies rows on the list's line (the entries of a list are not
    given lines of their own)."""
    if not isinstance(lists, list):
        raise MalformedFile('"lists" must be an array.')
    for index, (line, item) in enumerate(lists):
        if not isinstance(item, dict) or not isinstance(item.get("movies", []), list):
            raise MalformedFile('Each entry of "lists" is an object with an array "movies".', line=line)
        public = item.get("public", False)
        if not isinstance(public, bool):
            raise MalformedFile('A list\'s "public" is true or false.', line=line)
        key = str(index)
        library.lists.append(
            ListHeader(
                line=line,
                key=key,
                name=_text(item.get("name"), what="A list's name", line=line) or "",
                description=_text(item.get("description"), what="A list's description", line=line) or "",
                public=public,
                created_at=moment(item.get("createdAt"), line=line),
            )
        )
        for entry in item.get("movies", []):
            row = _json_movie_row(entry, line, LIST_ENTRY, "addedAt", where='Each of a list\'s "movies"')
            row.list_key, row.note = key, _text(entry.get("note"), what="A note", line=line) or ""
            library.rows.append(row)


def _json_movie_row(entry, line: int, kind: str, date_name: str, *, where: str):
    """One entry of a section or a list: an object with the movie's ids, title and year, dated by ``date_name``."""
    if not isinstance(entry, dict) or not isinstance(entry.get("movie"), dict):
        raise MalformedFile(f'{where} is an object with a "movie".', line=line)
    movie = entry["movie"]
    return _row(
        line,
        kind,
        movielens_id=movie.get("movielensId"),
        tmdb_id=movie.get("tmdbId"),
        imdb_id=movie.get("imdbId"),
        title=movie.get("title"),
        year=movie.get("year"),
        at=entry.get(date_name),
    )


def _csv_read(text: str) -> LibraryFile:
    header, records = csv_records(text)
    if tuple(header) not in (CSV_COLUMNS, CSV_COLUMNS_WITHOUT_LISTS):
        raise MalformedFile(f"Not a Nexus library export: the header must be {','.join(CSV_COLUMNS)}.", line=1)
    kinds = {section: kind for _, section, kind, _ in SECTIONS}
    library = LibraryFile(profile=Profile())
    for line, record in records:
        section, value = record.get("section", ""), record.get("value", "")
        if section in ("display_name", "bio"):
            setattr(library.profile, section, value)
        elif section == "favorite_genres":
            library.profile.favorite_genres = [name for name in value.split(GENRE_SEPARATOR) if name.strip()]
        elif section in kinds:
            row = _row(
                line,
                kinds[section],
                movielens_id=record.get("movielens_id"),
                tmdb_id=record.get("tmdb_id"),
                imdb_id=record.get("imdb_id"),
                title=record.get("title"),
                year=record.get("year"),
                at=record.get("date"),
            )
            if row.kind == RATING:
                row.score = star_score(record.get("score"), line=line, what="score")
                row.changed_at = moment(record.get("changed"), line=line)
            library.rows.append(row)
        elif section == "list":
            library.lists.append(_csv_list(line, record, known={header.key for header in library.lists}))
        elif section == "list_entry":
            key = record.get("list") or ""
            if key not in {header.key for header in library.lists}:
                raise MalformedFile(f"No list {key!r} before this entry (a list row comes first).", line=line)
            row = _row(
                line,
                LIST_ENTRY,
                movielens_id=record.get("movielens_id"),
                tmdb_id=record.get("tmdb_id"),
                imdb_id=record.get("imdb_id"),
                title=record.get("title"),
                year=record.get("year"),
                at=record.get("date"),
            )
            row.list_key, row.note = key, value
            library.rows.append(row)
        else:
            raise MalformedFile(f"Unknown section {section!r}.", line=line)
    return library


def _csv_list(line: int, record: dict[str, str], *, known: set[str]) -> ListHeader:
    key, public = record.get("list") or "", (record.get("public") or "false").lower()
    if not key or key in known:
        raise MalformedFile("A list row needs its own slug in the list column.", line=line)
    if public not in ("true", "false"):
        raise MalformedFile(f"A list's public is true or false (got {record.get('public')!r}).", line=line)
    return ListHeader(
        line=line,
        key=key,
        name=record.get("title") or "",
        description=record.get("value") or "",
        public=public == "true",
        created_at=moment(record.get("date"), line=line),
    )


def _row(line: int, kind: str, *, movielens_id, tmdb_id, imdb_id, title, year, at) -> Row:
    row = Row(
        line=line,
        kind=kind,
        title=_text(title, what="title", line=line) or "",
        year=year_of(year, line=line),
        imdb_id=imdb_id_of(imdb_id, line=line),
        tmdb_id=positive_id(tmdb_id, line=line),
        movielens_id=positive_id(movielens_id, line=line, what="MovieLens id"),
        at=moment(at, line=line),
    )
    if kind == VIEWING and row.at is None:
        raise MalformedFile("A viewing needs its date.", line=line)
    return row


def _text(value, *, what: str, line: int | None = None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise MalformedFile(f"{what} must be text.", line=line)
    return value
