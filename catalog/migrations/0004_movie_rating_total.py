"""The sum of each movie's scores, so that a rating updates the statistics in O(1) (users.statistics)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_postgres_search")]

    operations = [
        migrations.AddField(
            model_name="movie",
            name="rating_total",
            field=models.FloatField(default=0, help_text="Sum of the scores (half stars add up exactly)."),
        ),
        # Scores are half stars, so count × mean rounded to a half is the sum; the periodic recomputation
        # (users.tasks.movie_statistics_repair) makes it exact from the ratings either way.
        migrations.RunSQL(
            "UPDATE catalog_movie SET rating_total = ROUND(COALESCE(rating_mean, 0) * rating_count * 2) / 2",
            migrations.RunSQL.noop,
        ),
    ]
