"""The cases that must hold on the embedded default (SQLite, no services) whatever backend the suite runs on:
search and the README's examples. On PostgreSQL they run a second time, in a pytest of their own on SQLite."""

import os
import subprocess
import sys

from django.db import connection

from tests.conftest import movielens_small_dir, need, tmdb_csv
from tests.servers import PROJECT_DIR

EMBEDDED_DEFAULT_TESTS = [
    "tests/catalog/test_search.py",
    "tests/catalog/test_keywords_tags.py",
    "tests/test_readme_examples.py",
]
SERVICE_SETTINGS = {
    "DATABASE_URL",
    "NEXUS_TEST_DATABASE_NAME",
    "REDIS_URL",
    "REDIS_CACHE_URL",
    "REDIS_LIMITS_URL",
    "REDIS_STORE_URL",
    "CELERY_BROKER_URL",
}


def test_search_and_readme_examples_on_the_embedded_default(tmp_path):
    if connection.vendor == "sqlite":
        return  # this session is the embedded default: it runs those tests itself
    need(movielens_small_dir() is not None and tmdb_csv() is not None, "NEXUS_DATA_DIR must hold the datasets")
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_SETTINGS}
    env["NEXUS_VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *EMBEDDED_DEFAULT_TESTS],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout, result.stdout[-2000:]
