"""PostgreSQL-only search support: pg_trgm for typo-tolerant title search, a GIN full-text index.

On SQLite (the embedded default) this migration does nothing: search falls back to a plain substring match.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS catalog_movie_title_trgm ON catalog_movie USING gin (title gin_trgm_ops)",
    # The expression is exactly the one Django's SearchVector("title", "overview", config="english") writes,
    # so that the planner can use this index for catalog.selectors' full-text match.
    "CREATE INDEX IF NOT EXISTS catalog_movie_fulltext ON catalog_movie USING gin "
    "(to_tsvector('english'::regconfig, COALESCE(title, '') || ' ' || COALESCE(overview, '')))",
]
BACKWARD = [
    "DROP INDEX IF EXISTS catalog_movie_fulltext",
    "DROP INDEX IF EXISTS catalog_movie_title_trgm",
]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_initial")]

    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD))]
