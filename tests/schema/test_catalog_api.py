"""The browse/search API over the real ml-latest-small catalog, through HTTP requests to /graphql."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Movie
from tests.conftest import caches_clear

pytestmark = pytest.mark.usefixtures("movielens")

MOVIE_CARD = "id title year genres { name slug } ratingCount ratingMean popularity"


def test_movies_filters_and_order_by_rating(gql):
    data = gql.data(
        """query($first: Int) {
          movies(first: $first, genres: ["comedy"], yearFrom: 1990, yearTo: 1999, minVotes: 20,
                 orderBy: {field: RATING, direction: DESC}) {
            totalCount edges { node { title year ratingCount ratingMean genres { name } } }
          }
        }""",
        {"first": 20},
    )["movies"]
    nodes = [edge["node"] for edge in data["edges"]]
    assert len(nodes) == 20
    assert data["totalCount"] > 20
    for node in nodes:
        assert 1990 <= node["year"] <= 1999
        assert node["ratingCount"] >= 20
        assert "Comedy" in {genre["name"] for genre in node["genres"]}
    means = [node["ratingMean"] for node in nodes]
    assert means == sorted(means, reverse=True)
    # The same answer the database gives directly.
    expected = (
        Movie.objects.filter(genres__name="Comedy", year__range=(1990, 1999), rating_count__gte=20)
        .order_by("-rating_mean", "id")
        .values_list("title", flat=True)[:20]
    )
    assert [node["title"] for node in nodes] == list(expected)


def test_all_genres_versus_any_genres(gql):
    query = """query($all: [String!], $any: [String!]) {
      movies(genres: $all, anyGenres: $any, first: 100) { totalCount edges { node { genres { name } } } }
    }"""
    both = gql.data(query, {"all": ["Animation", "Sci-Fi"]})["movies"]
    either = gql.data(query, {"any": ["Animation", "Sci-Fi"]})["movies"]
    assert 0 < both["totalCount"] < either["totalCount"]
    for edge in both["edges"]:
        assert {"Animation", "Sci-Fi"} <= {genre["name"] for genre in edge["node"]["genres"]}
    for edge in either["edges"]:
        assert {"Animation", "Sci-Fi"} & {genre["name"] for genre in edge["node"]["genres"]}
    animation = Movie.objects.filter(genres__name="Animation").count()
    scifi = Movie.objects.filter(genres__name="Sci-Fi").count()
    assert either["totalCount"] == animation + scifi - both["totalCount"]


def test_unknown_genre_is_a_clear_error(gql):
    body = gql.execute('{ movies(genres: ["Comdy"]) { totalCount } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Comdy" in body["errors"][0]["message"] and "Comedy" in body["errors"][0]["message"]


def test_range_filters(gql):
    data = gql.data(
        """{ movies(first: 100, runtimeMin: 80, runtimeMax: 90, releasedAfter: "1995-01-01",
                    releasedBefore: "1995-12-31", minRating: 3.5) {
              totalCount edges { node { runtime releaseDate ratingMean } } } }"""
    )["movies"]
    assert data["totalCount"] > 0
    for edge in data["edges"]:
        node = edge["node"]
        assert 80 <= node["runtime"] <= 90
        assert "1995-01-01" <= node["releaseDate"] <= "1995-12-31"
        assert node["ratingMean"] >= 3.5


@pytest.mark.parametrize("field", ["POPULARITY", "VOTES", "RELEASE_DATE", "TITLE", "YEAR", "RATING"])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_every_order_sorts_with_missing_values_last(gql, field, direction):
    key = {
        "POPULARITY": "popularity",
        "VOTES": "ratingCount",
        "RELEASE_DATE": "releaseDate",
        "TITLE": "title",
        "YEAR": "year",
        "RATING": "ratingMean",
    }[field]
    data = gql.data(
        f"""{{ movies(first: 100, orderBy: {{field: {field}, direction: {direction}}}) {{
              edges {{ node {{ {key} }} }} }} }}"""
    )["movies"]
    values = [edge["node"][key] for edge in data["edges"]]
    present = [value for value in values if value is not None]
    assert present == sorted(present, reverse=direction == "DESC")
    assert values[: len(present)] == present  # nulls only at the end


def test_default_order_is_popularity_desc(gql):
    nodes = [
        e["node"] for e in gql.data("{ movies(first: 10) { edges { node { title popularity } } } }")["movies"]["edges"]
    ]
    assert [n["popularity"] for n in nodes] == sorted((n["popularity"] for n in nodes), reverse=True)
    assert nodes[0]["title"] in {"Forrest Gump", "The Shawshank Redemption", "Pulp Fiction"}


def test_cursor_pagination_forward_and_backward_agree(gql):
    query = """query($first: Int, $after: String, $last: Int, $before: String) {
      movies(genres: ["Film-Noir"], first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id } }
      }
    }"""
    everything = gql.data(query, {"first": 100})["movies"]
    all_ids = [edge["node"]["id"] for edge in everything["edges"]]
    assert len(all_ids) == everything["totalCount"] > 40

    forward, after = [], None
    while True:
        page = gql.data(query, {"first": 7, "after": after})["movies"]
        forward += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert forward == all_ids

    backward, before = [], None
    while True:
        page = gql.data(query, {"last": 9, "before": before})["movies"]
        backward = [edge["node"]["id"] for edge in page["edges"]] + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert backward == all_ids

    middle = gql.data(query, {"first": 5, "after": everything["edges"][9]["cursor"]})["movies"]
    assert [edge["node"]["id"] for edge in middle["edges"]] == all_ids[10:15]
    assert middle["pageInfo"]["hasPreviousPage"] and middle["pageInfo"]["hasNextPage"]


@pytest.mark.parametrize("arguments", ["first: 1000", "last: 101", "first: -1", 'after: "bm9wZQ=="', 'before: "%%%"'])
def test_bad_page_arguments_are_refused_clearly(gql, arguments):
    body = gql.execute(f"{{ movies({arguments}) {{ totalCount }} }}")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body.get("data") is None  # page sizes are refused before anything runs, cursors as it runs


def test_page_size_cap_is_100(gql):
    data = gql.data("{ movies(first: 100) { edges { cursor } } }")["movies"]
    assert len(data["edges"]) == 100


def test_movie_by_every_kind_of_id(gql):
    by_movielens = gql.data("{ movie(movielensId: 1) { id title year tmdbId imdbId movielensTitle } }")["movie"]
    assert by_movielens["title"] == "Toy Story" and by_movielens["year"] == 1995
    assert by_movielens["movielensTitle"] == "Toy Story (1995)"
    for arguments in (f'id: "{by_movielens["id"]}"', "tmdbId: 862", 'imdbId: "tt0114709"', 'imdbId: "114709"'):
        assert gql.data(f"{{ movie({arguments}) {{ title }} }}")["movie"]["title"] == "Toy Story"
    assert gql.data("{ movie(movielensId: 999999999) { title } }")["movie"] is None


@pytest.mark.parametrize(
    "arguments", ['id: "not-an-id"', 'id: "VXNlcjox"', "movielensId: 1, tmdbId: 862", "", 'imdbId: "tt12x"']
)
def test_bad_movie_ids_are_clear_errors(gql, arguments):
    body = gql.execute(f"{{ movie({arguments}) {{ title }} }}" if arguments else "{ movie { title } }")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Traceback" not in error["message"]


def test_titles_are_normalized(gql):
    movie = gql.data('{ movie(imdbId: "tt0068646") { title year movielensTitle } }')["movie"]
    assert movie == {"title": "The Godfather", "year": 1972, "movielensTitle": "Godfather, The (1972)"}


def test_tmdb_enrichment(gql):
    movie = gql.data("{ movie(tmdbId: 862) { title overview runtime releaseDate originalLanguage } }")["movie"]
    assert movie["title"] == "Toy Story"
    assert movie["runtime"] == 81
    assert movie["releaseDate"] == "1995-10-30"
    assert movie["originalLanguage"] == "en"
    assert "Woody" in movie["overview"]


def test_genres_with_counts(gql):
    genres = gql.data("{ genres { name slug movieCount } }")["genres"]
    assert len(genres) == 19
    by_name = {genre["name"]: genre for genre in genres}
    assert by_name["Sci-Fi"]["slug"] == "sci-fi"
    assert by_name["Drama"]["movieCount"] == Movie.objects.filter(genres__name="Drama").count()
    assert "(no genres listed)" not in by_name


def test_popular_optionally_by_genre(gql):
    popular = gql.data("{ popular(first: 5) { title popularity } }")["popular"]
    assert len(popular) == 5
    assert [m["popularity"] for m in popular] == sorted((m["popularity"] for m in popular), reverse=True)
    horror = gql.data('{ popular(first: 5, genre: "horror") { title genres { name } } }')["popular"]
    assert all("Horror" in {g["name"] for g in m["genres"]} for m in horror)
    assert gql.execute("{ popular(first: 500) { title } }")["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "x" * 201, "' OR 1=1 --", "%_%", "(((", "\\"])
def test_hostile_search_text_never_breaks(gql, text):
    body = gql.execute("query($q: String) { movies(search: $q) { totalCount } }", {"q": text})
    if body.get("errors"):
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "SQL" not in body["errors"][0]["message"]
    else:
        assert body["data"]["movies"]["totalCount"] >= 0


def test_list_queries_do_not_grow_with_page_size(gql):
    query = f"query($n: Int) {{ movies(first: $n) {{ totalCount edges {{ node {{ {MOVIE_CARD} }} }} }} }}"
    counts = []
    for size in (5, 100):
        caches_clear()  # cold: the list, its count and the movies' cards all from the database
        with CaptureQueriesContext(connection) as queries:
            gql.data(query, {"n": size})
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 3


def test_a_list_read_once_is_served_from_the_cache_whatever_the_fields_and_page_size(gql):
    comedies = 'movies(first: $n, genres: ["Comedy"])'
    gql.data(f"query($n: Int) {{ {comedies} {{ totalCount edges {{ node {{ title }} }} }} }}", {"n": 5})
    with CaptureQueriesContext(connection) as queries:
        page = gql.data(f"query($n: Int) {{ {comedies} {{ edges {{ node {{ {MOVIE_CARD} }} }} }} }}", {"n": 100})
    assert len(page["movies"]["edges"]) == 100
    assert len(queries) == 1  # no count, no ids: only the cards of the 95 movies not read before, in one query
    with CaptureQueriesContext(connection) as queries:
        gql.data(f"query($n: Int) {{ {comedies} {{ totalCount edges {{ node {{ year }} }} }} }}", {"n": 50})
    assert len(queries) == 0


def test_genre_counts_nested_in_movies_do_not_grow_with_page_size(gql):
    query = "query($n: Int) { movies(first: $n) { edges { node { genres { name movieCount } } } } }"
    counts = []
    for size in (5, 100):
        caches_clear()
        with CaptureQueriesContext(connection) as queries:
            gql.data(query, {"n": size})
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 4


def test_malformed_arguments_are_graphql_errors_not_500s(gql):
    body = gql.execute('{ movies(releasedAfter: "yesterday") { totalCount } }')
    assert body["errors"] and not body.get("data")
    body = gql.execute('{ movies(yearFrom: "1990") { totalCount } }')
    assert body["errors"] and not body.get("data")


def test_node_field_finds_movies_and_refuses_other_ids(gql):
    movie = gql.data("{ movie(movielensId: 1) { id } }")["movie"]
    node = gql.data(f'{{ node(id: "{movie["id"]}") {{ ... on Movie {{ title }} }} }}')["node"]
    assert node == {"title": "Toy Story"}
    for bad in ("RmF2b3JpdGU6MQ==", "not base64 at all"):  # Favorite:1 (not a node), garbage
        error = gql.execute(f'{{ node(id: "{bad}") {{ id }} }}')["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    # A genre is a node for everyone; User:1 only for that account (tests/schema/test_normalized_cache.py)
    genre = gql.data("{ genres { id name } }")["genres"][0]
    assert gql.data(f'{{ node(id: "{genre["id"]}") {{ ... on Genre {{ id name }} }} }}')["node"] == genre
    assert gql.data('{ node(id: "VXNlcjox") { id } }')["node"] is None
