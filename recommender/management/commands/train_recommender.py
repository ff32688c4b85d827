import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from nexus.database import statement_timeout_lifted
from recommender.models import ModelRun
from recommender.training import NothingToTrainOn, recommender_train

# How often the command looks at a fanned-out run while the workers precompute it.
POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = (
        "Train the recommender on everything in the database now (in this process, not in a worker), write "
        "every user's top 100, every movie's similar movies and the trending lists under a new version, and "
        "switch readers to it. With --shards N the lists are precomputed by the Celery workers instead, N shards "
        "of users (the precompute queue), and the command waits until the run has switched or failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--shards",
            type=int,
            default=0,
            help="Fan the lists out to the workers as this many precompute shards (without a broker: in turn here).",
        )
        parser.add_argument(
            "--timeout", type=float, default=3600, help="Seconds to wait for the workers' shards (with --shards)."
        )

    @statement_timeout_lifted()  # statements over whole tables run for minutes
    def handle(self, *args, verbosity, shards, timeout, **options):
        if shards < 0:
            raise CommandError("--shards must be a positive number of shards.")
        if shards and not settings.CELERY_TASK_ALWAYS_EAGER and not settings.CELERY_RESULT_BACKEND:
            raise CommandError("--shards needs Redis (REDIS_URL): the shards' chord keeps its count there.")
        try:
            run = recommender_train(triggered_by=ModelRun.Trigger.COMMAND, show_progress=verbosity > 0, shards=shards)
        except NothingToTrainOn as error:
            raise CommandError(str(error)) from error
        run = self._finished(run, timeout=timeout)
        if run.status != ModelRun.Status.SUCCEEDED:
            raise CommandError(f"Training {run.version} failed: {run.error}")
        if verbosity > 0:
            timings = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in run.timings.items())
            metrics = ", ".join(f"{name} {value}" for name, value in run.metrics.items())
            self.stdout.write(
                f"Trained version {run.version} ({run.algorithm} in the hybrid) on {run.n_users:,} users, "
                f"{run.n_items:,} movies and {run.n_interactions:,} interactions.\n"
                f"Timings: {timings}.\nLists: {metrics}."
            )

    def _finished(self, run: ModelRun, *, timeout: float) -> ModelRun:
        """The run once the workers' shards and the chord's callback have finished it (at once in one process)."""
        deadline = time.monotonic() + timeout
        while run.status == ModelRun.Status.RUNNING:
            if time.monotonic() > deadline:
                raise CommandError(f"Training {run.version}: the shards did not finish within {timeout:g} s.")
            time.sleep(POLL_SECONDS)
            run.refresh_from_db()
        return run
