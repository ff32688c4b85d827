"""Bulk loading of a MovieLens release into the catalog and user tables, as one transaction.

PostgreSQL gets COPY into temporary staging tables, then one set-based INSERT ... SELECT ... ON CONFLICT per
table; other databases (SQLite, the embedded default) get bulk_create. Ratings and tags stream in batches, so
a 25-million-rating release never sits in memory as Python objects. An ml-latest ratings.csv on PostgreSQL goes
further: one COPY of the whole file, parsed by PostgreSQL, with the ratings table's indexes rebuilt after a large
insert rather than maintained row by row (``_PostgresWriter.ratings_copy``). Upserts make a second import of the
same data a no-op, while changed titles, links and scores are carried over.
"""

import csv
import io
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import TypeVar

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.fields.related_descriptors import ManyToManyDescriptor
from django.utils.text import slugify
from tqdm import tqdm

from catalog.cache import catalog_version_bump
from catalog.importers import DatasetError
from catalog.importers.movielens import (
    LinkRow,
    MovieLensDataset,
    MovieRow,
    RatingArrays,
    RatingRow,
    TagRow,
    normalize_title,
    open_dataset,
)
from catalog.models import Genre, Movie, Tag
from catalog.services import movie_stats_refresh
from users.models import Rating, User, username_key

BATCH_SIZE = 50_000
MOVIELENS_USERNAME_PREFIX = "movielens-"
# Tags are free text of any length; the column keeps the first 255 characters.
TAG_MAX_LENGTH = Tag._meta.get_field("name").max_length

Item = TypeVar("Item")

# Movie columns an import writes, with their staging types; the names are Movie's column names.
_MOVIE_STAGING = {
    "movielens_id": "integer",
    "title": "text",
    "movielens_title": "text",
    "year": "integer",
    "release_date": "date",
    "imdb_id": "text",
    "tmdb_id": "integer",
}
# A ratings file's columns as staged (ml-latest order: userId, movieId, rating, timestamp).
_RATING_STAGING = {"user_ml": "integer", "movie_ml": "integer", "score": "numeric(2, 1)", "stamp": "bigint"}
RATINGS_CSV_HEADER = "userId,movieId,rating,timestamp"
# From this many staged ratings on, indexes are rebuilt rather than maintained row by row.
BULK_REBUILD_ROWS = 500_000
# Staged rows carry MovieLens ids: these joins find the rows they mean.
_STAGED_USER_AND_MOVIE = (
    f"JOIN {User._meta.db_table} AS person ON person.movielens_id = staged.user_ml "
    f"JOIN {Movie._meta.db_table} AS movie ON movie.movielens_id = staged.movie_ml"
)


@dataclass(frozen=True)
class MovieLensImportSummary:
    layout: str
    movies: int
    users: int
    ratings: int
    tags: int
    seconds: float


@transaction.atomic
def movielens_import(*, path: str, show_progress: bool = False) -> MovieLensImportSummary:
    """Load a MovieLens release (folder or zip) with its users, ratings and tags; refresh movie statistics.

    All or nothing: a DatasetError (naming file and line) leaves the database exactly as it was.
    """
    started = time.monotonic()
    with open_dataset(path) as dataset:
        movies = _movies_without_repeats(dataset)
        links = {link.movielens_id: link for link in dataset.links()}
        writer = _PostgresWriter() if connection.vendor == "postgresql" else _OrmWriter()
        writer.movies_upsert(
            movies=movies,
            links=links,
            genre_ids=_genres_upsert(names={genre for movie in movies for genre in movie.genres}),
            updated_fields=_movie_fields_to_update(movies=movies, links=links),
        )
        movie_ids = {movie.movielens_id for movie in movies}
        user_ids: set[int] = set()
        if isinstance(writer, _PostgresWriter):
            copied = writer.ratings_copy(dataset)
        else:  # row by row below; a repeated pair is refused as on PostgreSQL (it would silently keep the last)
            copied = None
            csv_ratings_checked(dataset)
        if copied is not None:
            rating_count, user_ids = copied
        else:
            rating_count = _load_in_batches(
                dataset=dataset,
                file=dataset.ratings_file,
                rows=dataset.ratings(),
                write=writer.ratings_write,
                movie_ids=movie_ids,
                user_ids=user_ids,
                show_progress=show_progress,
            )
        tag_count = _load_in_batches(
            dataset=dataset,
            file=dataset.tags_file,
            rows=dataset.tags(),
            write=writer.tags_write,
            movie_ids=movie_ids,
            user_ids=user_ids,
            show_progress=show_progress,
        )
    movie_stats_refresh()
    catalog_version_bump()  # titles, genres or links may have changed: one bump per import, after commit
    return MovieLensImportSummary(
        layout=dataset.layout,
        movies=len(movies),
        users=len(user_ids),
        ratings=rating_count,
        tags=tag_count,
        seconds=time.monotonic() - started,
    )


def _movies_without_repeats(dataset: MovieLensDataset) -> list[MovieRow]:
    movies, seen = [], set()
    for movie in dataset.movies():
        if movie.movielens_id in seen:
            raise DatasetError(
                f"{dataset.file_location(dataset.movies_file)}: movie {movie.movielens_id} is listed twice"
            )
        seen.add(movie.movielens_id)
        movies.append(movie)
    return movies


def _movie_fields_to_update(*, movies: list[MovieRow], links: dict[int, LinkRow]) -> list[str]:
    """What a re-import may change: the title always; dates and links only from a layout that has them, so
    that importing ml-1m after ml-latest (or after import_tmdb) keeps them."""
    fields = ["title", "movielens_title", "year"]
    if any(movie.release_date for movie in movies):
        fields.append("release_date")
    if links:
        fields += ["imdb_id", "tmdb_id"]
    return fields


def _movie_values(movie: MovieRow, link: LinkRow | None) -> dict:
    title, year = normalize_title(movie.raw_title)
    return {
        "movielens_id": movie.movielens_id,
        "title": title,
        "movielens_title": movie.raw_title,
        "year": year,
        "release_date": movie.release_date,
        "imdb_id": (link.imdb_id or "") if link else "",
        "tmdb_id": link.tmdb_id if link else None,
    }


def _genres_upsert(*, names: set[str]) -> dict[str, int]:
    Genre.objects.bulk_create([Genre(name=name, slug=slugify(name)) for name in sorted(names)], ignore_conflicts=True)
    return dict(Genre.objects.filter(name__in=names).values_list("name", "pk"))


def _load_in_batches(
    *,
    dataset: MovieLensDataset,
    file: str | None,
    rows: Iterator[RatingRow] | Iterator[TagRow],
    write: Callable[[list], None],
    movie_ids: set[int],
    user_ids: set[int],
    show_progress: bool,
) -> int:
    """Write `rows` batch by batch; collects the users they mention. Returns the number of rows."""
    count = 0
    with tqdm(desc=file, unit=" rows", unit_scale=True, disable=not show_progress) as progress:
        for batch in _batches(rows, BATCH_SIZE):
            unknown = {row.movie_id for row in batch} - movie_ids
            if unknown:
                raise DatasetError(
                    f"{dataset.file_location(file)}: movie {min(unknown)} is not in {dataset.movies_file}"
                )
            user_ids.update(row.user_id for row in batch)
            write(batch)
            count += len(batch)
            progress.update(len(batch))
    return count


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def m2m_links_replace(
    *, relation: ManyToManyDescriptor, owner_ids: Collection[int], wanted: set[tuple[int, int]]
) -> None:
    """Make the links of `owner_ids` through `relation` (e.g. Movie.genres) exactly the `wanted` (owner id,
    target id) pairs: delete the others, add the missing ones."""
    through = relation.through
    owner_column, target_column = relation.field.m2m_column_name(), relation.field.m2m_reverse_name()
    existing: dict[tuple[int, int], int] = {}
    for chunk in _batches(owner_ids, 500):  # under SQLite's limit on query parameters
        links = through.objects.filter(**{f"{owner_column}__in": chunk})
        existing |= {(owner, target): pk for pk, owner, target in links.values_list("pk", owner_column, target_column)}
    stale = [pk for pair, pk in existing.items() if pair not in wanted]
    for chunk in _batches(stale, 500):
        through.objects.filter(pk__in=chunk).delete()
    through.objects.bulk_create(
        [through(**{owner_column: owner, target_column: target}) for owner, target in wanted - existing.keys()]
    )


class _OrmWriter:
    """bulk_create for SQLite, the embedded default; MovieLens ids map to row ids in memory."""

    def __init__(self):
        # Unusable ("!" + random) and cheap: make_password(None) hashes nothing.
        self._password = make_password(None)
        self._user_ids = dict(User.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "pk"))
        self._movie_ids: dict[int, int] = {}

    def movies_upsert(
        self,
        *,
        movies: list[MovieRow],
        links: dict[int, LinkRow],
        genre_ids: dict[str, int],
        updated_fields: list[str],
    ) -> None:
        Movie.objects.bulk_create(
            [Movie(**_movie_values(movie, links.get(movie.movielens_id))) for movie in movies],
            update_conflicts=True,
            unique_fields=["movielens_id"],
            update_fields=updated_fields,
        )
        self._movie_ids = dict(Movie.objects.values_list("movielens_id", "pk"))
        m2m_links_replace(
            relation=Movie.genres,
            owner_ids=[self._movie_ids[movie.movielens_id] for movie in movies],
            wanted={
                (self._movie_ids[movie.movielens_id], genre_ids[genre]) for movie in movies for genre in movie.genres
            },
        )

    def ratings_write(self, batch: list[RatingRow]) -> None:
        self._users_ensure({row.user_id for row in batch})
        Rating.objects.bulk_create(
            [self._rating(row) for row in batch],
            update_conflicts=True,
            unique_fields=["user", "movie"],
            update_fields=["score", "updated_at"],
        )

    def tags_write(self, batch: list[TagRow]) -> None:
        self._users_ensure({row.user_id for row in batch})
        tags = [
            Tag(
                user_id=self._user_ids[row.user_id],
                movie_id=self._movie_ids[row.movie_id],
                name=row.tag[:TAG_MAX_LENGTH],
                created_at=_utc(row.timestamp),
            )
            for row in batch
        ]
        Tag.objects.bulk_create(tags, ignore_conflicts=True)

    def _rating(self, row: RatingRow) -> Rating:
        rated_at = _utc(row.timestamp)
        return Rating(
            user_id=self._user_ids[row.user_id],
            movie_id=self._movie_ids[row.movie_id],
            score=row.score,
            created_at=rated_at,
            updated_at=rated_at,
        )

    def _users_ensure(self, movielens_ids: set[int]) -> None:
        missing = sorted(movielens_ids - self._user_ids.keys())
        created = User.objects.bulk_create(
            [
                User(
                    username=f"{MOVIELENS_USERNAME_PREFIX}{user_id}",
                    movielens_id=user_id,
                    password=self._password,
                )
                for user_id in missing
            ]
        )
        self._user_ids |= {user.movielens_id: user.pk for user in created}


class _PostgresWriter:
    """COPY into temporary staging tables keyed by MovieLens ids, then set-based statements that join them to
    the real rows. `IS DISTINCT FROM` guards keep an unchanged re-import from rewriting rows. The SQL is built
    from model table names only; values travel as parameters or through COPY."""

    def __init__(self):
        self._password = make_password(None)  # see _OrmWriter
        # Django's foreign keys are deferred: checked at COMMIT from a queue of one event per row and key,
        # which for ML-20M's ratings alone would hold 40 million events. Checked per statement instead.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    def movies_upsert(
        self,
        *,
        movies: list[MovieRow],
        links: dict[int, LinkRow],
        genre_ids: dict[str, int],
        updated_fields: list[str],
    ) -> None:
        movie_table = Movie._meta.db_table
        movie_genre_table = Movie.genres.through._meta.db_table
        rows = (
            [values[column] for column in _MOVIE_STAGING]
            for values in (_movie_values(movie, links.get(movie.movielens_id)) for movie in movies)
        )
        pairs = ((movie.movielens_id, genre_ids[genre]) for movie in movies for genre in movie.genres)
        defaults = _Defaults(Movie, supplied=_MOVIE_STAGING)
        current = ", ".join(f"{movie_table}.{field}" for field in updated_fields)
        incoming = ", ".join(f"EXCLUDED.{field}" for field in updated_fields)
        with connection.cursor() as cursor:
            copy_to_staging(cursor, "import_movie", _MOVIE_STAGING, rows)
            cursor.execute(
                f"INSERT INTO {movie_table} ({', '.join(_MOVIE_STAGING)}, {defaults.columns}) "  # noqa: S608
                f"SELECT {', '.join(_MOVIE_STAGING)}, {defaults.placeholders} FROM import_movie "
                f"ON CONFLICT (movielens_id) DO UPDATE "
                f"SET {', '.join(f'{field} = EXCLUDED.{field}' for field in updated_fields)} "
                f"WHERE ({current}) IS DISTINCT FROM ({incoming})",
                defaults.values,
            )
            copy_to_staging(cursor, "import_movie_genre", {"movielens_id": "integer", "genre_id": "bigint"}, pairs)
            # The imported movies get exactly their listed genres: drop the ones a newer release took away.
            cursor.execute(
                f"DELETE FROM {movie_genre_table} AS link "  # noqa: S608
                f"USING {movie_table} AS movie, import_movie AS staged "
                f"WHERE link.movie_id = movie.id AND movie.movielens_id = staged.movielens_id "
                f"AND NOT EXISTS (SELECT 1 FROM import_movie_genre AS wanted "
                f"WHERE wanted.movielens_id = staged.movielens_id AND wanted.genre_id = link.genre_id)"
            )
            cursor.execute(
                f"INSERT INTO {movie_genre_table} (movie_id, genre_id) "  # noqa: S608
                f"SELECT movie.id, wanted.genre_id FROM import_movie_genre AS wanted "
                f"JOIN {movie_table} AS movie ON movie.movielens_id = wanted.movielens_id "
                f"ON CONFLICT (movie_id, genre_id) DO NOTHING"
            )

    def ratings_write(self, batch: list[RatingRow]) -> None:
        rows = ((row.user_id, row.movie_id, row.score, row.timestamp) for row in batch)
        with connection.cursor() as cursor:
            copy_to_staging(cursor, "import_rating", _RATING_STAGING, rows)
            self._ratings_insert_staged(cursor)

    def ratings_copy(self, dataset: MovieLensDataset) -> tuple[int, set[int]] | None:
        """All ratings of an ml-latest CSV file: parsed by numpy's C reader (``ratings_array``, which names the
        file and line of a bad row as the row reader does), MovieLens ids mapped to row ids in numpy, and one
        binary COPY straight into the ratings table on a first import (indexes and keys rebuilt after it, rows
        written frozen), or into a staging table of row ids for the upsert of a re-import. ML-20M's 20 million
        rows never pass through Python one by one and need no join in the database. Returns the number of
        ratings and the MovieLens ids of their users; None for other layouts (the caller loads them row by
        row)."""
        ratings = csv_ratings_checked(dataset)
        if ratings is None:
            return None
        location = dataset.file_location(dataset.ratings_file)
        count = len(ratings.user_id)
        user_ml_ids = np.unique(ratings.user_id)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT movielens_id, id FROM {Movie._meta.db_table} WHERE movielens_id IS NOT NULL")  # noqa: S608
            movie_ids = _id_map(cursor.fetchall())
            movie_columns = np.minimum(np.searchsorted(movie_ids[0], ratings.movie_id), len(movie_ids[0]) - 1)
            unknown = movie_ids[0][movie_columns] != ratings.movie_id
            if unknown.any():
                raise DatasetError(
                    f"{location}: movie {ratings.movie_id[unknown].min()} is not in {dataset.movies_file}"
                )
            copy_to_staging(cursor, "import_rating_user", {"user_ml": "integer"}, ((int(i),) for i in user_ml_ids))
            self._users_insert(cursor, staging="import_rating_user")
            cursor.execute(
                f"SELECT movielens_id, id FROM {User._meta.db_table} WHERE movielens_id IS NOT NULL"  # noqa: S608
            )
            user_ids = _id_map(cursor.fetchall())
            rows = np.empty(count, dtype=_COPIED_RATING)
            rows["fields"], rows["user_length"], rows["movie_length"] = 5, 8, 8
            rows["user"] = user_ids[1][np.searchsorted(user_ids[0], ratings.user_id)]
            rows["movie"] = movie_ids[1][movie_columns]
            rows["score_length"], rows["score_digits"], rows["score_weight"] = 12, 2, 0
            rows["score_sign"], rows["score_scale"] = 0, 1
            halves = np.rint(ratings.score * 2).astype(np.int16)
            rows["score_whole"], rows["score_fraction"] = halves // 2, (halves % 2) * 5000
            rows["created_length"] = rows["updated_length"] = 8
            rows["created"] = rows["updated"] = (ratings.timestamp - POSTGRES_EPOCH_SECONDS) * 1_000_000
            del ratings
            rating_table = Rating._meta.db_table
            cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {rating_table})")  # noqa: S608
            (first_ratings,) = cursor.fetchone()
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")  # index builds sort in memory
            columns = "user_id, movie_id, score, created_at, updated_at"
            bulk = count >= BULK_REBUILD_ROWS
            if first_ratings:
                with _indexes_rebuilt_after(cursor, Rating, enabled=bulk, keep_unique=False):
                    # Emptied in this transaction, so COPY may write the rows frozen: nothing has to revisit
                    # all 20 million later to set their hint bits (the first reader would, the training).
                    cursor.execute(f"TRUNCATE {rating_table}")
                    cursor.copy_expert(
                        f"COPY {rating_table} ({columns}) FROM STDIN WITH (FORMAT binary, FREEZE)",  # noqa: S608
                        _BinaryCopy(rows),
                        COPY_WRITE_BYTES,
                    )
            else:
                _staging_create(
                    cursor,
                    "import_rating_ids",
                    {
                        "user_id": "bigint",
                        "movie_id": "bigint",
                        "score": "numeric(2, 1)",
                        "created_at": "timestamptz",
                        "updated_at": "timestamptz",
                    },
                )
                cursor.copy_expert(
                    f"COPY import_rating_ids ({columns}) FROM STDIN WITH (FORMAT binary)",
                    _BinaryCopy(rows),
                    COPY_WRITE_BYTES,
                )
                cursor.execute("ANALYZE import_rating_ids")
                with _indexes_rebuilt_after(cursor, Rating, enabled=bulk, keep_unique=True):
                    cursor.execute(
                        f"INSERT INTO {rating_table} ({columns}) SELECT {columns} FROM import_rating_ids "  # noqa: S608
                        f"ON CONFLICT (user_id, movie_id) "
                        f"DO UPDATE SET score = EXCLUDED.score, updated_at = EXCLUDED.updated_at "
                        f"WHERE ({rating_table}.score, {rating_table}.updated_at) "
                        f"IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.updated_at)"
                    )
                cursor.execute("TRUNCATE import_rating_ids")
        return count, set(user_ml_ids.tolist())

    def _ratings_insert_staged(self, cursor, *, upsert: bool = True) -> None:
        """Users and ratings for the rows staged in import_rating; without ``upsert`` (the table holds no
        ratings yet) a plain INSERT, which needs no unique index while it runs."""
        rating_table = Rating._meta.db_table
        self._users_insert(cursor, staging="import_rating")
        on_conflict = (
            f"ON CONFLICT (user_id, movie_id) "
            f"DO UPDATE SET score = EXCLUDED.score, updated_at = EXCLUDED.updated_at "
            f"WHERE ({rating_table}.score, {rating_table}.updated_at) "
            f"IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.updated_at)"
        )
        cursor.execute(
            f"INSERT INTO {rating_table} (user_id, movie_id, score, created_at, updated_at) "  # noqa: S608
            f"SELECT person.id, movie.id, staged.score, "
            f"to_timestamp(staged.stamp), to_timestamp(staged.stamp) "
            f"FROM import_rating AS staged {_STAGED_USER_AND_MOVIE} " + (on_conflict if upsert else "")
        )

    def tags_write(self, batch: list[TagRow]) -> None:
        columns = {"user_ml": "integer", "movie_ml": "integer", "name": "text", "stamp": "bigint"}
        rows = ((row.user_id, row.movie_id, row.tag[:TAG_MAX_LENGTH], row.timestamp) for row in batch)
        with connection.cursor() as cursor:
            copy_to_staging(cursor, "import_tag", columns, rows)
            self._users_insert(cursor, staging="import_tag")
            cursor.execute(
                f"INSERT INTO {Tag._meta.db_table} (user_id, movie_id, name, created_at) "  # noqa: S608
                f"SELECT person.id, movie.id, staged.name, to_timestamp(staged.stamp) "
                f"FROM import_tag AS staged {_STAGED_USER_AND_MOVIE} "
                f"ON CONFLICT (user_id, movie_id, name) DO NOTHING"
            )

    def _users_insert(self, cursor, *, staging: str) -> None:
        """A User for every MovieLens user of the staged rows who has none yet."""
        user_table = User._meta.db_table
        defaults = _Defaults(User, supplied=("username", "username_key", "movielens_id", "password"))
        cursor.execute(
            f"INSERT INTO {user_table} (username, username_key, movielens_id, password, {defaults.columns}) "  # noqa: S608
            f"SELECT %s || staged.user_ml, %s || staged.user_ml, staged.user_ml, %s, {defaults.placeholders} "
            f"FROM (SELECT DISTINCT user_ml FROM {staging} ORDER BY user_ml) AS staged "
            f"WHERE NOT EXISTS "
            f"(SELECT 1 FROM {user_table} AS known WHERE known.movielens_id = staged.user_ml) "
            f"ON CONFLICT (movielens_id) DO NOTHING",
            # Digits are their own key: the prefix's key followed by them is the username's.
            [MOVIELENS_USERNAME_PREFIX, username_key(MOVIELENS_USERNAME_PREFIX), self._password, *defaults.values],
        )


@contextmanager
def _indexes_rebuilt_after(cursor, model: type[Model], *, enabled: bool, keep_unique: bool) -> Iterator[None]:
    """Inside: ``model``'s table without its secondary indexes, foreign keys and (unless ``keep_unique``, which
    ON CONFLICT needs) unique constraints; after: all back as they were (their own definitions and names).

    Maintaining five b-trees row by row, most of them in random order, and checking two foreign keys per row
    made inserting 20 million ratings take most of an hour; building an index from sorted data and validating
    a foreign key with one join take seconds each. The table is locked (ACCESS EXCLUSIVE) until the import
    commits.
    """
    if not enabled:
        yield
        return
    table = model._meta.db_table
    cursor.execute(
        "SELECT index.indexrelid::regclass::text, pg_get_indexdef(index.indexrelid) FROM pg_index AS index "
        "WHERE index.indrelid = %s::regclass AND NOT index.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint AS c WHERE c.conindid = index.indexrelid AND c.conrelid = index.indrelid)",
        [table],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype = ANY(%s) ORDER BY contype DESC",  # unique ('u') before foreign keys ('f')
        [table, ["f"] if keep_unique else ["f", "u"]],
    )
    constraints = cursor.fetchall()
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for _, definition in indexes:
        cursor.execute(definition)
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


# A row of binary COPY into the ratings table: the field count, then each field's length and big-endian value.
# The score is a numeric(2, 1) of two base-10000 digits (whole stars, then 0 or 5000 for a half), which
# PostgreSQL normalises; timestamps are microseconds since 2000-01-01 UTC.
_COPIED_RATING = np.dtype(
    [("fields", ">i2"), ("user_length", ">i4"), ("user", ">i8"), ("movie_length", ">i4"), ("movie", ">i8")]
    + [("score_length", ">i4"), ("score_digits", ">i2"), ("score_weight", ">i2"), ("score_sign", ">i2")]
    + [("score_scale", ">i2"), ("score_whole", ">i2"), ("score_fraction", ">i2")]
    + [("created_length", ">i4"), ("created", ">i8"), ("updated_length", ">i4"), ("updated", ">i8")]
)
POSTGRES_EPOCH_SECONDS = 946_684_800
COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
COPY_BINARY_TRAILER = b"\xff\xff"
COPY_WRITE_BYTES = 1 << 20


class _BinaryCopy:
    """The file object COPY ... FROM STDIN reads: binary COPY's header, the rows' bytes a slice at a time (never
    one 1.3 GB copy of them) and its trailer."""

    def __init__(self, rows: np.ndarray):
        self._rows = rows
        self._next_row = 0
        self._header_sent = self._trailer_sent = False

    def read(self, size: int = COPY_WRITE_BYTES) -> bytes:
        if not self._header_sent:
            self._header_sent = True
            return COPY_BINARY_HEADER
        if self._next_row < len(self._rows):
            end = self._next_row + max(1, size // self._rows.itemsize)
            chunk = self._rows[self._next_row : end].tobytes()
            self._next_row = end
            return chunk
        if not self._trailer_sent:
            self._trailer_sent = True
            return COPY_BINARY_TRAILER
        return b""


def _id_map(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(MovieLens id, row id) pairs as two arrays sorted by MovieLens id, for ``searchsorted``."""
    table = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    table = table[np.argsort(table[:, 0])]
    return table[:, 0], table[:, 1]


def csv_ratings_checked(dataset: MovieLensDataset) -> RatingArrays | None:
    """The ratings of an ml-latest CSV file as arrays (numpy's C reader; a bad row is named by file and line), each
    (user, movie) pair checked to appear once; None for other layouts."""
    with dataset.ratings_csv() as ratings_file:
        if ratings_file is None:
            return None
        header = ratings_file.readline().decode("utf-8-sig", errors="replace").rstrip("\r\n")
        if header != RATINGS_CSV_HEADER:
            return None
    ratings = dataset.ratings_array()
    _pairs_unique_check(ratings, location=dataset.file_location(dataset.ratings_file))
    return ratings


def _pairs_unique_check(ratings: RatingArrays, *, location: str) -> None:
    """A user may rate a movie once per file: a repeat would break the unique constraint (first import) or
    the upsert (re-import) with an error that names neither file nor line."""
    keys = ratings.user_id * (int(ratings.movie_id.max(initial=0)) + 1) + ratings.movie_id
    if len(keys) < 2 or (keys[1:] > keys[:-1]).all():  # MovieLens files are sorted by user, then movie
        return
    order = np.argsort(keys, kind="stable")
    repeats = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    if len(repeats):
        second = order[repeats[0] + 1]
        raise DatasetError(
            f"{location}, line {second + 2}: user {ratings.user_id[second]} rates movie "
            f"{ratings.movie_id[second]} a second time"
        )


class _Defaults:
    """The columns an INSERT ... SELECT leaves out, as typed placeholders with Django's defaults for them
    (Django keeps defaults in Python, not in the schema)."""

    def __init__(self, model: type[Model], *, supplied: Collection[str]):
        fields = [
            field for field in model._meta.concrete_fields if not field.primary_key and field.column not in supplied
        ]
        self.columns = ", ".join(field.column for field in fields)
        self.placeholders = ", ".join(f"%s::{field.db_type(connection)}" for field in fields)
        self.values = [field.get_db_prep_save(field.get_default(), connection) for field in fields]


def _staging_create(cursor, table: str, columns: dict[str, str]) -> None:
    """An empty temporary staging table that lives until the transaction ends."""
    definition = ", ".join(f"{name} {sql_type}" for name, sql_type in columns.items())
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} ({definition}) ON COMMIT DROP")
    cursor.execute(f"TRUNCATE {table}")


def copy_to_staging(cursor, table: str, columns: dict[str, str], rows: Iterable[Sequence]) -> None:
    """Fill a temporary staging table with `rows` through COPY (PostgreSQL); it lives until the transaction
    ends."""
    _staging_create(cursor, table, columns)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    # In COPY's CSV format an empty unquoted field is NULL; text columns read it as "", Django's blank value.
    text_columns = ", ".join(name for name, sql_type in columns.items() if sql_type == "text")
    force_not_null = f", FORCE_NOT_NULL ({text_columns})" if text_columns else ""
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv{force_not_null})", buffer)
