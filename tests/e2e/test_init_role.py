"""The image's one-shot init role (docker/entrypoint.sh init), as compose runs it before the stack starts: on a new
database it migrates, imports MovieLens and TMDb and trains; on a later start it only migrates. A sample of
ml-latest-small keeps it quick; the database is one of its own, dropped afterwards."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import movielens_small_dir, need, tmdb_csv
from tests.servers import PROJECT_DIR, TOOLS_PATH, scratch_database

SAMPLE_MOVIES = 400


def movielens_sample(release: Path, destination: Path, *, movies: int) -> Path:
    """The first ``movies`` movies of a MovieLens folder with their links, ratings and tags, bytes unchanged."""
    destination.mkdir()

    def copy(name: str, movie_id_column: int, keep) -> None:
        header, *rows = (release / name).read_bytes().splitlines(keepends=True)
        kept = [row for row in rows if keep(row.split(b",", movie_id_column + 1)[movie_id_column])]
        (destination / name).write_bytes(header + b"".join(kept))

    movie_ids = set()
    copy("movies.csv", 0, lambda movie_id: len(movie_ids) < movies and not movie_ids.add(movie_id))
    copy("links.csv", 0, movie_ids.__contains__)
    copy("ratings.csv", 1, movie_ids.__contains__)
    copy("tags.csv", 1, movie_ids.__contains__)
    return destination


@pytest.fixture
def init_environment(tmp_path):
    need(movielens_small_dir() is not None, "NEXUS_DATA_DIR must point at shared/data with ml-latest-small")
    need(tmdb_csv() is not None, "NEXUS_DATA_DIR must hold tmdb/tmdb_5000_movies.csv")
    sample = movielens_sample(movielens_small_dir(), tmp_path / "ml-sample", movies=SAMPLE_MOVIES)
    with scratch_database(f"nexus_e2e_init_{os.getpid()}", sqlite_folder=tmp_path) as database_url:
        # No REDIS_URL and no broker: the store is a folder under NEXUS_VAR_DIR, shared by the processes here
        # (and this test never writes to the Redis database of the test session).
        yield {
            "PATH": TOOLS_PATH,
            "SECRET_KEY": "init-role-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DATABASE_URL": database_url,
            "NEXUS_VAR_DIR": str(tmp_path / "var"),
            "NEXUS_ENV_FILE": "",  # as in the image: never a developer's .env
            "NEXUS_MOVIELENS": str(sample),
            "NEXUS_TMDB": str(tmdb_csv()),
        }


def entrypoint(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["docker/entrypoint.sh", *arguments], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_init_imports_and_trains_on_the_first_start_only(init_environment):
    first = entrypoint("init", env=init_environment)
    assert f"{SAMPLE_MOVIES} movies" in first.stdout  # the importer's summary
    assert "Trained version" in first.stdout

    # Any other first argument runs as a command: here, reading the lists the training wrote.
    recommended = entrypoint(
        "python",
        "manage.py",
        "recommend",
        "--all",
        "--limit",
        "5",
        "--format",
        "jsonl",
        env=init_environment,
    )
    lists = [json.loads(line) for line in recommended.stdout.splitlines()]
    assert lists and all(len(entry["items"]) == 5 for entry in lists)

    later = entrypoint("init", env=init_environment)
    assert "The catalog is loaded already" in later.stdout
    assert "Imported" not in later.stdout and "Trained" not in later.stdout
