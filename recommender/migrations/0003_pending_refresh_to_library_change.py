"""The outbox of refreshes moves to the library (``users.LibraryChange``): rows still pending are copied there
before the recommender's table goes, so that no refresh recorded before the upgrade is lost."""

from django.db import migrations

COPY_BATCH = 5_000


def _rows_copy(source, target) -> None:
    rows = source.objects.values_list("user_id", "token", "requested_at").iterator(chunk_size=COPY_BATCH)
    target.objects.bulk_create(
        (target(user_id=user_id, token=token, requested_at=requested_at) for user_id, token, requested_at in rows),
        batch_size=COPY_BATCH,
        ignore_conflicts=True,
    )


def pending_refreshes_to_library_changes(apps, schema_editor):
    _rows_copy(apps.get_model("recommender", "PendingRefresh"), apps.get_model("users", "LibraryChange"))


def library_changes_to_pending_refreshes(apps, schema_editor):
    _rows_copy(apps.get_model("users", "LibraryChange"), apps.get_model("recommender", "PendingRefresh"))


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0002_pending_refresh_and_attempts"),
        ("users", "0003_library_change"),
    ]

    operations = [
        migrations.RunPython(pending_refreshes_to_library_changes, library_changes_to_pending_refreshes),
        migrations.DeleteModel(name="PendingRefresh"),
    ]
