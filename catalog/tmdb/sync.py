"""The TMDb sync: movies' details from TMDb's API written into the catalog, one movie per transaction.

A run is a list of TMDb ids (given, every movie with one, new releases, or what changed since the last changes
sync), stored before the first fetch with a position that moves forward in the same transaction as each movie's
write: a run that crashes resumes where it stopped (the next run finishes it first), and nothing of a movie is
ever half-written. Writing the same details again changes nothing and bumps nothing; a movie whose shown data
changed bumps the catalog version (what keys every cached answer showing movies, ``catalog.cache``) once its
transaction commits. A movie TMDb does not have (404), or whose details are malformed, is counted and skipped.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Credit, Genre, Keyword, Movie, Person, TmdbSyncState
from catalog.tmdb.client import TmdbClient, TmdbError, TmdbNotFound, tmdb_client, tmdb_enabled
from catalog.tmdb.details import MovieDetails, PersonCredit, changed_ids, movie_details, new_release_ids
from catalog.tmdb.images import image_configuration_age_seconds, image_configuration_store
from nexus.versions import rows_changed

logger = logging.getLogger(__name__)

RUN, POSITION, CHANGES_SINCE = "run", "run-position", "changes-since"
# Movies that come from TMDb alone get a MovieLens id of their own from here on: TMDb id + this.
NEW_MOVIE_ID_BASE = 1_000_000_000
# TMDb answers /movie/changes for at most 14 days at a time.
CHANGES_MAX_DAYS = 14
CONFIGURATION_MAX_AGE_SECONDS = 24 * 3600
NEW_RELEASE_LISTS = ("now_playing", "upcoming")


@dataclass
class SyncSummary:
    kind: str
    movies: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    not_found: int = 0
    malformed: int = 0
    resumed: int = 0
    requests: int = 0
    not_found_ids: list[int] = field(default_factory=list)


Progress = Callable[[int, int, int], None]  # (done, total, tmdb id)


def sync_ids(client: TmdbClient, tmdb_ids: list[int] | None = None, *, progress: Progress | None = None) -> SyncSummary:
    """Sync these movies (all the catalog's movies with a TMDb id by default); none is created."""
    if tmdb_ids is None:
        tmdb_ids = sorted(set(Movie.objects.exclude(tmdb_id=None).values_list("tmdb_id", flat=True)))
    return _run(client, "ids", [[tmdb_id, False] for tmdb_id in dict.fromkeys(tmdb_ids)], progress)


def sync_new(client: TmdbClient, *, progress: Progress | None = None, max_pages: int = 5) -> SyncSummary:
    """Movies now playing or upcoming: new ones are added to the catalog, known ones refreshed."""
    wanted: dict[int, None] = {}
    for which in NEW_RELEASE_LISTS:
        page, pages = 1, 1
        while page <= min(pages, max_pages):
            ids, pages = new_release_ids(client.movie_list_page(which, page))
            wanted.update(dict.fromkeys(ids))
            page += 1
    return _run(client, "new", [[tmdb_id, True] for tmdb_id in wanted], progress)


def sync_changes(client: TmdbClient, *, progress: Progress | None = None, today: date | None = None) -> SyncSummary:
    """The catalog's movies TMDb changed since the last changes sync (the last day when there was none)."""
    today = today or timezone.now().date()
    stored = TmdbSyncState.objects.filter(name=CHANGES_SINCE).values_list("value", flat=True).first()
    since = date.fromisoformat(stored["date"]) if stored else today - timedelta(days=1)
    since = max(since, today - timedelta(days=CHANGES_MAX_DAYS - 1))
    changed: dict[int, None] = {}
    page, pages = 1, 1
    while page <= pages:
        ids, pages = changed_ids(client.changes_page(start=since, end=today, page=page))
        changed.update(dict.fromkeys(ids))
        page += 1
    known = set(Movie.objects.filter(tmdb_id__in=list(changed)).values_list("tmdb_id", flat=True))
    summary = _run(client, "changes", [[tmdb_id, False] for tmdb_id in changed if tmdb_id in known], progress)
    # Only a run that finished moves the start of the next one.
    TmdbSyncState.objects.update_or_create(name=CHANGES_SINCE, defaults={"value": {"date": today.isoformat()}})
    return summary


def pending_run() -> tuple[str, int, int] | None:
    """(kind, done, total) of a run that stopped before its end; None when there is none."""
    run = TmdbSyncState.objects.filter(name=RUN).values_list("value", flat=True).first()
    if not run:
        return None
    position = TmdbSyncState.objects.filter(name=POSITION).values_list("value", flat=True).first() or {}
    return run["kind"], position.get("next", 0), len(run["items"])


def configuration_refresh(client: TmdbClient, *, force: bool = False) -> None:
    """Read TMDb's /configuration (image base URL and sizes) unless the stored one is less than a day old."""
    age = image_configuration_age_seconds()
    if force or age is None or age > CONFIGURATION_MAX_AGE_SECONDS:
        image_configuration_store(client.configuration())


def _run(client: TmdbClient, kind: str, items: list[list], progress: Progress | None) -> SyncSummary:
    configuration_refresh(client)
    summary = SyncSummary(kind=kind)
    interrupted = TmdbSyncState.objects.filter(name=RUN).values_list("value", flat=True).first()
    if interrupted:
        resumed = _continue(client, interrupted["items"], SyncSummary(kind=interrupted["kind"]), progress)
        summary.resumed = resumed.movies
        summary.requests += resumed.requests
    with transaction.atomic():
        TmdbSyncState.objects.update_or_create(name=RUN, defaults={"value": {"kind": kind, "items": items}})
        TmdbSyncState.objects.update_or_create(name=POSITION, defaults={"value": {"next": 0}})
    finished = _continue(client, items, summary, progress)
    finished.requests = client.requests_made
    return finished


def _continue(client: TmdbClient, items: list[list], summary: SyncSummary, progress: Progress | None) -> SyncSummary:
    """Sync the stored run's items from its position on; the run is forgotten once done. A failure (other than a
    404) stops the run where it is, to be resumed."""
    start = (TmdbSyncState.objects.filter(name=POSITION).values_list("value", flat=True).first() or {}).get("next", 0)
    for index in range(start, len(items)):
        tmdb_id, create = items[index]
        try:
            body = client.movie(tmdb_id)  # a failure other than a 404 stops the run here, to be resumed
        except TmdbNotFound:
            body = None
        try:
            details = movie_details(body, country=settings.TMDB_CERTIFICATION_COUNTRY) if body else None
        except TmdbError as error:  # a malformed answer would fail again: skipped, so that the run goes on
            logger.warning("TMDb movie %s skipped: %s", tmdb_id, error)
            details, summary.malformed = None, summary.malformed + 1
        with transaction.atomic():
            if body is None:
                summary.not_found += 1
                summary.not_found_ids.append(tmdb_id)
            elif details is not None:
                outcome = movie_write(details, create=create)
                summary.movies += outcome != "skipped"
                summary.created += outcome == "created"
                summary.changed += outcome in ("created", "changed")
                summary.unchanged += outcome == "unchanged"
            TmdbSyncState.objects.filter(name=POSITION).update(value={"next": index + 1})
        if progress is not None:
            progress(index + 1, len(items), tmdb_id)
    TmdbSyncState.objects.filter(name__in=(RUN, POSITION)).delete()
    return summary


def movie_write(details: MovieDetails, *, create: bool = False) -> str:
    """Write one movie's details to every catalog movie with its TMDb id (adding the movie when ``create`` and
    there is none): "created", "changed", "unchanged", or "skipped" (unknown and not to be created). Call it in
    a transaction: the movie, its keywords and its credits are written together or not at all."""
    movies = list(Movie.objects.filter(tmdb_id=details.tmdb_id).select_for_update().order_by("pk"))
    outcome = "unchanged"
    if not movies:
        if not create:
            return "skipped"
        movies = [_movie_create(details)]
        outcome = "created"
    changed = False
    fields = details.movie_fields()
    for movie in movies:
        updated = [name for name, value in fields.items() if getattr(movie, name) != value]
        for name in updated:
            setattr(movie, name, fields[name])
        related = _keywords_write(movie, details.keywords)
        related = _credits_write(movie, details) or related
        if updated or related:  # an unchanged movie is not written at all: it bumps nothing
            movie.tmdb_synced_at = timezone.now()
            movie.save(update_fields=[*updated, "tmdb_synced_at"])
            changed = True
    if changed or outcome == "created":
        rows_changed(Movie, movies)
        return outcome if outcome == "created" else "changed"
    return outcome


def _movie_create(details: MovieDetails) -> Movie:
    movie = Movie.objects.create(
        movielens_id=NEW_MOVIE_ID_BASE + details.tmdb_id,
        tmdb_id=details.tmdb_id,
        imdb_id=details.imdb_id,
        title=details.title or f"TMDb {details.tmdb_id}",
        year=details.release_date.year if details.release_date else None,
        release_date=details.release_date,
    )
    movie.genres.set(Genre.objects.filter(name__in=details.genres))
    return movie


def _keywords_write(movie: Movie, names: tuple[str, ...]) -> bool:
    wanted = set(names)
    current = set(movie.keywords.values_list("name", flat=True))
    if wanted == current:
        return False
    Keyword.objects.bulk_create([Keyword(name=name) for name in sorted(wanted - current)], ignore_conflicts=True)
    movie.keywords.set(Keyword.objects.filter(name__in=wanted))
    return True


def _credits_write(movie: Movie, details: MovieDetails) -> bool:
    people = {person.tmdb_id: person for person in (*details.cast, *details.directors)}
    persons = _persons_write(list(people.values()))
    wanted = [
        (persons[credit.tmdb_id], Credit.Kind.CAST, credit.character, order)
        for order, credit in enumerate(details.cast)
    ] + [(persons[credit.tmdb_id], Credit.Kind.DIRECTOR, "", order) for order, credit in enumerate(details.directors)]
    current = list(movie.credits.order_by("kind", "order").values_list("person_id", "kind", "character", "order"))
    if sorted(current, key=lambda row: (row[1], row[3])) == sorted(wanted, key=lambda row: (row[1], row[3])):
        return False
    movie.credits.all().delete()
    Credit.objects.bulk_create(
        [
            Credit(movie=movie, person_id=person_id, kind=kind, character=character, order=order)
            for person_id, kind, character, order in wanted
        ]
    )
    return True


def _persons_write(credits: list[PersonCredit]) -> dict[int, int]:
    """Person ids by TMDb id: new people added, changed names or pictures updated."""
    known = {person.tmdb_id: person for person in Person.objects.filter(tmdb_id__in=[c.tmdb_id for c in credits])}
    Person.objects.bulk_create(
        [
            Person(tmdb_id=c.tmdb_id, name=c.name, profile_path=c.profile_path)
            for c in credits
            if c.tmdb_id not in known
        ],
        ignore_conflicts=True,
    )
    changed = []
    for credit in credits:
        person = known.get(credit.tmdb_id)
        if person is not None and (person.name, person.profile_path) != (credit.name, credit.profile_path):
            person.name, person.profile_path = credit.name, credit.profile_path
            changed.append(person)
    if changed:
        Person.objects.bulk_update(changed, ["name", "profile_path"])
        rows_changed(Person, changed)
    return dict(Person.objects.filter(tmdb_id__in=[c.tmdb_id for c in credits]).values_list("tmdb_id", "pk"))


def sync_nightly() -> list[SyncSummary] | None:
    """What the nightly task runs: what changed since the last sync, then new releases; None when the sync is
    off (no TMDb key)."""
    if not tmdb_enabled():
        logger.info("TMDb sync is off: set TMDB_API_KEY or TMDB_READ_ACCESS_TOKEN.")
        return None
    client = tmdb_client()
    return [sync_changes(client), sync_new(client)]
