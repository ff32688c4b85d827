from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datasets import DatasetError
from nexus.progress import Progress
from recommender.evaluation import SPLITS
from recommender.evaluation_report import markdown_summary, markdown_table, write_reports
from recommender.strategies import Strategy
from recommender.strategy_evaluation import evaluate_strategies, strategy_table, write_strategy_report
from recommender.tuning import run_evaluations


class Command(BaseCommand):
    help = (
        "Offline evaluation on a MovieLens release (folder or zip, any layout): per-user 80/20 split (a seeded "
        "random fifth of each user's ratings, or with --split temporal each user's newest fifth), "
        "hyper-parameters tuned on a validation split carved from the training data, then precision, recall, "
        "nDCG and MAP at k plus catalog coverage, genre diversity and novelty for every algorithm on the test "
        "split. Writes evaluation.md, evaluation.json and evaluation.png (several splits or seeds: one folder "
        "each, and summary.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Folder or zip of a MovieLens release.")
        parser.add_argument(
            "--out",
            default=str(settings.VAR_DIR / "evaluation"),
            help="Where to write the report (default: var/evaluation/).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            nargs="+",
            default=[42],
            help="Seed(s) of the splits (default: 42); several run in one process, e.g. --seed 42 1 7.",
        )
        parser.add_argument(
            "--split",
            choices=[*SPLITS, "both"],
            default="random",
            help="random: a seeded random fifth of each user's ratings is held out (default); temporal: each "
            "user's newest fifth; both: one after the other.",
        )
        parser.add_argument("--k", type=int, default=10, help="Length of the ranked lists (default: 10).")
        parser.add_argument(
            "--strategy",
            action="append",
            choices=[*(strategy.value for strategy in Strategy), "all"],
            help="Measure these recommendation strategies (repeatable; 'all') on the production model instead of "
            "the whole protocol: nDCG, coverage, novelty, diversity and the score curves. Writes strategies.json.",
        )

    def handle(self, *args, dataset, out, seed, split, k, verbosity, strategy=None, **options):
        if k < 1:
            raise CommandError("--k must be at least 1")
        seeds = list(dict.fromkeys(seed if isinstance(seed, list | tuple) else [seed]))
        if strategy:
            for one_seed in seeds:
                self._strategies(dataset, out, one_seed, k, strategy)
            return
        splits = list(SPLITS) if split == "both" else [split]
        steps = 4 * len(seeds) * len(splits)
        try:
            with Progress("evaluation", total=steps, unit="steps", enabled=verbosity > 0) as progress:
                reports = run_evaluations(
                    dataset, k=k, seeds=seeds, splits=splits, on_step=lambda step: progress.update(step=step)
                )
        except DatasetError as error:
            raise CommandError(str(error)) from error
        paths = write_reports(reports, out)
        if verbosity > 0:
            for report in reports:
                self.stdout.write(f"\n{report.split} split, seed {report.seed}:\n{markdown_table(report)}")
            if len(reports) > 1:
                self.stdout.write(f"\nProduction line:\n{markdown_summary(reports)}")
            seconds = sum(report.seconds for report in reports)
            self.stdout.write(
                f"Production model: {reports[0].production}. Wrote {len(paths)} files to {out} in {seconds:.1f} s."
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
