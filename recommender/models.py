from django.conf import settings
from django.db import models


class ModelRun(models.Model):
    """One training of the recommender: what was trained on what, how long each step took, and how it ended.

    A run is ``queued`` from the moment a retrain is requested until a worker starts it, and gets its
    ``version`` when it starts: the score store keeps its lists under that name.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        COMMAND = "command", "the train_recommender command"
        IMPORT = "import", "a MovieLens import"
        SCHEDULE = "schedule", "the nightly schedule"
        STAFF = "staff", "a staff request"

    version = models.CharField(max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    triggered_by = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    algorithm = models.CharField(max_length=32, blank=True, help_text="The collaborative model the hybrid blends.")
    parameters = models.JSONField(default=dict, blank=True)
    n_users = models.PositiveIntegerField(default=0)
    n_items = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveIntegerField(default=0)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per pipeline step.")
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Deliveries of its task that started it (more than one: a worker died running it)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.version or f'run {self.pk}'} ({self.status})"
