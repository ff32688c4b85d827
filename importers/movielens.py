"""Bulk loading of a MovieLens release into the catalog and user tables, as one transaction.

PostgreSQL gets COPY into temporary staging tables, then one set-based INSERT ... SELECT ... ON CONFLICT per
table; other databases (SQLite, the embedded default) get bulk_create. Ratings and tags stream in batches, so
a 25-million-rating release never sits in memory as Python objects. An ml-latest ratings.csv on PostgreSQL goes
further: one COPY of the whole file, parsed by PostgreSQL, with the ratings table's indexes rebuilt after a large
insert rather than maintained row by row (``PostgresWriter.ratings_copy``). Upserts make a second import of the
same data a no-op, while changed titles, links and scores are carried over.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils.text import slugify

from catalog.models import Genre, Movie
from datasets import DatasetError
from datasets.movielens import (
    LinkRow,
    MovieLensDataset,
    MovieRow,
    RatingRow,
    TagRow,
    open_dataset,
)
from importers.bulk import batches
from importers.movielens_writers import OrmWriter, PostgresWriter, csv_ratings_checked
from nexus.progress import Progress
from nexus.versions import rows_changed
from users.statistics import movie_stats_refresh

BATCH_SIZE = 50_000


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
        writer = PostgresWriter() if connection.vendor == "postgresql" else OrmWriter()
        writer.movies_upsert(
            movies=movies,
            links=links,
            genre_ids=_genres_upsert(names={genre for movie in movies for genre in movie.genres}),
            updated_fields=_movie_fields_to_update(movies=movies, links=links),
        )
        movie_ids = {movie.movielens_id for movie in movies}
        user_ids: set[int] = set()
        if isinstance(writer, PostgresWriter):
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
    rows_changed(Movie)  # titles, genres or links may have changed: one bump per import, after commit
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
    with Progress(f"import {file}", unit="rows", enabled=show_progress) as progress:
        for batch in batches(rows, BATCH_SIZE):
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
