"""The catalog's data version (``nexus.versions``), that every cached catalog response and movie card
(catalog/cards.py) is keyed by.

Anything that changes what catalog queries return bumps it once its transaction commits, by saying which catalog
rows it changed (``nexus.versions.rows_changed``): rating statistics that changed (``movie_stats_refresh``), every
MovieLens import, a TMDb import that changed movies, and admin edits of movies and genres.
"""

from nexus.versions import recently_read, rows_shown_by, version_bump, version_bump_now, versions_get

CATALOG_VERSION_KEY = "catalog:version"


def catalog_version() -> int | None:
    """The current version (this process' copy of it, up to ``NEXUS_SHARED_VERSION_SECONDS`` old), or None when
    the cache cannot be reached (callers then neither read nor write it)."""
    return recently_read(CATALOG_VERSION_KEY, _catalog_version_read)


def _catalog_version_read() -> int | None:
    versions = versions_get([CATALOG_VERSION_KEY])
    return versions[0] if versions is not None else None


def catalog_version_bump() -> None:
    """Bump the version after the current transaction commits (at once outside one)."""
    version_bump(CATALOG_VERSION_KEY)


def catalog_version_bump_now() -> None:
    """Bump the version at once: what ``catalog_version_bump`` runs when the transaction commits."""
    version_bump_now(CATALOG_VERSION_KEY)


def catalog_rows_declare() -> None:
    """Every catalog row may show in any cached answer (lists, cards, similar movies, keywords and tags): all key
    on one version."""
    from catalog.models import Credit, Genre, Keyword, Movie, Person, Tag, TmdbSyncState

    for model in (Movie, Genre, Keyword, Tag, Person, Credit, Movie.genres.through, Movie.keywords.through):
        rows_shown_by(model, lambda rows: {CATALOG_VERSION_KEY})
    rows_shown_by(TmdbSyncState, None)  # sync_tmdb's bookkeeping: no answer shows it
