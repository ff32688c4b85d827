from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datasets import DatasetError
from datasets.download import MOVIELENS_RELEASES, DownloadError, movielens_download
from importers.movielens import movielens_import
from nexus.database import statement_timeout_lifted
from recommender.models import ModelRun
from recommender.training import recommender_training_enqueue


class Command(BaseCommand):
    help = (
        "Load a MovieLens release (a folder or zip of ml-latest(-small), ml-20m, ml-25m, ml-100k, ml-1m or "
        "ml-10m) with its movies, genres, links, tags, users and ratings. Importing it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "path", nargs="?", help="Folder or zip of the release (default: the NEXUS_MOVIELENS setting)."
        )
        parser.add_argument(
            "--download",
            choices=MOVIELENS_RELEASES,
            metavar="NAME",
            help=f"Fetch the release from GroupLens (MD5-checked, cached): {', '.join(MOVIELENS_RELEASES)}",
        )
        parser.add_argument(
            "--no-train", action="store_true", help="Do not queue a recommender training after the import."
        )

    @statement_timeout_lifted()  # statements over whole tables run for minutes
    def handle(self, *args, path, download, no_train, verbosity, **options):
        if path and download:
            raise CommandError("pass either PATH or --download NAME, not both")
        try:
            if download:
                path = movielens_download(name=download)
            path = path or settings.NEXUS_MOVIELENS
            if not path:
                raise CommandError(
                    "no MovieLens release given: pass a folder or zip (e.g. ml-latest-small/), "
                    "set NEXUS_MOVIELENS, or use --download ml-latest-small"
                )
            summary = movielens_import(path=str(path), show_progress=verbosity > 0)
        except (DatasetError, DownloadError) as error:
            raise CommandError(str(error)) from error
        if verbosity > 0:
            self.stdout.write(
                f"Imported {summary.layout} release: {summary.movies:,} movies, {summary.users:,} users, "
                f"{summary.ratings:,} ratings, {summary.tags:,} tags in {summary.seconds:.1f} s."
            )
        if not no_train:
            recommender_training_enqueue(triggered_by=ModelRun.Trigger.IMPORT)
