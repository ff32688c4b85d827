"""One import job from its file to the library (the ``importers.tasks.library_import`` task): read the file,
match its rows to movies, write them through the library's services (users.portability.LibraryImport) in one
transaction, and keep the counts and the unmatched rows on the job. A file that cannot be read, or a row the
services refuse, fails the job with the line and the reason: the transaction is rolled back, nothing is written.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.models import Movie
from importers.library.formats import imdb_file, letterboxd_file, trakt_file
from importers.library.matching import MovieMatcher
from importers.library.nexus_format import nexus_file
from importers.library.rows import (
    FAVORITE,
    HIDDEN,
    LIST_ENTRY,
    RATING,
    VIEWING,
    WATCHLIST,
    LibraryFile,
    MalformedFile,
    Row,
)
from users.events import library_changes_batched
from users.models import ImportJob
from users.portability import (
    UNCHANGED,
    ImportCounts,
    LibraryImport,
    import_job_fail,
    import_job_finish,
    import_job_start,
)

logger = logging.getLogger(__name__)

READERS = {
    ImportJob.Source.LETTERBOXD: letterboxd_file,
    ImportJob.Source.IMDB: imdb_file,
    ImportJob.Source.TRAKT: trakt_file,
    ImportJob.Source.NEXUS: nexus_file,
}
# The unmatched rows a job keeps to show (its count covers them all).
UNMATCHED_KEPT = 1000
INTERNAL_FAILURE = "The import failed unexpectedly; nothing was imported. Try again later."


def library_import_run(*, job_id: int) -> str | None:
    """Run the job; its final status (None: it had finished already)."""
    job = import_job_start(job_id=job_id)
    if job is None:
        return None
    try:
        with transaction.atomic(), library_changes_batched():  # one refresh, after the commit
            library = READERS[job.source](bytes(job.content), filename=job.filename)
            counts, unmatched = library_write(job.user, library)
            import_job_finish(job=job, counts=counts, unmatched=unmatched)
    except MalformedFile as problem:
        import_job_fail(job_id=job.pk, line=problem.line, reason=str(problem))
        return ImportJob.Status.FAILED
    except Exception:  # noqa: BLE001 - the job says it failed; the traceback is logged
        logger.exception("Import %s failed", job.pk)
        import_job_fail(job_id=job.pk, line=None, reason=INTERNAL_FAILURE)
        return ImportJob.Status.FAILED
    return ImportJob.Status.DONE


def library_write(user, library: LibraryFile) -> tuple[ImportCounts, list[dict]]:
    """Write the file's rows into the user's library; what each did, and the rows no movie matched."""
    counts, unmatched = ImportCounts(), []
    writer = LibraryImport(user)
    if library.profile is not None:
        profile = library.profile
        counts.read += 1
        with _row_refusals(profile.line, ""):
            outcome = writer.profile(
                display_name=profile.display_name, bio=profile.bio, favorite_genres=profile.favorite_genres
            )
        counts.count(outcome)
    for header in library.lists:  # each list is a row; its movies are rows of their own, below
        counts.read += 1
        with _row_refusals(header.line, ""):
            outcome = writer.lists.custom_list(
                header.key,
                name=header.name,
                description=header.description,
                public=header.public,
                at=header.created_at,
            )
        counts.count(outcome)
    matcher = MovieMatcher(library.rows)
    matched = [(row, matcher.match(row)) for row in library.rows]
    movies = Movie.objects.in_bulk({pk for _, pk in matched if pk is not None})
    for row, pk in matched:
        counts.read += 1
        if pk is None:
            counts.unmatched += 1
            if len(unmatched) < UNMATCHED_KEPT:
                unmatched.append(_unmatched(row, matcher.reason(row)))
            continue
        with _row_refusals(row.line, row.file):
            counts.count(_write(writer, row, movies[pk]))
    return counts, unmatched


def _write(writer: LibraryImport, row: Row, movie: Movie) -> str:
    if row.kind == RATING:
        return writer.rating(movie, row.score, at=row.at, changed_at=row.changed_at)
    if row.kind == WATCHLIST:
        return writer.watchlist_item(movie, at=row.at)
    if row.kind == FAVORITE:
        return writer.favorite(movie, at=row.at)
    if row.kind == HIDDEN:
        return writer.hide(movie, at=row.at)
    if row.kind == VIEWING:
        return writer.viewing(movie, at=row.at)
    if row.kind == LIST_ENTRY:
        return writer.lists.entry(row.list_key, movie, note=row.note, at=row.at)
    return UNCHANGED


class _row_refusals:
    """A row the library's services refuse (a viewing in the future, an unknown genre) fails the file there."""

    def __init__(self, line: int | None, file: str):
        self.line, self.file = line, file

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, ValidationError):
            reason = "; ".join(error.messages)
            raise MalformedFile(reason, line=self.line, file=self.file) from None
        return False


def _unmatched(row: Row, reason: str) -> dict:
    return {
        "line": row.line,
        "file": row.file,
        "kind": row.kind,
        "title": row.title,
        "year": row.year,
        "imdbId": row.imdb_id,
        "tmdbId": row.tmdb_id,
        "reason": reason,
    }
