from django.contrib import admin

from recommender.models import ModelRun


@admin.register(ModelRun)
class ModelRunAdmin(admin.ModelAdmin):
    """Training runs, read-only: they are records of what happened (retrain with train_recommender or the
    retrainRecommender mutation)."""

    list_display = (
        "created_at",
        "version",
        "status",
        "triggered_by",
        "algorithm",
        "n_users",
        "n_items",
        "n_interactions",
        "total_seconds",
        "finished_at",
    )
    list_filter = ("status", "algorithm", "triggered_by")
    search_fields = ("version", "error")
    date_hierarchy = "created_at"
    list_select_related = ("requested_by",)
    fields = (
        "version",
        "status",
        "triggered_by",
        "requested_by",
        "algorithm",
        "parameters",
        ("n_users", "n_items", "n_interactions"),
        "timings",
        "metrics",
        "error",
        ("created_at", "started_at", "finished_at"),
    )

    @admin.display(description="seconds")
    def total_seconds(self, run: ModelRun):
        return run.timings.get("total")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
