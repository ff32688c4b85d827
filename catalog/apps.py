from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Movie catalog"

    def ready(self):
        from django.db.backends.signals import connection_created

        from catalog.cache import CATALOG_VERSION_KEY, catalog_rows_declare, catalog_version
        from catalog.selectors import sqlite_functions_register
        from nexus.versions import shared_version_register

        # Every cached answer may show movies: the catalog's version keys them all.
        shared_version_register("catalog", catalog_version, key=CATALOG_VERSION_KEY)
        catalog_rows_declare()
        # Search on SQLite calls pg_trgm's rules as SQL functions (catalog/trigram.py).
        connection_created.connect(sqlite_functions_register, dispatch_uid="catalog-sqlite-functions")
