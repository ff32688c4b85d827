from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datasets import DatasetError
from nexus.progress import Progress
from recommender.evaluation import markdown_table, run_evaluation, write_report
from recommender.strategies import Strategy
from recommender.strategy_evaluation import evaluate_strategies, strategy_table, write_strategy_report


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
        parser.add_argument(
            "--strategy",
            action="append",
            choices=[*(strategy.value for strategy in Strategy), "all"],
            help="Measure these recommendation strategies (repeatable; 'all') on the production model instead of "
            "the whole protocol: nDCG, coverage, novelty, diversity and the score curves. Writes strategies.json.",
        )

    def handle(self, *args, dataset, out, seed, k, verbosity, strategy=None, **options):
        if k < 1:
            raise CommandError("--k must be at least 1")
        if strategy:
            return self._strategies(dataset, out, seed, k, strategy)
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

    def _strategies(self, dataset, out, seed, k, names):
        strategies = list(Strategy) if "all" in names else [Strategy(name) for name in dict.fromkeys(names)]
        try:
            header, results = evaluate_strategies(dataset, strategies=strategies, k=k, seed=seed)
        except DatasetError as error:
            raise CommandError(str(error)) from error
        path = write_strategy_report(header, results, out)
        self.stdout.write(strategy_table(results, k))
        self.stdout.write(f"Wrote {path} in {header['seconds']:.1f} s.")
