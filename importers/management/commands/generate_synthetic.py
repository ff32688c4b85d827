import tempfile
import time
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from datasets.synthetic import PRESETS, SyntheticSize, synthetic_dataset_write, validate_size
from nexus.progress import Progress


class Command(BaseCommand):
    help = (
        "Generate a MovieLens-shaped synthetic dataset (ml-latest CSV layout: movies.csv, ratings.csv, links.csv) "
        "with power-law popularity and activity, at any size; --load imports it like a MovieLens release."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--size",
            choices=sorted(PRESETS),
            help="A preset: small = ml-latest-small (610 users, 9,742 movies, 100,836 ratings), "
            "1m = ML-1M (6,040 / 3,706 / 1,000,209), 20m = ML-20M (138,493 / 27,278 / 20,000,263).",
        )
        parser.add_argument("--users", type=int, help="Number of users (overrides the preset's).")
        parser.add_argument("--movies", type=int, help="Number of movies (overrides the preset's).")
        parser.add_argument("--ratings", type=int, help="Number of ratings (overrides the preset's).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed: the same seed gives the same files.")
        parser.add_argument(
            "--out", help="Folder to write into (default: a new temporary folder, kept after the command)."
        )
        parser.add_argument(
            "--load", action="store_true", help="Import the dataset with import_movielens (no training queued)."
        )

    def handle(self, *args, size, users, movies, ratings, seed, out, load, verbosity, **options):
        preset = PRESETS[size] if size else None
        chosen = SyntheticSize(
            users=users or (preset.users if preset else 0),
            movies=movies or (preset.movies if preset else 0),
            ratings=ratings or (preset.ratings if preset else 0),
        )
        if not (chosen.users and chosen.movies and chosen.ratings):
            raise CommandError("give --size, or all of --users, --movies and --ratings")
        try:
            validate_size(chosen)
        except ValueError as error:
            raise CommandError(str(error)) from error
        out_dir = Path(out) if out else Path(tempfile.mkdtemp(prefix="nexus-synthetic-"))

        started = time.monotonic()
        with Progress("synthetic ratings", total=chosen.ratings, unit="ratings", enabled=verbosity > 0) as progress:
            summary = synthetic_dataset_write(size=chosen, out_dir=out_dir, seed=seed, on_ratings=progress.update)
        if verbosity > 0:
            self.stdout.write(
                f"Wrote {summary.users:,} users, {summary.movies:,} movies and {summary.ratings:,} ratings "
                f"to {summary.path} in {time.monotonic() - started:.1f} s."
            )
        if load:
            call_command("import_movielens", str(out_dir), "--no-train", verbosity=verbosity)
