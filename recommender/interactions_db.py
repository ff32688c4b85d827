"""The database's interactions as numpy arrays: every rating, favorite, viewing and hide as one ``EVENT`` record
(one query per table, or one binary ``COPY`` on PostgreSQL), and users' declared favorite genres.

What the training (``recommender.training``) and the per-user refresh (``recommender.refresh``) read before they
hand the arrays to the pure numpy side (``recommender.interactions``, ``recommender.algorithms``).
"""

import functools

import numpy as np
from django.db import connection, connections, router
from django.db.models import FloatField, Func, QuerySet, Value
from django.db.models.functions import Cast

from recommender.interactions import Interactions, Kind, build_interactions
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent

FETCH_CHUNK_ROWS = 20_000
DECLARED_GENRES_FILTER_MAX = 1_000


class EpochSeconds(Func):
    """A timestamp as Unix seconds, computed by the database, so that rows arrive as plain numbers."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        # EXTRACT returns numeric since PostgreSQL 14, date_part still double precision: a third less server
        # time for ML-20M's 20 million ratings.
        template = "date_part('epoch', %(expressions)s)"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite keeps datetimes as UTC text; julianday() reads it.
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


EVENT = np.dtype([("user", "<i8"), ("movie", "<i8"), ("value", "<f8"), ("at", "<f8"), ("kind", "i1")])


def record_array(queryset: QuerySet, dtype: np.dtype) -> np.ndarray:
    """A ``values_list`` queryset straight into a record array: chunked reads (a server-side cursor on
    PostgreSQL) and no model instance per row."""
    return np.fromiter(queryset.iterator(chunk_size=FETCH_CHUNK_ROWS), dtype=dtype)


# Where each kind of event is kept: its table, its value (the score for ratings) and when it happened.
EVENT_SOURCES = (
    (Kind.RATING, Rating, Cast("score", FloatField()), "updated_at"),
    (Kind.FAVORITE, Favorite, Value(1.0), "created_at"),
    (Kind.WATCH, WatchEvent, Value(1.0), "watched_at"),
    (Kind.HIDE, HiddenMovie, Value(1.0), "created_at"),
)


def _event_querysets(*, user_id: int | None, user_ids: list[int] | None = None) -> list[QuerySet]:
    """One ``values_list`` queryset of ``EVENT`` columns per kind of event."""
    querysets = []
    for kind, model, value, at in EVENT_SOURCES:
        queryset = model.objects.order_by()
        if user_id is not None:
            queryset = queryset.filter(user_id=user_id)
        if user_ids is not None:
            queryset = queryset.filter(user_id__in=user_ids)
        querysets.append(
            queryset.annotate(event_value=value, event_at=EpochSeconds(at), event_kind=Value(int(kind))).values_list(
                "user_id", "movie_id", "event_value", "event_at", "event_kind"
            )
        )
    return querysets


def event_log(*, user_id: int | None = None, user_ids: list[int] | None = None) -> np.ndarray:
    """Every rating, favorite, viewing and hide (of one user, of the users ``user_ids`` — a precompute shard —,
    or of everyone) as ``EVENT`` records."""
    if user_id is None and connection.vendor == "postgresql":
        return _event_log_copied(user_ids)
    if user_id is not None:  # one user's events (a refresh) fit in memory: one query, no server-side cursors
        database = router.db_for_read(Rating)
        query, parameters = _one_user_events_query(database)
        with connections[database].cursor() as cursor:
            cursor.execute(query, [user_id if value == _ONE_USER else value for value in parameters])
            return np.fromiter(cursor.fetchall(), dtype=EVENT)
    querysets = _event_querysets(user_id=user_id, user_ids=user_ids)
    return np.concatenate([record_array(queryset, EVENT) for queryset in querysets])


# The user id the compiled query is written for: no other parameter of it (event kinds 0–3, values 1.0) is this.
_ONE_USER = -(2**62) + 1


@functools.cache
def _one_user_events_query(database: str) -> tuple[str, tuple]:
    """One user's events as one query (the four querysets' UNION ALL), compiled once per process and database:
    a refresh runs it for every library change, and compiling it cost more than PostgreSQL spends answering."""
    querysets = [queryset.using(database) for queryset in _event_querysets(user_id=_ONE_USER)]
    return querysets[0].union(*querysets[1:], all=True).query.sql_with_params()


# A row of ``COPY … TO STDOUT (FORMAT binary)`` of the five EVENT columns cast to int8, int8, float8, float8 and
# int2: a field count, then each field as its length and big-endian value. Every field is fixed-size and NOT
# NULL, so every row has this exact layout and numpy reads a run of rows in one step.
COPIED_EVENT = np.dtype(
    [("fields", ">i2")]
    + [
        item
        for name, wire_type in (("user", ">i8"), ("movie", ">i8"), ("value", ">f8"), ("at", ">f8"), ("kind", ">i2"))
        for item in ((f"{name}_length", ">i4"), (name, wire_type))
    ]
)
COPIED_EVENT_SELECT = (
    "SELECT user_id::int8, movie_id::int8, event_value::float8, event_at::float8, event_kind::int2 "
    "FROM ({events}) AS events (user_id, movie_id, event_value, event_at, event_kind)"
)
COPY_HEADER_BYTES = 19  # signature (11), flags (4), header extension length (4, always 0 so far)
COPY_PARSE_BYTES = 8 << 20


class _CopiedEvents:
    """The file object COPY writes into: parses complete rows as they arrive, so that the raw stream never
    has to be held whole (ML-20M's would be 1.1 GB next to its 660 MB of ``EVENT`` records)."""

    def __init__(self):
        self._pending = bytearray()
        self._header_seen = False
        self.parts: list[np.ndarray] = []

    def write(self, data: bytes) -> int:
        self._pending += data
        if len(self._pending) >= COPY_PARSE_BYTES:
            self._parse()
        return len(data)

    def _parse(self) -> None:
        if not self._header_seen:
            if len(self._pending) < COPY_HEADER_BYTES:
                return
            del self._pending[:COPY_HEADER_BYTES]
            self._header_seen = True
        whole_rows = len(self._pending) // COPIED_EVENT.itemsize
        rows = np.frombuffer(self._pending, dtype=COPIED_EVENT, count=whole_rows)
        if len(rows) and not (
            (rows["fields"] == 5).all()
            and (rows["user_length"] == 8).all()
            and (rows["kind_length"] == 2).all()
            and (rows["at_length"] == 8).all()
        ):
            raise ValueError("COPY returned rows of an unexpected layout (a NULL where none may be?)")
        part = np.empty(len(rows), dtype=EVENT)
        for name in EVENT.names:
            part[name] = rows[name]
        self.parts.append(part)
        del rows
        del self._pending[: whole_rows * COPIED_EVENT.itemsize]

    def events(self) -> np.ndarray:
        self._parse()
        trailer = bytes(self._pending)
        if trailer != b"\xff\xff":
            raise ValueError(f"COPY ended with {trailer[:8]!r} instead of its trailer")
        return np.concatenate(self.parts) if self.parts else np.empty(0, dtype=EVENT)


def _event_log_copied(user_ids: list[int] | None = None) -> np.ndarray:
    """Everyone's (or ``user_ids``') events through one ``COPY … TO STDOUT`` in PostgreSQL's binary format: about
    56 bytes per event on the wire and no Python object per row (ML-20M's 20 million ratings)."""
    with connection.cursor() as cursor:
        selects = []
        for queryset in _event_querysets(user_id=None, user_ids=user_ids):
            sql, params = queryset.query.sql_with_params()
            # The ORM's own SQL with its parameters bound by the driver: nothing here comes from a user.
            bound = cursor.mogrify(sql, params).decode()
            selects.append(COPIED_EVENT_SELECT.format(events=bound))
        sink = _CopiedEvents()
        cursor.copy_expert(f"COPY ({' UNION ALL '.join(selects)}) TO STDOUT WITH (FORMAT binary)", sink)
    return sink.events()


def has_positive(events: np.ndarray) -> bool:
    """Whether anything but hides is there: without it there is nothing to learn from or to fold in."""
    return bool(np.any(events["kind"] != Kind.HIDE))


def interactions_from_events(events: np.ndarray, *, user_ids: np.ndarray | None, item_ids: np.ndarray) -> Interactions:
    return build_interactions(
        user_ids=events["user"],
        item_ids=events["movie"],
        kinds=events["kind"],
        values=events["value"],
        timestamps=events["at"],
        all_user_ids=user_ids,
        all_item_ids=item_ids,
    )


def declared_genre_ids(user_ids: np.ndarray) -> list[np.ndarray]:
    """Each user's declared favorite genres (ids), in ``user_ids`` order."""
    declared = User.favorite_genres.through.objects.all()
    # A training asks for everyone: listing 138k ids in the query would cost more than the rows it leaves out,
    # which the lookup below ignores anyway.
    if len(user_ids) <= DECLARED_GENRES_FILTER_MAX:
        declared = declared.filter(user_id__in=user_ids.tolist())
    pairs = record_array(declared.values_list("user_id", "genre_id"), np.dtype([("user", "<i8"), ("genre", "<i8")]))
    pairs = pairs[np.argsort(pairs["user"], kind="stable")]
    starts = np.searchsorted(pairs["user"], user_ids, side="left")
    ends = np.searchsorted(pairs["user"], user_ids, side="right")
    return [pairs["genre"][start:end] for start, end in zip(starts, ends, strict=True)]
