"""Keywords (TMDB 5000) and tags (MovieLens tags.csv) through /graphql, over the real ml-latest-small catalog:
the fields, the filters, search matching them (title matches still first), and their loading in one query per
request pass whatever the page size.

These cases run on the backend of the suite and, from tests/test_embedded_default.py, on the embedded default
(SQLite) as well."""

from collections import Counter

import pytest
from django.db import connection
from django.db.models.functions import Lower
from django.test.utils import CaptureQueriesContext

from catalog import trigram
from catalog.models import Movie, Tag
from tests.conftest import caches_clear

pytestmark = pytest.mark.usefixtures("movielens")

PULP_FICTION = 296  # the most tagged movie of ml-latest-small


def test_back_to_the_future_has_time_travel_as_keyword_and_tag(gql):
    movie = gql.data("{ movie(movielensId: 1270) { title keywords tags(first: 5) { name count } } }")["movie"]
    assert movie["title"] == "Back to the Future"
    assert "time travel" in movie["keywords"]
    assert movie["keywords"] == sorted(movie["keywords"])
    assert "time travel" in [tag["name"] for tag in movie["tags"]]


def test_movies_by_keyword_lists_back_to_the_future(gql):
    query = '{ movies(keywords: ["time travel"], first: 100) { totalCount edges { node { title keywords } } } }'
    data = gql.data(query)["movies"]
    titles = [edge["node"]["title"] for edge in data["edges"]]
    assert "Back to the Future" in titles
    assert all("time travel" in edge["node"]["keywords"] for edge in data["edges"])
    expected = Movie.objects.filter(keywords__name="time travel").count()
    assert data["totalCount"] == expected > 10


def test_keyword_and_tag_filters_ignore_case_and_need_every_name(gql):
    query = "query($k: [String!], $t: [String!]) { movies(keywords: $k, tags: $t, first: 100) { totalCount } }"

    def count(keywords=None, tags=None):
        return gql.data(query, {"k": keywords, "t": tags})["movies"]["totalCount"]

    both = count(["time travel", "delorean"])
    assert 0 < both < count(["time travel"])
    assert count(["Time Travel", "DeLorean"]) == both
    assert count(tags=["Time Travel"]) == count(tags=["time travel"]) > 0
    assert count(keywords=["time travel"], tags=["time travel"]) > 0
    assert count(["no such keyword at all"]) == 0
    assert count(tags=["time travel", "no such tag at all"]) == 0


def test_tags_are_counted_most_used_first(gql):
    tags = gql.data(f"{{ movie(movielensId: {PULP_FICTION}) {{ tags(first: 5) {{ name count }} }} }}")["movie"]["tags"]
    per_name = Counter(
        Tag.objects.filter(movie__movielens_id=PULP_FICTION).annotate(key=Lower("name")).values_list("key", flat=True)
    )
    expected = sorted(per_name.items(), key=lambda item: (-item[1], item[0]))[:5]
    assert [(tag["name"].lower(), tag["count"]) for tag in tags] == expected
    assert tags[0]["count"] > 1


def test_a_movie_without_keywords_or_tags_has_empty_lists(gql):
    movie = Movie.objects.filter(tmdb_id=None).exclude(tags__isnull=False).order_by("pk").first()
    data = gql.data(f"{{ movie(movielensId: {movie.movielens_id}) {{ keywords tags {{ name }} }} }}")["movie"]
    assert data == {"keywords": [], "tags": []}


def test_search_finds_keywords_and_tags_after_title_matches(gql):
    query = '{ movies(search: "time travel", first: 100) { edges { node { title keywords tags { name } } } } }'
    nodes = [edge["node"] for edge in gql.data(query)["movies"]["edges"]]
    assert "Back to the Future" in [node["title"] for node in nodes]
    title_matches = [
        trigram.word_similarity("time travel", node["title"]) >= trigram.WORD_SIMILARITY_THRESHOLD for node in nodes
    ]
    assert any(title_matches), "some titles match the words"
    # Every title match comes before every movie found by its plot, keywords or tags.
    assert title_matches == sorted(title_matches, reverse=True)


def test_search_still_puts_the_title_first(gql):
    query = '{ movies(search: "matrix", first: 3) { edges { node { title } } } }'
    assert gql.data(query)["movies"]["edges"][0]["node"]["title"] == "The Matrix"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("{ movie(movielensId: 1) { tags(first: -1) { name } } }", None),
        ("{ movie(movielensId: 1) { tags(first: 101) { name } } }", None),
        ('{ movies(keywords: ["time\\u0000travel"]) { totalCount } }', "keywords"),
        ('{ movies(tags: ["\\u0007"]) { totalCount } }', "tags"),
    ],
)
def test_bad_input_is_a_clear_error(gql, query, field):
    body = gql.execute(query)
    assert body["errors"], body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_keywords_and_tags_load_in_one_query_per_page_whatever_its_size(gql):
    query = """query($n: Int) { movies(first: $n, orderBy: {field: VOTES}) {
        edges { node { title keywords tags(first: 3) { name count } } } } }"""

    def queries(size: int) -> int:
        caches_clear()
        with CaptureQueriesContext(connection) as captured:
            edges = gql.data(query, {"n": size})["movies"]["edges"]
        assert len(edges) == size
        assert sum(1 for edge in edges if edge["node"]["keywords"]) > size // 2
        assert sum(1 for edge in edges if edge["node"]["tags"]) > size // 4
        return len(captured)

    few, many = queries(5), queries(60)
    assert few == many, (few, many)
    without = gql_count(gql, query.replace("keywords tags(first: 3) { name count }", ""))
    assert many - without == 2, "one query for the keywords, one for the tags"


def gql_count(gql, query: str) -> int:
    caches_clear()
    with CaptureQueriesContext(connection) as captured:
        gql.data(query, {"n": 60})
    return len(captured)
