import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import users.models


def username_keys_fill(apps, schema_editor):
    """Every existing account gets its key; two accounts that only the new matching calls one name cannot both
    keep theirs, and staff must rename one of them first."""
    User = apps.get_model("users", "User")
    owners: dict[str, str] = {}
    batch = []
    for user in User.objects.only("pk", "username").order_by("pk").iterator(chunk_size=5000):
        user.username_key = users.models.username_key(user.username)
        if user.username_key in owners:
            raise RuntimeError(
                f"The accounts {owners[user.username_key]!r} and {user.username!r} are one name to logins now: "
                "rename one of them, then migrate again."
            )
        owners[user.username_key] = user.username
        batch.append(user)
        if len(batch) == 5000:
            User.objects.bulk_update(batch, ["username_key"])
            batch = []
    User.objects.bulk_update(batch, ["username_key"])


def refresh_token_families_create(apps, schema_editor):
    """Each refresh token still in use starts a family of its own: the sessions open now stay open."""
    RefreshToken = apps.get_model("refresh_token", "RefreshToken")
    Family = apps.get_model("users", "RefreshTokenFamily")
    Member = apps.get_model("users", "RefreshTokenFamilyMember")
    for token in RefreshToken.objects.filter(revoked__isnull=True).only("pk", "user_id").iterator(chunk_size=5000):
        family = Family.objects.create(user_id=token.user_id)
        Member.objects.create(token_id=token.pk, family=family)


class Migration(migrations.Migration):
    dependencies = [
        ("refresh_token", "0002_auto_20190130_0900"),
        ("users", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="username_key",
            field=models.TextField(editable=False, null=True),
        ),
        migrations.RunPython(username_keys_fill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="user",
            name="username_key",
            field=users.models.UsernameKeyField(
                editable=False, help_text="The username as logins match it.", unique=True
            ),
        ),
        migrations.CreateModel(
            name="RefreshTokenFamily",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("revoked", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={"verbose_name_plural": "refresh token families"},
        ),
        migrations.CreateModel(
            name="RefreshTokenFamilyMember",
            fields=[
                (
                    "token",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="family_membership",
                        serialize=False,
                        to="refresh_token.refreshtoken",
                    ),
                ),
                (
                    "family",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="members",
                        to="users.refreshtokenfamily",
                    ),
                ),
            ],
        ),
        migrations.RunPython(refresh_token_families_create, migrations.RunPython.noop, elidable=True),
    ]
