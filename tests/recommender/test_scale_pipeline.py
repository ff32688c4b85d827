"""What lets the pipeline run at ML-20M size: the bulk COPY import (indexes rebuilt, not maintained row by row),
the event log read through binary COPY instead of row objects, and explanations computed for a whole batch of
users at once — each checked against the straightforward way it replaces."""

import numpy as np
import pytest
import scipy.sparse as sp
from django.db import connection

from datasets.synthetic import SyntheticSize, synthetic_dataset_write
from importers import movielens_writers
from importers.movielens import movielens_import
from recommender import interactions_db
from recommender.algorithms import ALS, EASE, ItemKNN, fit_hybrid
from recommender.algorithms.base import CollaborativeRecommender
from recommender.catalog_artifact import catalog_load
from recommender.lists import UserRows, ranked_lists
from recommender.ranking import NO_ITEM, diversify, explain, top_k
from recommender.store import Reason
from users.models import Rating


def schema_of(table: str) -> tuple[list, list]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [table])
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
            "WHERE conrelid = %s::regclass ORDER BY conname",
            [table],
        )
        return indexes, cursor.fetchall()


@pytest.mark.parametrize("table_starts_empty", [True, False], ids=["first-import", "re-import"])
def test_a_bulk_import_rebuilds_the_ratings_indexes_and_keys_exactly_as_they_were(
    postgres, movielens, tmp_path, monkeypatch, table_starts_empty
):
    monkeypatch.setattr(movielens_writers, "BULK_REBUILD_ROWS", 1)
    synthetic_dataset_write(size=SyntheticSize(users=50, movies=300, ratings=3_000), out_dir=tmp_path, seed=9)
    table = Rating._meta.db_table
    before = schema_of(table)
    if table_starts_empty:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - a model's table name
    existing = Rating.objects.count()

    summary = movielens_import(path=str(tmp_path))
    assert (summary.ratings, summary.users, summary.movies) == (3_000, 50, 300)
    assert schema_of(table) == before
    # MovieLens users 1-50 exist already: their synthetic ratings land next to (or replace) their real ones.
    synthetic_users = Rating.objects.filter(user__movielens_id__lte=50)
    assert synthetic_users.filter(movie__movielens_id__in=set(range(1, 1_000))).exists()
    if table_starts_empty:
        assert Rating.objects.count() == 3_000
    else:
        assert existing <= Rating.objects.count() <= existing + 3_000
    # A second import of the same file changes nothing (the upsert path, with the unique index kept).
    total = Rating.objects.count()
    movielens_import(path=str(tmp_path))
    assert Rating.objects.count() == total
    assert schema_of(table) == before


def test_a_ratings_file_copy_cannot_read_falls_back_to_the_row_reader_and_its_line_numbers(postgres, db, tmp_path):
    synthetic_dataset_write(size=SyntheticSize(users=30, movies=100, ratings=800), out_dir=tmp_path, seed=1)
    ratings_file = tmp_path / "ratings.csv"
    lines = ratings_file.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 2)[0] + ",4.25," + lines[5].rsplit(",", 1)[1]
    ratings_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(Exception, match="ratings.csv, line 6"):
        movielens_import(path=str(tmp_path))


def test_the_copied_event_log_holds_exactly_what_the_orm_reads(postgres, movielens, monkeypatch):
    from_orm = np.concatenate(
        [
            interactions_db.record_array(queryset, interactions_db.EVENT)
            for queryset in interactions_db._event_querysets(user_id=None)
        ]
    )
    # Small parse steps: rows then straddle the chunks COPY writes.
    monkeypatch.setattr(interactions_db, "COPY_PARSE_BYTES", 1_000)
    copied = interactions_db._event_log_copied()
    assert len(copied) == len(from_orm) > 100_000

    def in_order(events):
        return events[np.lexsort((events["kind"], events["movie"], events["user"]))]

    np.testing.assert_array_equal(in_order(copied), in_order(from_orm))


def test_the_event_parser_refuses_a_stream_without_its_trailer():
    sink = interactions_db._CopiedEvents()
    sink.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
    with pytest.raises(ValueError, match="trailer"):
        sink.events()


@pytest.mark.parametrize(
    "model", [EASE(max_items=80), ItemKNN(neighbours=10), ALS(factors=8, iterations=3)], ids=lambda m: m.name
)
def test_batch_explanations_name_the_same_movie_as_explaining_one_user_at_a_time(model):
    rng = np.random.default_rng(0)
    X = sp.random(300, 120, density=0.08, random_state=1, format="csr", dtype=np.float32)
    X.data = rng.choice([1.0, 1.5, 2.0, 4.0], X.nnz).astype(np.float32)
    model.fit(X)
    items, _ = top_k(model.score(X), 10, exclude=X)
    items[5, 7:] = NO_ITEM
    expected = np.full(items.shape, NO_ITEM)
    for row in range(X.shape[0]):
        listed = items[row] != NO_ITEM
        explanations = explain(
            user_items=X[row].indices,
            contributions=model.contributions(X[row], items[row][listed]),
            items=items[row][listed],
        )
        expected[row, listed] = [NO_ITEM if found is None else found.because_item for found in explanations]
    assert (expected != NO_ITEM).mean() > 0.9
    np.testing.assert_array_equal(model.strongest_contributors(X, items), expected)
    np.testing.assert_array_equal(CollaborativeRecommender.strongest_contributors(model, X, items), expected)


def test_diversify_picks_as_it_did_one_similarity_at_a_time():
    rng = np.random.default_rng(3)
    vectors = rng.random((200, 6)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = rng.random((40, 200)).astype(np.float32)
    candidates, candidate_scores = top_k(scores, 30)
    picked, _ = diversify(candidates, candidate_scores, 10, item_vectors=vectors, penalty=0.3)

    for row in range(40):
        relevance = (candidate_scores[row] - candidate_scores[row].min()) / np.ptp(candidate_scores[row])
        closest, available, expected = np.zeros(30), np.ones(30, dtype=bool), []
        for _ in range(10):
            gain = np.where(available, relevance - 0.3 * closest, -np.inf)
            choice = int(np.argmax(gain))
            expected.append(candidates[row, choice])
            available[choice] = False
            closest = np.maximum(closest, vectors[candidates[row]] @ vectors[candidates[row, choice]])
        np.testing.assert_array_equal(picked[row], expected)


def test_ranked_lists_for_a_batch_match_the_lists_of_each_user_alone(postgres, movielens):
    catalog, features = catalog_load()
    events = interactions_db.event_log()
    interactions = interactions_db.interactions_from_events(events, user_ids=None, item_ids=catalog.item_ids)
    users = UserRows.of(
        events, interactions, catalog.declared_genres(interactions_db.declared_genre_ids(interactions.user_ids))
    )
    model = fit_hybrid(
        interactions=interactions, item_features=features, collaborative=EASE().fit(interactions.confidence)
    )
    rows = np.arange(0, 40)
    together = ranked_lists(model, catalog, users[rows])
    for row, entries in zip(rows, together, strict=True):
        alone = ranked_lists(model, catalog, users[np.array([row])])[0]
        np.testing.assert_array_equal(entries, alone)
    reasons = np.concatenate([entries["reason"] for entries in together])
    assert np.isin(reasons, [Reason.RATED]).mean() > 0.9


def test_scaled_to_best_divides_each_row_by_its_best_and_zeroes_what_cannot_count():
    from recommender.algorithms.hybrid import scaled_to_best

    scores = np.array(
        [[2.0, -1.0, 1.0, -np.inf], [np.inf, 3.0, np.nan, 1.5], [-2.0, -np.inf, 0.0, -1.0], [0.5, 0.25, 0.0, 1.0]],
        dtype=np.float32,
    )
    expected = np.array(
        [[1.0, 0.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0], [0.5, 0.25, 0.0, 1.0]], dtype=np.float32
    )
    original = scores.copy()
    np.testing.assert_array_equal(scaled_to_best(scores), expected)
    np.testing.assert_array_equal(scores, original)  # the caller's scores stay as they were


def test_sources_of_listed_items_are_those_a_full_comparison_would_give():
    from recommender.algorithms.hybrid import BlendParts, Source

    rng = np.random.default_rng(5)
    collaborative = np.where(rng.random((30, 200)) < 0.3, 0.0, rng.random((30, 200))).astype(np.float32)
    content = (0.05 * np.where(rng.random((30, 200)) < 0.5, 0.0, rng.random((30, 200)))).astype(np.float32)
    content[:, :10] = collaborative[:, :10]  # ties go to the earlier component
    parts = BlendParts([(Source.COLLABORATIVE, collaborative), (Source.CONTENT, content)])
    # The rule as it was applied to every item: each component in turn takes the items where it adds more than
    # every earlier one (collaborative where nothing adds anything).
    everywhere = np.full(collaborative.shape, Source.COLLABORATIVE, dtype=np.int8)
    strongest = np.zeros(collaborative.shape, dtype=np.float32)
    for source, part in parts.parts:
        everywhere[part > strongest] = source
        strongest = np.maximum(strongest, part)
    items = rng.integers(0, 200, (30, 40))
    items[:, 0] = np.arange(30) % 10
    np.testing.assert_array_equal(parts.sources_at(items), np.take_along_axis(everywhere, items, axis=1))
    assert set(np.unique(parts.sources_at(items))) == {Source.COLLABORATIVE, Source.CONTENT}


def test_the_newest_event_of_each_pair_wins_in_any_log_order():
    from recommender.interactions import _newest_per_pair

    rng = np.random.default_rng(2)
    rows, columns = rng.integers(0, 40, 5_000), rng.integers(0, 30, 5_000)
    values, timestamps = rng.random(5_000), rng.integers(0, 20, 5_000).astype(np.float64)
    newest = _newest_per_pair(rows, columns, values, timestamps, (40, 30))

    expected: dict[tuple[int, int], tuple[float, int, float]] = {}
    for position, (row, column) in enumerate(zip(rows.tolist(), columns.tolist(), strict=True)):
        key = (timestamps[position], position)  # the later event in the log wins a tie
        if (row, column) not in expected or key > expected[row, column][:2]:
            expected[row, column] = (*key, values[position])
    assert newest.has_canonical_format and newest.nnz == len(expected)
    for (row, column), (_, _, value) in expected.items():
        assert newest[row, column] == value
