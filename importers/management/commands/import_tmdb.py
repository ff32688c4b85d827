from django.core.management.base import BaseCommand, CommandError

from datasets import DatasetError
from importers.tmdb import tmdb_import


class Command(BaseCommand):
    help = (
        "Enrich movies with TMDb metadata (overview, runtime, release date, language, popularity, votes, "
        "keywords) from the TMDB 5000 CSV, matched by TMDb id. Importing it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="tmdb_5000_movies.csv")

    def handle(self, *args, path, verbosity, **options):
        try:
            summary = tmdb_import(path=path)
        except DatasetError as error:
            raise CommandError(str(error)) from error
        if verbosity > 0:
            self.stdout.write(
                f"Enriched {summary.movies_enriched:,} movies from {summary.matched_rows:,} of "
                f"{summary.rows:,} TMDb rows ({summary.unmatched_rows:,} matched no movie), "
                f"with {summary.keywords:,} keywords, in {summary.seconds:.1f} s."
            )
