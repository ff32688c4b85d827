"""The synthetic MovieLens-shaped generator: its statistical shape, exactness and determinism (pure numpy), and
``generate_synthetic --load`` end to end against a database of its own."""

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import psycopg2
import pytest
from django.core.management import CommandError, call_command

from datasets.movielens import open_dataset
from datasets.synthetic import (
    FIRST_RATING,
    LAST_RATING,
    MIN_USER_RATINGS,
    PRESETS,
    RatingChunk,
    SyntheticSize,
    rating_chunk_csv,
    rating_chunks,
    synthetic_catalog,
    synthetic_dataset_write,
    synthetic_users,
    user_rating_counts,
    validate_size,
)
from tests.conftest import need
from tests.servers import scratch_database

REPOSITORY = Path(__file__).resolve().parents[2]
SIZE = SyntheticSize(users=300, movies=2_000, ratings=40_000)


def generated(size: SyntheticSize, *, seed: int = 3, chunk_ratings: int = 7_000):
    """The catalog and every rating of a dataset, in several chunks."""
    rng = np.random.default_rng(seed)
    catalog = synthetic_catalog(rng, size.movies)
    users = synthetic_users(rng, size)
    chunks = list(rating_chunks(rng, catalog, users, chunk_ratings=chunk_ratings))
    ratings = RatingChunk(
        **{
            field.name: np.concatenate([getattr(chunk, field.name) for chunk in chunks])
            for field in fields(RatingChunk)
        }
    )
    return catalog, ratings, chunks


def test_counts_are_exact_every_user_has_twenty_and_no_pair_repeats():
    catalog, ratings, chunks = generated(SIZE)
    assert len(chunks) > 1
    assert len(ratings.user_ids) == SIZE.ratings
    per_user = np.bincount(ratings.user_ids)[1:]
    assert len(per_user) == SIZE.users
    assert per_user.min() >= MIN_USER_RATINGS
    pairs = ratings.user_ids * 10**7 + ratings.movie_ids
    assert len(np.unique(pairs)) == len(pairs)
    assert np.isin(ratings.movie_ids, catalog.movie_ids).all()
    # Sorted by user, then movie, as MovieLens ships them.
    assert (np.diff(pairs) > 0).all()


def test_heavy_users_who_rate_a_third_of_the_catalog_still_repeat_nothing():
    # 20 to 35 ratings each among 100 movies: the draws run out of new movies and the exact top-k takes over.
    size = SyntheticSize(users=80, movies=100, ratings=80 * 33)
    _, ratings, _ = generated(size)
    assert len(ratings.user_ids) == size.ratings
    pairs = ratings.user_ids * 1000 + ratings.movie_ids
    assert len(np.unique(pairs)) == len(pairs)
    assert np.bincount(ratings.user_ids)[1:].max() <= 35


def test_popularity_and_activity_are_skewed_like_movielens():
    _, ratings, _ = generated(PRESETS["small"], seed=0, chunk_ratings=50_000)
    per_movie = np.sort(np.bincount(ratings.movie_ids))[::-1]
    per_movie = per_movie[per_movie > 0]
    top_percent = per_movie[: len(per_movie) // 100].sum() / per_movie.sum()
    assert top_percent > 0.10
    per_user = np.bincount(ratings.user_ids)[1:]
    assert per_user.max() > 10 * np.median(per_user)


def test_scores_are_half_stars_around_three_and_a_half_and_follow_each_movies_quality():
    catalog, ratings, _ = generated(SIZE)
    assert set(np.unique(ratings.half_stars)) <= set(range(1, 11))
    scores = ratings.half_stars / 2
    assert 3.2 < scores.mean() < 3.8
    counts = np.bincount(ratings.half_stars, minlength=11)
    assert counts[8] > counts[9] and counts[6] > counts[7]  # 4★ beats 4.5★, 3★ beats 3.5★
    columns = np.searchsorted(catalog.movie_ids, ratings.movie_ids)
    rated = np.bincount(columns, minlength=SIZE.movies) >= 20
    movie_means = np.bincount(columns, weights=scores, minlength=SIZE.movies)[rated] / np.bincount(columns)[rated]
    assert np.corrcoef(movie_means, catalog.quality[rated])[0, 1] > 0.5


def test_timestamps_span_years_and_never_precede_the_movies_year():
    catalog, ratings, _ = generated(SIZE)
    assert ratings.timestamps.min() >= FIRST_RATING and ratings.timestamps.max() <= LAST_RATING
    assert ratings.timestamps.max() - ratings.timestamps.min() > 15 * 365 * 86_400
    release = catalog.release_times[np.searchsorted(catalog.movie_ids, ratings.movie_ids)]
    assert (ratings.timestamps >= release).all()


def test_user_counts_sum_exactly_and_impossible_sizes_are_refused():
    counts = user_rating_counts(np.random.default_rng(1), SyntheticSize(users=1_000, movies=500, ratings=123_457))
    assert counts.sum() == 123_457 and counts.min() >= MIN_USER_RATINGS and counts.max() <= 175
    with pytest.raises(ValueError, match="20 ratings each"):
        validate_size(SyntheticSize(users=100, movies=500, ratings=1_999))
    with pytest.raises(ValueError, match="rate more than"):
        validate_size(SyntheticSize(users=10, movies=100, ratings=1_000))


def test_rating_lines_read_back_as_the_same_numbers():
    _, ratings, chunks = generated(SyntheticSize(users=50, movies=300, ratings=3_000))
    lines = b"".join(rating_chunk_csv(chunk) for chunk in chunks).decode()
    table = np.loadtxt(lines.splitlines(), delimiter=",", ndmin=2)
    np.testing.assert_array_equal(table[:, 0], ratings.user_ids)
    np.testing.assert_array_equal(table[:, 1], ratings.movie_ids)
    np.testing.assert_array_equal(table[:, 2] * 2, ratings.half_stars)
    np.testing.assert_array_equal(table[:, 3], ratings.timestamps)
    assert all(len(line.split(",")[2]) == 3 for line in lines.splitlines()[:50])  # "4.0", "3.5"


def test_the_same_seed_writes_the_same_files_and_another_seed_other_ones(tmp_path):
    size = SyntheticSize(users=40, movies=200, ratings=2_000)
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        synthetic_dataset_write(size=size, out_dir=tmp_path / name, seed=seed)
    for file in ("movies.csv", "links.csv", "ratings.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert (tmp_path / "a" / "ratings.csv").read_bytes() != (tmp_path / "c" / "ratings.csv").read_bytes()


def test_the_files_are_a_release_the_movielens_reader_accepts(tmp_path):
    size = SyntheticSize(users=40, movies=200, ratings=2_000)
    synthetic_dataset_write(size=size, out_dir=tmp_path, seed=2)
    with open_dataset(tmp_path) as dataset:
        assert dataset.layout == "ml-latest"
        movies, links = list(dataset.movies()), list(dataset.links())
        assert len(movies) == len(links) == size.movies
        assert sum(1 for _ in dataset.ratings()) == size.ratings
    assert sum(1 for movie in movies if movie.genres) > 0.95 * size.movies  # a few are "(no genres listed)"
    assert any(movie.raw_title.endswith(")") and ", The (" in movie.raw_title for movie in movies)
    assert len({link.tmdb_id for link in links}) == size.movies


def test_the_command_refuses_a_size_that_cannot_be(tmp_path):
    with pytest.raises(CommandError, match="give --size"):
        call_command("generate_synthetic", "--users", "10", "--out", str(tmp_path), verbosity=0)
    with pytest.raises(CommandError, match="20 ratings each"):
        call_command(
            "generate_synthetic", "--users", "100", "--movies", "50", "--ratings", "10", "--out", str(tmp_path)
        )


def test_the_command_writes_and_loads_a_dataset_into_a_database_of_its_own(tmp_path):
    need(os.environ.get("DATABASE_URL", "").startswith("postgres"), "needs PostgreSQL: set DATABASE_URL")
    with scratch_database("test_nexus_d_synthetic", sqlite_folder=tmp_path) as database_url:
        env = {**os.environ, "DATABASE_URL": database_url, "DATABASE_STATEMENT_TIMEOUT_MS": "0"}
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, cwd=REPOSITORY, check=True)  # noqa: S603
        generated_run = subprocess.run(  # noqa: S603
            [*manage, "generate_synthetic", "--users", "60", "--movies", "400", "--ratings", "5000"]
            + ["--seed", "4", "--out", str(tmp_path / "data"), "--load"],
            env=env,
            cwd=REPOSITORY,
            check=True,
            capture_output=True,
            text=True,
        )
        assert "Wrote 60 users, 400 movies and 5,000 ratings" in generated_run.stdout
        assert "Imported ml-latest release: 400 movies, 60 users, 5,000 ratings" in generated_run.stdout
        with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM users_rating), (SELECT count(*) FROM users_user), "
                "(SELECT count(*) FROM catalog_movie WHERE tmdb_id IS NOT NULL AND year IS NOT NULL), "
                "(SELECT min(n) FROM (SELECT count(*) AS n FROM users_rating GROUP BY user_id) AS per_user)"
            )
            ratings, users, movies, fewest_per_user = cursor.fetchone()
        connection.close()
        assert (ratings, users, movies) == (5_000, 60, 400)
        assert fewest_per_user >= MIN_USER_RATINGS
