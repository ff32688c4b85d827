"""Search over the real ml-latest-small catalog, through /graphql: typo-tolerant and ranked on both backends.

These cases run on the backend of the suite and, from tests/test_embedded_default.py, on the embedded default
(SQLite) as well.
"""

import pytest
from django.db import connection

from catalog import trigram

pytestmark = pytest.mark.usefixtures("movielens")

SEARCH = "query($q: String, $n: Int) { movies(search: $q, first: $n) { totalCount edges { node { title year } } } }"


def found(gql, text: str, first: int = 5) -> list[tuple[str, int]]:
    edges = gql.data(SEARCH, {"q": text, "n": first})["movies"]["edges"]
    return [(edge["node"]["title"], edge["node"]["year"]) for edge in edges]


@pytest.mark.parametrize(
    ("text", "first_hit"),
    [
        ("toy story", ("Toy Story", 1995)),
        ("godfahter", ("The Godfather", 1972)),  # the README's example: a typo
        ("toy stroy", ("Toy Story", 1995)),
        ("The Godfather", ("The Godfather", 1972)),
        ("matrix", ("The Matrix", 1999)),
        ("pulp fiction", ("Pulp Fiction", 1994)),
    ],
)
def test_the_best_match_comes_first(gql, text, first_hit):
    assert found(gql, text)[0] == first_hit


def test_sequels_follow_the_original(gql):
    assert [title for title, _ in found(gql, "toy stroy", 3)] == ["Toy Story", "Toy Story 2", "Toy Story 3"]


def test_search_matches_the_plot(gql):
    assert ("Toy Story", 1995) in found(gql, "woody buzz", 10)


def test_unrelated_text_finds_nothing(gql):
    assert gql.data(SEARCH, {"q": "qqxzzv", "n": 5})["movies"]["totalCount"] == 0


def test_search_with_filters_and_an_explicit_order(gql):
    query = """{ movies(search: "godfather", yearFrom: 1974, orderBy: {field: YEAR, direction: ASC}, first: 5) {
        edges { node { title year } } } }"""
    years = [edge["node"]["year"] for edge in gql.data(query)["movies"]["edges"]]
    assert years and years == sorted(years) and min(years) >= 1974


def test_search_pages_by_cursor_in_relevance_order(gql):
    query = """query($after: String) { movies(search: "star wars", first: 3, after: $after) {
        pageInfo { endCursor } edges { node { title } } } }"""
    first = gql.data(query)["movies"]
    second = gql.data(query, {"after": first["pageInfo"]["endCursor"]})["movies"]
    everything = [edge["node"]["title"] for edge in gql.data(SEARCH, {"q": "star wars", "n": 6})["movies"]["edges"]]
    assert [edge["node"]["title"] for edge in first["edges"] + second["edges"]] == everything


# Measured with PostgreSQL 15's pg_trgm: SQLite's search ranks by the same numbers.
PG_TRGM = [
    ("godfahter", "The Godfather", 0.5, 0.3529412),
    ("toy stroy", "Toy Story", 0.6666667, 0.4615385),
    ("word", "two words", 0.8, 0.3636364),
    ("stroy", "Toy Story 2", 0.5, 0.2),
    ("abcdef", "abc xyz def", 0.4285714, 0.3571429),
]


@pytest.mark.parametrize(("text", "title", "word_similarity", "similarity"), PG_TRGM)
def test_sqlite_similarity_is_pg_trgms(text, title, word_similarity, similarity):
    assert trigram.word_similarity(text, title) == pytest.approx(word_similarity, abs=1e-6)
    assert trigram.similarity(text, title) == pytest.approx(similarity, abs=1e-6)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT word_similarity(%s, %s), similarity(%s, %s)", [text, title, title, text])
            assert cursor.fetchone() == pytest.approx((word_similarity, similarity), abs=1e-6)
