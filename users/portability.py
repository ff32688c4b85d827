"""A library that leaves and enters Nexus: import jobs, each imported entry written through the library's own
services, and everything an export shows.

An import is a job (``ImportJob``): ``import_job_create`` stores the uploaded file and queues the import task by
its name once the upload commits (the library never imports the importers); the task (importers.library) parses
and matches the file, then writes every entry through a ``LibraryImport`` in one transaction, so a file that
fails half-way writes nothing. The entry writes are the services' (rating_upsert, watchlist_add, ...): the same
rules and statistics as a rating sent one by one; a ``LibraryImport`` only tells what each row changed (created,
updated, unchanged), so that importing a file again changes nothing, and keeps the dates the file gives. Custom
lists are written through their own services (users.custom_list_portability).

The user's recommendations are refreshed once, after the import's transaction commits: every library change of
one transaction rides along with the first refresh it queues (users.events).
"""

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property

from celery import signature
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from catalog.models import Movie
from nexus.versions import rows_changed
from users import services
from users.custom_list_portability import CustomListImport, ListSnapshot, custom_lists_snapshot
from users.models import Favorite, HiddenMovie, ImportJob, Rating, User, WatchEvent, WatchlistItem

logger = logging.getLogger(__name__)

IMPORT_TASK = "importers.tasks.library_import"
FILENAME_MAX_LENGTH = 255

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


# --- Jobs ---------------------------------------------------------------------------------------------------------


@transaction.atomic
def import_job_create(*, user: User, source: str, filename: str, content: bytes) -> ImportJob:
    """Store an uploaded file as a pending job of ``user`` and queue its import once this transaction commits."""
    if source not in ImportJob.Source.values:
        raise ValidationError({"source": ValidationError(f"Unknown source {source!r}.", code="invalid")})
    if not content:
        raise ValidationError({"file": ValidationError("The file is empty.", code="required")})
    limit = settings.NEXUS_UPLOAD_MAX_BYTES
    if len(content) > limit:
        raise ValidationError(
            {
                "file": ValidationError(
                    "The file is %(size)d bytes; at most %(limit)d are accepted.",
                    code="out_of_range",
                    params={"size": len(content), "limit": limit},
                )
            }
        )
    job = ImportJob.objects.create(
        user=user, source=source, filename=(filename or "")[:FILENAME_MAX_LENGTH], content=content
    )
    rows_changed(ImportJob, [job])
    transaction.on_commit(lambda: import_job_queue(job_id=job.pk), robust=True)
    return job


def import_job_queue(*, job_id: int) -> bool:
    """Queue the job's import by the task's name. A broker that cannot take it fails the job: the upload must be
    sent again (nothing was imported)."""
    try:
        signature(IMPORT_TASK, kwargs={"job_id": job_id}).apply_async()
    except OperationalError:
        logger.warning("Import %s could not be queued: the broker is unreachable", job_id, exc_info=True)
        import_job_fail(job_id=job_id, line=None, reason="The import could not be started; send the file again.")
        return False
    return True


def import_job_get(*, user: User | None, job_id: int) -> ImportJob | None:
    """The job with this id when it is ``user``'s own; None otherwise, exactly as for an id no job has."""
    if user is None or not user.is_authenticated:
        return None
    return ImportJob.objects.filter(pk=job_id, user=user).defer("content").first()


def import_job_start(*, job_id: int) -> ImportJob | None:
    """Mark the job running and return it with its file; None when it has finished already (a task delivered
    twice). A job left running by a worker that died is started again: its writes were rolled back."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            return None
        job.status, job.started_at = ImportJob.Status.RUNNING, timezone.now()
        job.save(update_fields=["status", "started_at"])
        rows_changed(ImportJob, [job])
    return job


@dataclass
class ImportCounts:
    """What an import did with the rows of its file. Every row read is matched or unmatched; every matched row
    created, updated or left unchanged an entry of the library."""

    read: int = 0
    matched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    unmatched: int = 0

    def count(self, outcome: str) -> None:
        self.matched += 1
        setattr(self, outcome, getattr(self, outcome) + 1)


def import_job_finish(*, job: ImportJob, counts: ImportCounts, unmatched: list[dict]) -> None:
    """The job is done: its counts and unmatched rows are kept, its file dropped."""
    job.status, job.finished_at, job.content = ImportJob.Status.DONE, timezone.now(), b""
    job.unmatched = unmatched
    for name, value in vars(counts).items():
        setattr(job, f"rows_{name}", value)
    job.save()
    rows_changed(ImportJob, [job])


def import_job_fail(*, job_id: int, line: int | None, reason: str) -> None:
    """The job failed (nothing was imported): why, and on which line of the file; its file is dropped."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return
        job.status, job.finished_at, job.content = ImportJob.Status.FAILED, timezone.now(), b""
        job.error_line, job.error = line, reason[:2000]
        for name in vars(ImportCounts()):
            setattr(job, f"rows_{name}", 0)
        job.unmatched = []
        job.save()
        rows_changed(ImportJob, [job])


# --- Entries ------------------------------------------------------------------------------------------------------


class LibraryImport:
    """Writes imported entries into one user's library through the library's services, telling for each what it
    changed. Reads the library once; call inside the import's transaction."""

    def __init__(self, user: User):
        self.user = user
        self.scores = dict(Rating.objects.filter(user=user).values_list("movie_id", "score"))
        self.favorites = set(Favorite.objects.filter(user=user).values_list("movie_id", flat=True))
        self.watchlist = set(WatchlistItem.objects.filter(user=user).values_list("movie_id", flat=True))
        self.hidden = set(HiddenMovie.objects.filter(user=user).values_list("movie_id", flat=True))
        self.viewings = Counter(WatchEvent.objects.filter(user=user).values_list("movie_id", "watched_at"))
        self._viewings_read: Counter = Counter()

    @cached_property
    def lists(self) -> CustomListImport:
        """The custom lists' part of the import (read when the file has lists)."""
        return CustomListImport(self.user)

    def rating(
        self, movie: Movie, score: Decimal, *, at: datetime | None = None, changed_at: datetime | None = None
    ) -> str:
        """Rate the movie ``score`` (the services' rules: half stars); a new rating is dated ``at`` (first rated)
        and ``changed_at`` (last changed; ``at`` when not given)."""
        previous = self.scores.get(movie.pk)
        if previous is not None and previous == Decimal(str(score)):
            return UNCHANGED  # as rating_upsert would leave it, without its statements
        rating = services.rating_upsert(user=self.user, movie=movie, score=score)
        self.scores[movie.pk] = rating.score
        if previous is None:
            if at is not None:
                Rating.objects.filter(pk=rating.pk).update(created_at=at, updated_at=changed_at or at)
            return CREATED
        return UNCHANGED if previous == rating.score else UPDATED

    def favorite(self, movie: Movie, *, at: datetime | None = None) -> str:
        return self._entry(Favorite, self.favorites, services.favorite_add, movie, at)

    def watchlist_item(self, movie: Movie, *, at: datetime | None = None) -> str:
        return self._entry(WatchlistItem, self.watchlist, services.watchlist_add, movie, at)

    def hide(self, movie: Movie, *, at: datetime | None = None) -> str:
        return self._entry(HiddenMovie, self.hidden, services.movie_hide, movie, at)

    def viewing(self, movie: Movie, *, at: datetime) -> str:
        """A viewing at ``at``: recorded unless the library has it already (as many times as the file has it)."""
        at = at if timezone.is_aware(at) else timezone.make_aware(at, UTC)
        key = (movie.pk, at)
        self._viewings_read[key] += 1
        if self._viewings_read[key] <= self.viewings[key]:
            return UNCHANGED
        services.watch_event_create(user=self.user, movie=movie, watched_at=at)
        self.viewings[key] += 1
        return CREATED

    def profile(self, *, display_name: str | None, bio: str | None, favorite_genres: list[str] | None) -> str:
        """The profile's display name, bio and favorite genres, where given."""
        before = self._profile_state()
        services.user_profile_update(
            user=self.user, display_name=display_name, bio=bio, favorite_genres=favorite_genres
        )
        return UNCHANGED if self._profile_state() == before else UPDATED

    def _profile_state(self) -> tuple:
        genres = frozenset(self.user.favorite_genres.values_list("pk", flat=True))
        return self.user.display_name, self.user.bio, genres

    def _entry(self, model, held: set[int], add, movie: Movie, at: datetime | None) -> str:
        if movie.pk in held:
            return UNCHANGED
        entry = add(user=self.user, movie=movie)
        held.add(movie.pk)
        if at is not None:
            model.objects.filter(pk=entry.pk).update(created_at=at)
        return CREATED


# --- Export -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryEntry:
    """One entry of an exported library: the movie, and the score (ratings) and date it has."""

    movie: Movie
    at: datetime
    score: Decimal | None = None
    changed_at: datetime | None = None  # ratings: when the score last changed


@dataclass(frozen=True)
class LibrarySnapshot:
    """Everything a user's library holds, oldest entries first: what an export writes."""

    user: User
    favorite_genres: list[str]
    ratings: list[LibraryEntry]
    favorites: list[LibraryEntry]
    watchlist: list[LibraryEntry]
    history: list[LibraryEntry]
    hidden: list[LibraryEntry]
    lists: list[ListSnapshot]  # the custom lists, oldest first, each with its movies in order


def library_snapshot(*, user: User) -> LibrarySnapshot:
    """The user's whole library, each part in one query (with its movies), oldest first."""

    def entries(model, date_field: str, *, scored: bool = False) -> list[LibraryEntry]:
        rows = model.objects.filter(user=user).select_related("movie").order_by(date_field, "id")
        return [
            LibraryEntry(
                movie=row.movie,
                at=getattr(row, date_field),
                score=row.score if scored else None,
                changed_at=row.updated_at if scored else None,
            )
            for row in rows
        ]

    return LibrarySnapshot(
        user=user,
        favorite_genres=sorted(user.favorite_genres.values_list("name", flat=True)),
        ratings=entries(Rating, "created_at", scored=True),
        favorites=entries(Favorite, "created_at"),
        watchlist=entries(WatchlistItem, "created_at"),
        history=entries(WatchEvent, "watched_at"),
        hidden=entries(HiddenMovie, "created_at"),
        lists=custom_lists_snapshot(user=user),
    )
