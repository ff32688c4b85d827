"""manage.py sync_tmdb: movies' posters, cast, trailers, certifications and keywords from TMDb's API."""

from django.core.management.base import BaseCommand, CommandError

from catalog.tmdb.client import TmdbError, TmdbOff, tmdb_client
from catalog.tmdb.sync import SyncSummary, pending_run, sync_changes, sync_ids, sync_new


class Command(BaseCommand):
    help = (
        "Sync movies from TMDb's API (needs TMDB_API_KEY or TMDB_READ_ACCESS_TOKEN): the given TMDb ids, or every "
        "movie with one; --new adds now-playing and upcoming movies; --changes fetches what TMDb changed since the "
        "last sync. A run that stopped is resumed first; running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ids", nargs="+", type=int, metavar="TMDB_ID", help="These TMDb ids only.")
        parser.add_argument("--new", action="store_true", help="Add now-playing and upcoming movies.")
        parser.add_argument("--changes", action="store_true", help="Movies TMDb changed since the last sync.")
        parser.add_argument("--all", action="store_true", help="Every movie with a TMDb id (the default).")

    def handle(self, *args, ids=None, new=False, changes=False, all=False, verbosity=1, **options):  # noqa: A002
        if ids is not None and any(tmdb_id <= 0 for tmdb_id in ids):
            raise CommandError("--ids: TMDb ids are positive integers.")
        try:
            client = tmdb_client()
        except TmdbOff as error:
            raise CommandError(str(error)) from None
        stopped = pending_run()
        if stopped is not None:
            self.stdout.write(f"Resuming a {stopped[0]} run that stopped after {stopped[1]} of {stopped[2]} movies.")
        progress = self._progress if verbosity >= 2 else None
        runs = []
        try:
            if changes:
                runs.append(sync_changes(client, progress=progress))
            if new:
                runs.append(sync_new(client, progress=progress))
            if ids is not None or all or not (new or changes):
                runs.append(sync_ids(client, ids, progress=progress))
        except TmdbError as error:
            raise CommandError(f"TMDb sync stopped: {error}. Run it again to resume where it stopped.") from None
        for summary in runs:
            self.stdout.write(_describe(summary))

    def _progress(self, done: int, total: int, tmdb_id: int) -> None:
        if done == total or done % 100 == 0:
            self.stdout.write(f"  {done}/{total} (TMDb {tmdb_id})")


def _describe(summary: SyncSummary) -> str:
    text = (
        f"TMDb sync ({summary.kind}): {summary.movies} movies, {summary.created} added, {summary.changed} changed, "
        f"{summary.unchanged} unchanged, {summary.not_found} not on TMDb, {summary.malformed} malformed, "
        f"{summary.requests} requests"
    )
    if summary.resumed:
        text += f"; {summary.resumed} movies of a stopped run resumed first"
    if summary.not_found_ids:
        text += f" (not found: {', '.join(map(str, summary.not_found_ids[:10]))})"
    return text + "."
