"""The recommender pipeline: the database's interactions as numpy arrays → the models of
``recommender.algorithms`` → ranked, explained lists in the score store (``recommender.store``).

- ``recommender_train`` trains a new version end to end and switches readers to it (run by the ``train_model``
  task and the ``train_recommender`` command; each run is recorded as a ``ModelRun``).
- ``user_recommendations_refresh`` folds one user's current interactions into the current model and rewrites
  only that user's list (the ``refresh_user`` task, enqueued after library changes by
  ``user_recommendations_refresh_schedule``).
"""

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, FloatField, Func, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone
from threadpoolctl import threadpool_limits

from catalog.models import Genre, Movie, Tag
from recommender import outbox, store
from recommender.algorithms import choose_algorithm, fit_hybrid, load_model, production_model
from recommender.algorithms.base import pack_csr, unpack_csr
from recommender.algorithms.content import GENRE, KEYWORD, TAG, ItemFeatures, feature_tokens
from recommender.algorithms.hybrid import Hybrid, Source
from recommender.interactions import Interactions, Kind, build_interactions
from recommender.metrics import catalog_coverage
from recommender.models import ModelRun
from recommender.ranking import NO_ITEM
from recommender.store import Reason
from recommender.tasks import train_model
from users.cache import user_data_version_bump
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent

logger = logging.getLogger(__name__)
Result = TypeVar("Result")

LIST_LENGTH = 100
SIMILAR_LENGTH = 100
TRENDING_LENGTH = 100
SCORING_BATCH_USERS = 256
SIMILAR_BATCH_ITEMS = 256
FETCH_CHUNK_ROWS = 20_000
DECLARED_GENRES_FILTER_MAX = 1_000
# A declared favorite genre outweighs any history-derived genre when a reason names "a genre you like".
DECLARED_GENRE_WEIGHT = 1_000.0
REFRESH_ATTEMPTS = 3
# Deliveries of a training task that may start it: a second worker death gives it up.
MAX_TRAINING_ATTEMPTS = 2
# Changes committed this long before a training read the database may still have been invisible to it.
SNAPSHOT_MARGIN = timedelta(minutes=1)
MODEL_FILE, CATALOG_FILE = "model.npz", "catalog.npz"


# --- Reading the database into arrays -----------------------------------------------------------------------


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


def _rows(queryset: QuerySet, dtype: np.dtype) -> np.ndarray:
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


def _event_querysets(*, user_id: int | None) -> list[QuerySet]:
    """One ``values_list`` queryset of ``EVENT`` columns per kind of event."""
    querysets = []
    for kind, model, value, at in EVENT_SOURCES:
        queryset = model.objects.order_by()
        if user_id is not None:
            queryset = queryset.filter(user_id=user_id)
        querysets.append(
            queryset.annotate(event_value=value, event_at=EpochSeconds(at), event_kind=Value(int(kind))).values_list(
                "user_id", "movie_id", "event_value", "event_at", "event_kind"
            )
        )
    return querysets


def _event_log(*, user_id: int | None = None) -> np.ndarray:
    """Every rating, favorite, viewing and hide (of one user, or of everyone) as ``EVENT`` records."""
    if user_id is None and connection.vendor == "postgresql":
        return _event_log_copied()
    return np.concatenate([_rows(queryset, EVENT) for queryset in _event_querysets(user_id=user_id)])


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


def _event_log_copied() -> np.ndarray:
    """Everyone's events through one ``COPY … TO STDOUT`` in PostgreSQL's binary format: about 56 bytes per
    event on the wire and no Python object per row (ML-20M's 20 million ratings)."""
    with connection.cursor() as cursor:
        selects = []
        for queryset in _event_querysets(user_id=None):
            sql, params = queryset.query.sql_with_params()
            # The ORM's own SQL with its parameters bound by the driver: nothing here comes from a user.
            bound = cursor.mogrify(sql, params).decode()
            selects.append(COPIED_EVENT_SELECT.format(events=bound))
        sink = _CopiedEvents()
        cursor.copy_expert(f"COPY ({' UNION ALL '.join(selects)}) TO STDOUT WITH (FORMAT binary)", sink)
    return sink.events()


def _has_positive(events: np.ndarray) -> bool:
    """Whether anything but hides is there: without it there is nothing to learn from or to fold in."""
    return bool(np.any(events["kind"] != Kind.HIDE))


def _interactions(events: np.ndarray, *, user_ids: np.ndarray | None, item_ids: np.ndarray) -> Interactions:
    return build_interactions(
        user_ids=events["user"],
        item_ids=events["movie"],
        kinds=events["kind"],
        values=events["value"],
        timestamps=events["at"],
        all_user_ids=user_ids,
        all_item_ids=item_ids,
    )


def _kind_matrix(events: np.ndarray, kind: Kind, interactions: Interactions) -> sp.csr_matrix:
    """Users × items: which pairs have an event of ``kind`` (rows and columns as in ``interactions``)."""
    of_kind = events[events["kind"] == kind]
    rows = interactions.user_rows(of_kind["user"])
    columns = interactions.item_columns(of_kind["movie"])
    ones = np.ones(len(rows), dtype=bool)
    return sp.csr_matrix((ones, (rows, columns)), shape=(interactions.n_users, interactions.n_items))


@dataclass(frozen=True)
class Catalog:
    """What ties a model's columns to the database: the movie id of each column, the genres of each movie, and
    the content features' vocabulary (to place declared favorite genres). Saved next to each model."""

    item_ids: np.ndarray
    genre_ids: np.ndarray
    genre_names: np.ndarray
    item_genres: sp.csr_matrix  # columns × genres (genre_ids order), 1 where the movie has the genre
    vocabulary: np.ndarray

    def save(self, path: Path) -> None:
        np.savez(
            path,
            item_ids=self.item_ids,
            genre_ids=self.genre_ids,
            genre_names=self.genre_names,
            vocabulary=self.vocabulary,
            **pack_csr("item_genres", self.item_genres),
        )

    @classmethod
    def load(cls, path: Path) -> "Catalog":
        with np.load(path, allow_pickle=False) as saved:
            arrays = dict(saved)
        return cls(
            item_ids=arrays["item_ids"],
            genre_ids=arrays["genre_ids"],
            genre_names=arrays["genre_names"],
            item_genres=unpack_csr("item_genres", arrays),
            vocabulary=arrays["vocabulary"],
        )

    def declared_genres(self, genre_ids_per_user: list[np.ndarray]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Users' declared favorite genres, as users × content features (for the model) and users × genres."""
        columns = [np.searchsorted(self.genre_ids, ids) for ids in genre_ids_per_user]
        features = ItemFeatures(matrix=sp.csr_matrix((0, len(self.vocabulary))), vocabulary=self.vocabulary)
        as_features = features.user_matrix([feature_tokens(GENRE, self.genre_names[cols]) for cols in columns])
        rows = np.repeat(np.arange(len(columns)), [len(cols) for cols in columns])
        flat = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
        as_genres = sp.csr_matrix(
            (np.ones(len(flat), dtype=np.float32), (rows, flat)), shape=(len(columns), len(self.genre_ids))
        )
        return as_features, as_genres


def _catalog_load() -> tuple[Catalog, ItemFeatures]:
    item_ids = _rows(Movie.objects.order_by("pk").values_list("pk", flat=True), np.dtype("<i8"))
    genres = _rows(Genre.objects.order_by("pk").values_list("pk", "name"), np.dtype([("pk", "<i8"), ("name", "O")]))
    movie_genres = _rows(
        Movie.genres.through.objects.values_list("movie_id", "genre_id"),
        np.dtype([("movie", "<i8"), ("genre", "<i8")]),
    )
    named = np.dtype([("movie", "<i8"), ("name", "O")])
    tags = _rows(Tag.objects.values_list("movie_id", "name"), named)
    keywords = _rows(Movie.keywords.through.objects.values_list("movie_id", "keyword__name"), named)

    genre_columns = np.searchsorted(genres["pk"], movie_genres["genre"])
    item_genres = sp.csr_matrix(
        (
            np.ones(len(movie_genres), dtype=np.float32),
            (np.searchsorted(item_ids, movie_genres["movie"]), genre_columns),
        ),
        shape=(len(item_ids), len(genres)),
    )
    features = ItemFeatures.from_pairs(
        item_columns=np.searchsorted(
            item_ids, np.concatenate([movie_genres["movie"], tags["movie"], keywords["movie"]])
        ),
        tokens=np.concatenate(
            [
                feature_tokens(GENRE, genres["name"][genre_columns]),
                feature_tokens(TAG, tags["name"]),
                feature_tokens(KEYWORD, keywords["name"]),
            ]
        ),
        n_items=len(item_ids),
    )
    catalog = Catalog(
        item_ids=item_ids,
        genre_ids=genres["pk"],
        genre_names=genres["name"].astype(str),
        item_genres=item_genres,
        vocabulary=features.vocabulary,
    )
    return catalog, features


def _declared_genre_ids(user_ids: np.ndarray) -> list[np.ndarray]:
    """Each user's declared favorite genres (ids), in ``user_ids`` order."""
    declared = User.favorite_genres.through.objects.all()
    # A training asks for everyone: listing 138k ids in the query would cost more than the rows it leaves out,
    # which the lookup below ignores anyway.
    if len(user_ids) <= DECLARED_GENRES_FILTER_MAX:
        declared = declared.filter(user_id__in=user_ids.tolist())
    pairs = _rows(declared.values_list("user_id", "genre_id"), np.dtype([("user", "<i8"), ("genre", "<i8")]))
    pairs = pairs[np.argsort(pairs["user"], kind="stable")]
    starts = np.searchsorted(pairs["user"], user_ids, side="left")
    ends = np.searchsorted(pairs["user"], user_ids, side="right")
    return [pairs["genre"][start:end] for start, end in zip(starts, ends, strict=True)]


# --- Ranked, explained lists --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRows:
    """A batch of users' rows: what the model scores, and what the reasons quote."""

    confidence: sp.csr_matrix
    exclude: sp.csr_matrix
    ratings: sp.csr_matrix
    favorited: sp.csr_matrix
    watched: sp.csr_matrix
    declared_features: sp.csr_matrix
    declared_genres: sp.csr_matrix

    @classmethod
    def of(
        cls, events: np.ndarray, interactions: Interactions, declared: tuple[sp.csr_matrix, sp.csr_matrix]
    ) -> "UserRows":
        """``interactions``' rows, with ``declared`` favorite genres (``Catalog.declared_genres``)."""
        return cls(
            confidence=interactions.confidence,
            exclude=interactions.exclude,
            ratings=interactions.ratings,
            favorited=_kind_matrix(events, Kind.FAVORITE, interactions),
            watched=_kind_matrix(events, Kind.WATCH, interactions),
            declared_features=declared[0],
            declared_genres=declared[1],
        )

    def __getitem__(self, rows: np.ndarray) -> "UserRows":
        return UserRows(**{name: matrix[rows] for name, matrix in vars(self).items()})


def _ranked_lists(model: Hybrid, catalog: Catalog, users: UserRows) -> list[np.ndarray]:
    """Each user's top ``LIST_LENGTH`` as ``store.ENTRY`` records, with the reason for each movie: the movie of
    theirs that added most to its score ("Because you rated Alien 5★"), else the movie's genre they like most,
    else their taste in general. Vectorised over the batch: no Python work per movie, and per user only where
    the model needs it (ALS solves a small system per user for its reasons)."""
    ranked = model.recommend(
        users.confidence, k=LIST_LENGTH, exclude=users.exclude, favorite_genres=users.declared_features
    )
    items, scores, sources = ranked.items, ranked.scores, ranked.sources
    listed = items != NO_ITEM
    because = model.strongest_contributors(users.confidence, np.where(listed, items, NO_ITEM))
    has_because = because != NO_ITEM
    because_column = np.where(has_because, because, 0)
    rows = np.repeat(np.arange(items.shape[0]), items.shape[1])

    def quoted(matrix: sp.csr_matrix) -> np.ndarray:
        """The user's value in ``matrix`` for each movie a reason names (0 where none does)."""
        values = np.asarray(matrix[rows, because_column.ravel()], dtype=np.float32).reshape(items.shape)
        return values * has_because

    favorited, stars, watched = quoted(users.favorited), quoted(users.ratings), quoted(users.watched)
    genre_profiles = (users.confidence @ catalog.item_genres + DECLARED_GENRE_WEIGHT * users.declared_genres).toarray()
    listed_genres = catalog.item_genres[np.where(listed, items, 0).ravel()].toarray().reshape(*items.shape, -1)
    genre_weights = listed_genres * genre_profiles[:, None, :]
    liked_genre = np.argmax(genre_weights, axis=2)
    has_liked_genre = genre_weights.max(axis=2, initial=0.0) > 0

    entries = np.zeros(items.shape, dtype=store.ENTRY)
    entries["movie"] = catalog.item_ids[np.where(listed, items, 0)]
    entries["score"] = scores
    entries["source"] = sources
    entries["reason"] = np.select(
        [favorited > 0, stars > 0, watched > 0, has_liked_genre, sources == Source.POPULAR],
        [Reason.FAVORITED, Reason.RATED, Reason.WATCHED, Reason.LIKED_GENRE, Reason.POPULAR],
        default=Reason.TASTE,
    )
    entries["subject"] = np.select(
        [has_because, has_liked_genre], [catalog.item_ids[because_column], catalog.genre_ids[liked_genre]], 0
    )
    entries["stars"] = np.rint(stars * 2)
    return [row_entries[row_listed] for row_entries, row_listed in zip(entries, listed, strict=True)]


def _every_users_lists(
    model: Hybrid, catalog: Catalog, users: UserRows, interactions: Interactions
) -> dict[int, np.ndarray]:
    """Every user with interactions: their ranked list, by user id."""
    warm = np.flatnonzero(np.diff(interactions.confidence.indptr) > 0)
    batches = [warm[start : start + SCORING_BATCH_USERS] for start in range(0, len(warm), SCORING_BATCH_USERS)]
    lists = _batches_in_threads(lambda batch: _ranked_lists(model, catalog, users[batch]), batches)
    user_lists: dict[int, np.ndarray] = {}
    for batch, batch_lists in zip(batches, lists, strict=True):
        user_lists.update(zip(interactions.user_ids[batch].tolist(), batch_lists, strict=True))
    return user_lists


def _batches_in_threads(compute: Callable[[np.ndarray], Result], batches: list[np.ndarray]) -> list[Result]:
    """``compute`` of each batch, in order, on one thread per CPU, each with BLAS held to one thread: a batch is
    mostly numpy passes over batch × items arrays, which release the GIL, and small products that a second BLAS
    thread would only slow down. The first batch runs alone, so that the models' lazily built parts (cached
    solver matrices, dense feature vectors) are built once."""
    if not batches:
        return []
    with threadpool_limits(1, "blas"), ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        first = compute(batches[0])
        return [first, *pool.map(compute, batches[1:])]


def _similar_lists(model: Hybrid, catalog: Catalog) -> np.ndarray:
    """``store.SIMILAR_ENTRY`` rows: for every movie, the movies most like it."""
    n_items = len(catalog.item_ids)
    similar = np.empty((n_items, SIMILAR_LENGTH), dtype=store.SIMILAR_ENTRY)
    batches = [
        np.arange(start, min(start + SIMILAR_BATCH_ITEMS, n_items)) for start in range(0, n_items, SIMILAR_BATCH_ITEMS)
    ]
    ranked_batches = _batches_in_threads(lambda batch: model.similar(batch, k=SIMILAR_LENGTH), batches)
    for batch, ranked in zip(batches, ranked_batches, strict=True):
        listed = ranked.items != NO_ITEM
        similar["movie"][batch] = np.where(listed, catalog.item_ids[np.maximum(ranked.items, 0)], store.NO_MOVIE)
        similar["score"][batch] = np.where(listed, ranked.scores, 0.0)
    return similar


def _trending_lists(model: Hybrid, catalog: Catalog) -> dict[int | None, np.ndarray]:
    """Trending movies overall (key None) and within each genre; movies with no recent activity are left
    out."""
    inactive = model.trending.item_scores <= 0
    excluded = {None: inactive}
    for column, genre_id in enumerate(catalog.genre_ids):
        excluded[int(genre_id)] = inactive | (catalog.item_genres[:, column].toarray().ravel() == 0)
    lists = {}
    for genre_id, exclude in excluded.items():
        ranked = model.recommend_anonymous(k=TRENDING_LENGTH, exclude=sp.csr_matrix(exclude[None, :]))
        items = ranked.items[0][ranked.items[0] != NO_ITEM]
        entries = store.empty_entries(len(items))
        entries["movie"] = catalog.item_ids[items]
        entries["score"] = ranked.scores[0][: len(items)]
        entries["source"] = Source.TRENDING
        entries["reason"] = Reason.TRENDING
        lists[genre_id] = entries
    return lists


# --- Models on disk -----------------------------------------------------------------------------------------


def _model_dir(version: str) -> Path:
    return Path(settings.NEXUS_MODEL_DIR) / version


def _model_save(version: str, model: Hybrid, catalog: Catalog) -> None:
    folder = _model_dir(version)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    catalog.save(folder / CATALOG_FILE)


def _model_load(version: str) -> tuple[Hybrid, Catalog]:
    """The saved model of a version; a worker keeps the current one in memory between refreshes."""
    return _model_files_load(_model_dir(version))


@lru_cache(maxsize=1)
def _model_files_load(folder: Path) -> tuple[Hybrid, Catalog]:
    return load_model(folder / MODEL_FILE), Catalog.load(folder / CATALOG_FILE)


def _model_delete(version: str) -> None:
    shutil.rmtree(_model_dir(version), ignore_errors=True)


def _models_prune(*, live: str) -> None:
    """Deletes the saved models of earlier versions, except the one ``live`` replaced (a refresh that started
    before the switch may still read it). By name, so that a folder shared by mistake loses nothing else."""
    earlier = ModelRun.objects.filter(status=ModelRun.Status.SUCCEEDED).exclude(version=live)
    for version in earlier.order_by("-finished_at").values_list("version", flat=True)[1:]:
        _model_delete(version)


# --- Training -----------------------------------------------------------------------------------------------


class NothingToTrainOn(Exception):
    pass


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - started, 3)


def recommender_train(*, triggered_by: str = ModelRun.Trigger.COMMAND, run_id: int | None = None) -> ModelRun:
    """Trains a new version on everything in the database and switches readers to it.

    Steps (each timed in ``ModelRun.timings``): load interactions and item features with SQL into arrays;
    fit the collaborative model ``choose_algorithm`` picks for the data's size and the hybrid around it; rank
    the top ``LIST_LENGTH`` with reasons for every user with interactions, in batches; precompute every
    movie's similar movies and the trending lists; save the model (for per-user refreshes); write everything
    under the new version; switch. ``run_id`` is a run queued by ``recommender_training_enqueue``; without it
    a run is created.
    """
    run = ModelRun.objects.create(triggered_by=triggered_by) if run_id is None else ModelRun.objects.get(pk=run_id)
    run.started_at = timezone.now()
    run.version = f"{run.started_at:%Y%m%d-%H%M%S}-{run.pk}"
    run.status = ModelRun.Status.RUNNING
    run.save(update_fields=["started_at", "version", "status"])
    timings: dict[str, float] = {}
    try:
        with _timed(timings, "total"):
            replaced = _train(run, timings)
    except Exception as error:
        logger.exception("Recommender training %s failed", run.version)
        run.status, run.error, run.finished_at = (
            ModelRun.Status.FAILED,
            f"{type(error).__name__}: {error}",
            timezone.now(),
        )
        run.timings = timings
        run.save(update_fields=["status", "error", "finished_at", "timings"])
        _unfinished_version_discard(run.version)
        raise
    run.status, run.timings, run.finished_at = ModelRun.Status.SUCCEEDED, timings, timezone.now()
    run.save(update_fields=["status", "timings", "finished_at"])
    logger.info("Recommender version %s is live (replaced %s) after %.1f s", run.version, replaced, timings["total"])
    return run


def _unfinished_version_discard(version: str) -> None:
    """Removes what a failed training wrote, unless it had already gone live (then it stays, and serves)."""
    with suppress(store.StoreUnavailable):
        if store.current_version() != version:
            store.version_discard(version=version)
            _model_delete(version)


def _train(run: ModelRun, timings: dict[str, float]) -> str | None:
    snapshot_at = timezone.now()
    with _timed(timings, "load"):
        catalog, features = _catalog_load()
        events = _event_log()
        if not _has_positive(events):
            raise NothingToTrainOn("no ratings, favorites or viewings yet: import MovieLens first")
        interactions = _interactions(events, user_ids=None, item_ids=catalog.item_ids)
        users = UserRows.of(events, interactions, catalog.declared_genres(_declared_genre_ids(interactions.user_ids)))
    with _timed(timings, "fit"):
        run.algorithm = choose_algorithm(
            n_users=interactions.n_users,
            n_items=interactions.n_items,
            n_interactions=interactions.confidence.nnz,
        )
        collaborative = production_model(run.algorithm, n_interactions=interactions.confidence.nnz).fit(
            interactions.confidence
        )
        model = fit_hybrid(interactions=interactions, item_features=features, collaborative=collaborative)
    with _timed(timings, "recommend"):
        user_lists = _every_users_lists(model, catalog, users, interactions)
    with _timed(timings, "similar"):
        similar = _similar_lists(model, catalog)
    with _timed(timings, "trending"):
        trending = _trending_lists(model, catalog)
    with _timed(timings, "save_model"):
        _model_save(run.version, model, catalog)
    with _timed(timings, "write"):
        store.version_write(
            version=run.version,
            user_lists=user_lists,
            similar_movie_ids=catalog.item_ids,
            similar=similar,
            trending=trending,
        )
    with _timed(timings, "activate"):
        replaced = store.activate(version=run.version)
        _models_prune(live=run.version)
        caught_up = _changed_users_refresh(since=snapshot_at - SNAPSHOT_MARGIN)

    run.parameters = model.state()[0]
    run.n_users, run.n_items, run.n_interactions = interactions.n_users, interactions.n_items, len(events)
    run.metrics = _list_metrics(user_lists, n_items=interactions.n_items, caught_up=caught_up)
    run.save(update_fields=["algorithm", "parameters", "n_users", "n_items", "n_interactions", "metrics"])
    return replaced


def _list_metrics(user_lists: dict[int, np.ndarray], *, n_items: int, caught_up: int) -> dict[str, float | int]:
    """What the lists look like: how much of the catalog they reach and how many reasons name a movie."""
    if not user_lists:
        return {"users_with_lists": 0, "refreshed_after_switch": caught_up}
    padded = np.full((len(user_lists), LIST_LENGTH), NO_ITEM, dtype=np.int64)
    for row, entries in enumerate(user_lists.values()):
        padded[row, : len(entries)] = entries["movie"]
    reasons = np.concatenate([entries["reason"] for entries in user_lists.values()])
    return {
        "users_with_lists": len(user_lists),
        "catalog_coverage@10": round(catalog_coverage(padded, n_items, 10), 4),
        f"catalog_coverage@{LIST_LENGTH}": round(catalog_coverage(padded, n_items, LIST_LENGTH), 4),
        "reasons_naming_a_movie": round(
            float(np.isin(reasons, [Reason.RATED, Reason.FAVORITED, Reason.WATCHED]).mean()), 4
        ),
        "refreshed_after_switch": caught_up,
    }


def _changed_users_refresh(*, since) -> int:
    """Refreshes, in the new version, users whose library changed while it trained: their refreshes went to
    the version it replaced. Returns how many."""
    parts = [
        model.objects.filter(**{f"{at}__gte": since}).order_by().values_list("user_id")
        for _, model, _, at in EVENT_SOURCES
    ]
    user_ids = [user_id for (user_id,) in parts[0].union(*parts[1:])]
    for user_id in user_ids:
        user_recommendations_refresh(user_id=user_id)
    return len(user_ids)


def recommender_training_enqueue(*, triggered_by: str, requested_by: User | None = None) -> ModelRun:
    """Queues a training (a ``queued`` run, picked up by the ``train_model`` task once this transaction
    commits)."""
    run = ModelRun.objects.create(triggered_by=triggered_by, requested_by=requested_by)
    transaction.on_commit(lambda: train_model.delay(run_id=run.pk))
    return run


def recommender_train_queued(*, run_id: int) -> ModelRun:
    """Runs the queued training ``run_id`` (the ``train_model`` task). Its message comes back when a worker dies
    mid-way: a run found ``running`` starts over once, after discarding what the lost attempt wrote (the version
    it served stays live meanwhile); one that died again is given up as failed, so that a training that kills
    its worker (out of memory) cannot loop; one that had finished is not run again."""
    run = ModelRun.objects.get(pk=run_id)
    if run.status in (ModelRun.Status.SUCCEEDED, ModelRun.Status.FAILED):
        logger.warning("Recommender training run %s was delivered again after it %s: not run again", run.pk, run.status)
        return run
    if run.status == ModelRun.Status.RUNNING:
        logger.warning("Recommender training %s lost its worker (attempt %s)", run.version, run.attempts)
        _unfinished_version_discard(run.version)
        if run.attempts >= MAX_TRAINING_ATTEMPTS:
            run.status, run.finished_at = ModelRun.Status.FAILED, timezone.now()
            run.error = f"its worker died in each of {run.attempts} attempts (out of memory?)"
            run.save(update_fields=["status", "finished_at", "error"])
            return run
    ModelRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1)
    return recommender_train(run_id=run.pk)


# --- Per-user refresh ---------------------------------------------------------------------------------------


def user_recommendations_refresh_schedule(*, user: User) -> None:
    """Records in the current transaction that the user's list is out of date (``recommender.outbox``: kept
    until a refresh has read the change, whatever happens to the broker or Redis) and queues the refresh once it
    commits; a burst of changes runs one refresh."""
    outbox.refresh_request_record(user_id=user.pk)
    transaction.on_commit(lambda: outbox.refresh_publish(user_id=user.pk), robust=True)


def user_recommendations_refresh(*, user_id: int) -> bool:
    """Recomputes one user's list from their current interactions with the current model (EASE and item-kNN
    score ``x_u·B``, ALS solves the user's factors) and rewrites it in the current version. Returns False when
    there is no model to refresh with."""
    # First, so that any change committed from now on queues another refresh rather than riding along.
    store.refresh_queued_clear(user_id=user_id)
    for _ in range(REFRESH_ATTEMPTS):
        version = store.current_version()
        if version is None:
            return False
        model, catalog = _model_load(version)
        entries = _user_list_compute(model, catalog, user_id=user_id)
        store.user_list_write(version=version, user_id=user_id, entries=entries)
        if store.current_version() == version:
            user_data_version_bump(user_id=user_id)  # their cached answers showed the previous list
            return True
        # A training switched versions meanwhile: this list went to the retired one; redo it on the new one.
        store.user_list_write(version=version, user_id=user_id, entries=None)
    return False


def _user_list_compute(model: Hybrid, catalog: Catalog, *, user_id: int) -> np.ndarray | None:
    """The user's list with a saved model, or None when nothing they did counts any more."""
    events = _event_log(user_id=user_id)
    # Movies added since the model was trained are unknown to it.
    events = events[np.isin(events["movie"], catalog.item_ids)]
    if not _has_positive(events):
        return None
    interactions = _interactions(events, user_ids=np.array([user_id]), item_ids=catalog.item_ids)
    if interactions.confidence.nnz == 0:  # they hid everything they had rated
        return None
    users = UserRows.of(events, interactions, catalog.declared_genres(_declared_genre_ids(np.array([user_id]))))
    return _ranked_lists(model, catalog, users)[0]
