import time

from django.core.management.base import BaseCommand, CommandError

from datasets import DatasetError
from recommender.onboarding_evaluation import markdown_table, run_onboarding_evaluation


class Command(BaseCommand):
    help = (
        "What onboarding is worth, on a MovieLens release: held-out users rate (with their real ratings, where they "
        "have them) 10 onboarding movies, 10 most popular or 10 random ones; the production recommender folds "
        'them in, and its top k is scored on the rest of their ratings (docs/recommender.md, "Onboarding").'
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Folder or zip of a MovieLens release.")
        parser.add_argument("--seed", type=int, default=42, help="Seed of the held-out users (default: 42).")
        parser.add_argument("--asked", type=int, default=10, help="Movies shown to rate (default: 10).")
        parser.add_argument("--k", type=int, default=10, help="Length of the ranked lists (default: 10).")

    def handle(self, *args, dataset, seed, asked, k, **options):
        if k < 1 or asked < 1:
            raise CommandError("--k and --asked must be at least 1")
        started = time.monotonic()
        try:
            results = run_onboarding_evaluation(dataset, asked=asked, k=k, seed=seed)
        except DatasetError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(markdown_table(results, k=k))
        self.stdout.write(f"Seed {seed}; {time.monotonic() - started:.1f} s.")
