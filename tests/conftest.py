"""Shared test fixtures.

The test database is loaded once per session with the real MovieLens ml-latest-small release and the TMDB 5000
metadata from ``NEXUS_DATA_DIR`` (``.ci/run`` sets it to ``../shared/data``). Each test then runs inside a
transaction that is rolled back, so tests see the real catalog and never each other's writes.

Under CI (``CI=true``) nothing may be skipped: a missing dataset or service is a failure there.
"""

import json
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.management import call_command

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, reason: str) -> None:
    """Skip the calling test when ``condition`` is false, except under CI, where it fails instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if IN_CI and skipped and session.exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"CI: {skipped} test(s) skipped; under CI every test must run.", red=True)


def data_dir() -> Path | None:
    value = os.environ.get("NEXUS_DATA_DIR")
    return Path(value).resolve() if value else None


def movielens_small_dir() -> Path | None:
    base = data_dir()
    path = base / "movielens" / "ml-latest-small" if base else None
    return path if path and (path / "ratings.csv").exists() else None


def tmdb_csv() -> Path | None:
    base = data_dir()
    path = base / "tmdb" / "tmdb_5000_movies.csv" if base else None
    return path if path and path.exists() else None


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the real datasets once into the test database (when they are available)."""
    ml_dir, tmdb = movielens_small_dir(), tmdb_csv()
    if ml_dir is None:
        return
    with django_db_blocker.unblock():
        call_command("import_movielens", str(ml_dir), "--no-train", verbosity=0)
        if tmdb is not None:
            call_command("import_tmdb", str(tmdb), verbosity=0)


@pytest.fixture
def movielens(db):
    """The database with ml-latest-small (and TMDb metadata) loaded; skips/fails when the data is missing."""
    need(movielens_small_dir() is not None, "NEXUS_DATA_DIR must point at shared/data with ml-latest-small")
    need(tmdb_csv() is not None, "NEXUS_DATA_DIR must hold tmdb/tmdb_5000_movies.csv")


@pytest.fixture
def postgres(db):
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture
def redis_cache():
    need(bool(settings.REDIS_URL), "needs Redis: set REDIS_URL=redis://...")


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings):
    """Argon2 as in production, with tiny costs: a third of a second per hash adds up over a suite."""
    settings.PASSWORD_HASHERS = ["tests.users.factories.CheapArgon2PasswordHasher"]


@pytest.fixture(autouse=True)
def _shared_versions_read_every_time(settings):
    """Tests change data and read it back in one process: no per-process copies of shared versions (they have
    tests of their own, tests/nexus/test_versions.py)."""
    settings.NEXUS_SHARED_VERSION_SECONDS = 0


@pytest.fixture(autouse=True)
def _clean_cache():
    """Every test starts with empty caches, every role of them (nexus/caches.py): cached responses and documents,
    rate limits, throttles and data versions. Recommendation stores are the tests' own (tests/recommender/support.py;
    on Redis, clearing a role that shares the store's database empties it too)."""
    caches_clear()
    yield
    caches_clear()


def caches_clear() -> None:
    from nexus.versions import process_copies_forget  # imported once Django is set up
    from recommender.store import ALIAS as STORE_ALIAS

    for alias in settings.CACHES:
        if alias != STORE_ALIAS:  # on the embedded default: var/, which tests leave alone
            caches[alias].clear()
    process_copies_forget()


class GraphQLClient:
    """Sends GraphQL requests through the real HTTP stack (URLconf, middleware, view) with Django's test client."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def execute(self, query: str, variables: dict | None = None, *, token: str | None = None, **headers):
        token = token or self.token
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        response = self.client.post(
            "/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            **headers,
        )
        assert response.status_code in (200, 400, 401), response.content[:500]
        return response.json()

    def data(self, query: str, variables: dict | None = None, **kwargs) -> dict:
        """Executes and asserts that there were no errors; returns ``data``."""
        body = self.execute(query, variables, **kwargs)
        assert not body.get("errors"), body["errors"]
        return body["data"]


@pytest.fixture
def gql(client):
    return GraphQLClient(client)
