from django.core.management.base import BaseCommand, CommandError

from nexus.database import statement_timeout_lifted
from recommender.models import ModelRun
from recommender.training import NothingToTrainOn, recommender_train


class Command(BaseCommand):
    help = (
        "Train the recommender on everything in the database now (in this process, not in a worker), write "
        "every user's top 100, every movie's similar movies and the trending lists under a new version, and "
        "switch readers to it."
    )

    @statement_timeout_lifted()  # statements over whole tables run for minutes
    def handle(self, *args, verbosity, **options):
        try:
            run = recommender_train(triggered_by=ModelRun.Trigger.COMMAND, show_progress=verbosity > 0)
        except NothingToTrainOn as error:
            raise CommandError(str(error)) from error
        if verbosity > 0:
            timings = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in run.timings.items())
            metrics = ", ".join(f"{name} {value}" for name, value in run.metrics.items())
            self.stdout.write(
                f"Trained version {run.version} ({run.algorithm} in the hybrid) on {run.n_users:,} users, "
                f"{run.n_items:,} movies and {run.n_interactions:,} interactions.\n"
                f"Timings: {timings}.\nLists: {metrics}."
            )
