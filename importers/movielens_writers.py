"""The two ways a MovieLens release is written: row batches through the ORM (SQLite) and COPY through staging
tables (PostgreSQL), with what both need to know of the tables they fill."""

from datetime import UTC, datetime

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import connection

from catalog.models import Movie, Tag
from datasets import DatasetError
from datasets.movielens import (
    LinkRow,
    MovieLensDataset,
    MovieRow,
    RatingArrays,
    RatingRow,
    TagRow,
)
from datasets.titles import normalize_title
from importers.bulk import (
    COPY_WRITE_BYTES,
    BinaryCopy,
    InsertDefaults,
    copy_to_staging,
    id_map,
    indexes_rebuilt_after,
    m2m_links_replace,
    staging_create,
)
from users.models import Rating, User, username_key

BATCH_SIZE = 50_000
MOVIELENS_USERNAME_PREFIX = "movielens-"
# Tags are free text of any length; the column keeps the first 255 characters.
TAG_MAX_LENGTH = Tag._meta.get_field("name").max_length

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


def movie_values(movie: MovieRow, link: LinkRow | None) -> dict:
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


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


class OrmWriter:
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
            [Movie(**movie_values(movie, links.get(movie.movielens_id))) for movie in movies],
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


class PostgresWriter:
    """COPY into temporary staging tables keyed by MovieLens ids, then set-based statements that join them to
    the real rows. `IS DISTINCT FROM` guards keep an unchanged re-import from rewriting rows. The SQL is built
    from model table names only; values travel as parameters or through COPY."""

    def __init__(self):
        self._password = make_password(None)  # see OrmWriter
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
            for values in (movie_values(movie, links.get(movie.movielens_id)) for movie in movies)
        )
        pairs = ((movie.movielens_id, genre_ids[genre]) for movie in movies for genre in movie.genres)
        defaults = InsertDefaults(Movie, supplied=_MOVIE_STAGING)
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
            movie_ids = id_map(cursor.fetchall())
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
            user_ids = id_map(cursor.fetchall())
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
                with indexes_rebuilt_after(cursor, Rating, enabled=bulk, keep_unique=False):
                    # Emptied in this transaction, so COPY may write the rows frozen: nothing has to revisit
                    # all 20 million later to set their hint bits (the first reader would, the training).
                    cursor.execute(f"TRUNCATE {rating_table}")
                    cursor.copy_expert(
                        f"COPY {rating_table} ({columns}) FROM STDIN WITH (FORMAT binary, FREEZE)",  # noqa: S608
                        BinaryCopy(rows),
                        COPY_WRITE_BYTES,
                    )
            else:
                staging_create(
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
                    BinaryCopy(rows),
                    COPY_WRITE_BYTES,
                )
                cursor.execute("ANALYZE import_rating_ids")
                with indexes_rebuilt_after(cursor, Rating, enabled=bulk, keep_unique=True):
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
        defaults = InsertDefaults(User, supplied=("username", "username_key", "movielens_id", "password"))
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


_COPIED_RATING = np.dtype(
    [("fields", ">i2"), ("user_length", ">i4"), ("user", ">i8"), ("movie_length", ">i4"), ("movie", ">i8")]
    + [("score_length", ">i4"), ("score_digits", ">i2"), ("score_weight", ">i2"), ("score_sign", ">i2")]
    + [("score_scale", ">i2"), ("score_whole", ">i2"), ("score_fraction", ">i2")]
    + [("created_length", ">i4"), ("created", ">i8"), ("updated_length", ">i4"), ("updated", ">i8")]
)
POSTGRES_EPOCH_SECONDS = 946_684_800


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
