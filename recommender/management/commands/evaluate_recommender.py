from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datasets import DatasetError
from nexus.progress import Progress
from recommender.evaluation import markdown_table, run_evaluation, write_report


class Command(BaseCommand):
    help = (
        "Offline evaluation on a MovieLens release (folder or zip, any layout): seeded per-user 80/20 split, "
        "hyper-parameters tuned on a validation split carved from the training data, then precision, recall, "
        "nDCG and MAP at k plus catalog coverage for every algorithm on the test split. Writes evaluation.md, "
        "evaluation.json and evaluation.png."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Folder or zip of a MovieLens release.")
        parser.add_argument(
            "--out",
            default=str(settings.VAR_DIR / "evaluation"),
            help="Where to write the report (default: var/evaluation/).",
        )
        parser.add_argument("--seed", type=int, default=42, help="Seed of the random splits (default: 42).")
        parser.add_argument("--k", type=int, default=10, help="Length of the ranked lists (default: 10).")

    def handle(self, *args, dataset, out, seed, k, verbosity, **options):
        if k < 1:
            raise CommandError("--k must be at least 1")
        try:
            with Progress("evaluation", total=4, unit="steps", enabled=verbosity > 0) as progress:
                report = run_evaluation(dataset, k=k, seed=seed, on_step=lambda step: progress.update(step=step))
        except DatasetError as error:
            raise CommandError(str(error)) from error
        paths = write_report(report, out)
        if verbosity > 0:
            self.stdout.write(markdown_table(report))
            self.stdout.write(
                f"Production model: {report.production}. Wrote {', '.join(map(str, paths))} in {report.seconds:.1f} s."
            )
