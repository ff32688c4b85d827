"""Keyset cursors (issue 20 item 5): a page after (or before) a cursor is exact however the rows moved since, on
the movies list (served from the cached keys or from the database alike) and on the viewer's connections."""

import base64
import json

import orjson
import pytest
from graphql_jwt.shortcuts import get_token

from catalog.cache import catalog_version_bump_now
from catalog.lists import MovieList
from catalog.models import Movie
from tests.users.factories import movie_global_id, person_create
from users.statistics import movie_stats_add

pytestmark = pytest.mark.usefixtures("movielens")

PAGE = """query($first: Int, $after: String, $last: Int, $before: String, $order: MovieOrder, $genres: [String!],
               $search: String) {
  movies(first: $first, after: $after, last: $last, before: $before, orderBy: $order, genres: $genres,
         search: $search) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id popularity } }
  }
}"""
RATINGS = """query($first: Int, $after: String) { me { ratings(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { movie { id } } } } } }"""
RATE = "mutation($movie: ID!, $score: Float!) { rateMovie(movieId: $movie, score: $score) { errors { code } } }"


@pytest.fixture(autouse=True)
def _no_response_cache(settings):
    settings.NEXUS_RESPONSE_CACHE_SECONDS = 0  # every request reads the lists as they are


@pytest.fixture(params=["cached keys", "database"])
def source(request, monkeypatch):
    """Every test runs with windows from the cached keys and again with every window from the database."""
    if request.param == "database":
        monkeypatch.setattr(MovieList, "_cached_window", lambda *args: None)
    return request.param


def movies(gql, **variables) -> dict:
    return gql.data(PAGE, variables)["movies"]


def ids(page: dict) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def pk(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":")[1])


def move(global_id: str, *, popularity_above: float | None = None, popularity_below: float | None = None) -> None:
    """Change a movie's rating statistics (as ratings do) until its popularity passes the given value."""
    movie = Movie.objects.get(pk=pk(global_id))
    if popularity_above is not None:
        while movie.popularity <= popularity_above:
            movie_stats_add(movie_id=movie.pk, count=50, total=250.0)
            movie.refresh_from_db()
    else:
        while movie.popularity >= popularity_below:
            keep = max(movie.rating_count // 2, 1)
            movie_stats_add(
                movie_id=movie.pk,
                count=keep - movie.rating_count,
                total=keep * 0.5 - movie.rating_total,
            )
            movie.refresh_from_db()
    catalog_version_bump_now()  # what the deferred bump does within the staleness bound


def test_a_movie_rising_across_the_page_boundary_is_neither_repeated_nor_skipped(gql, source):
    first = movies(gql, first=5)
    before_change = ids(movies(gql, first=20))
    riser = before_change[7]  # on the next page
    move(riser, popularity_above=first["edges"][2]["node"]["popularity"])

    second = movies(gql, first=5, after=first["pageInfo"]["endCursor"])
    now = ids(movies(gql, first=20))
    boundary = now.index(ids(first)[-1])
    assert ids(second) == now[boundary + 1 : boundary + 6]  # exactly what follows the cursor's movie now
    assert not set(ids(second)) & set(ids(first))  # an offset would repeat the movie the riser pushed down
    assert riser not in ids(second) and riser in now[:5]
    assert second["pageInfo"]["hasNextPage"] and second["pageInfo"]["hasPreviousPage"]
    assert second["totalCount"] == first["totalCount"]


def test_a_movie_falling_across_the_page_boundary_is_neither_repeated_nor_skipped(gql, source):
    first = movies(gql, first=5)
    faller = ids(first)[1]
    move(faller, popularity_below=movies(gql, first=8)["edges"][7]["node"]["popularity"])

    second = movies(gql, first=5, after=first["pageInfo"]["endCursor"])
    now = ids(movies(gql, first=20))
    boundary = now.index(ids(first)[-1])
    # An offset would skip the movie that moved up into the first page's last place.
    assert ids(second) == now[boundary + 1 : boundary + 6]
    assert faller not in now[: boundary + 1]  # it now follows the cursor's movie: seen again, in its new place
    assert now[boundary + 1] in ids(second)


def test_last_before_a_cursor_is_exact_after_a_change(gql, source):
    everything = movies(gql, first=20)
    cursor = everything["edges"][10]["cursor"]
    previous = movies(gql, last=5, before=cursor)
    assert ids(previous) == ids(everything)[5:10]
    assert previous["pageInfo"]["hasPreviousPage"] and previous["pageInfo"]["hasNextPage"]

    riser = ids(everything)[14]
    move(riser, popularity_above=everything["edges"][3]["node"]["popularity"])
    now = ids(movies(gql, first=20))
    boundary = now.index(ids(everything)[10])
    assert ids(movies(gql, last=5, before=cursor)) == now[boundary - 5 : boundary]
    assert riser in now[:boundary]


ORDERS = [
    {"field": field, "direction": direction}
    for field in ("POPULARITY", "RATING", "VOTES", "RELEASE_DATE", "TITLE", "YEAR")
    for direction in ("ASC", "DESC")
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: f"{order['field']}-{order['direction']}")
def test_every_order_pages_both_ways_through_nulls_and_ties(gql, source, order):
    noir = Movie.objects.filter(genres__name="Film-Noir").order_by("id")
    tied = [movie.pk for movie in noir[:6]]
    Movie.objects.filter(pk__in=tied[:3]).update(release_date=None, year=None, rating_mean=None)
    Movie.objects.filter(pk__in=tied).update(popularity=7.0, rating_count=3, title="Tied")
    catalog_version_bump_now()

    arguments = {"order": order, "genres": ["Film-Noir"]}
    everything = ids(movies(gql, first=100, **arguments))
    assert len(everything) > 20 and len(set(everything)) == len(everything)

    forward, after = [], None
    while True:
        page = movies(gql, first=4, after=after, **arguments)
        forward += ids(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert forward == everything

    backward, before = [], None
    while True:
        page = movies(gql, last=6, before=before, **arguments)
        backward = ids(page) + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert backward == everything


def test_search_cursors_page_in_relevance_order(gql, source):
    everything = movies(gql, search="star wars", first=30)
    assert everything["totalCount"] >= 30
    forward, after = [], None
    for _ in range(10):
        page = movies(gql, search="star wars", first=3, after=after)
        forward += ids(page)
        after = page["pageInfo"]["endCursor"]
    assert forward == ids(everything)
    cursor = orjson.loads(base64.b64decode(after))
    assert cursor["v"] == 1 and len(cursor["k"]) == 3  # relevance, popularity, id
    assert ids(movies(gql, search="star wars", last=3, before=everything["edges"][6]["cursor"])) == ids(everything)[3:6]


def test_the_viewers_ratings_page_exactly_while_ratings_are_added(gql):
    ada = person_create("ada")
    gql.token = get_token(ada)
    rated = [movie_global_id(movie) for movie in Movie.objects.order_by("id")[:9]]
    for movie in rated:
        assert gql.data(RATE, {"movie": movie, "score": 4.0})["rateMovie"]["errors"] == []

    first = gql.data(RATINGS, {"first": 4})["me"]["ratings"]
    newest = [edge["node"]["movie"]["id"] for edge in first["edges"]]
    assert newest == rated[::-1][:4]
    # A new rating and a re-rating of a movie on the next page both go to the top: offsets would repeat two.
    new = movie_global_id(Movie.objects.order_by("id")[20])
    gql.data(RATE, {"movie": new, "score": 3.0})
    gql.data(RATE, {"movie": rated[3], "score": 2.5})

    second = gql.data(RATINGS, {"first": 4, "after": first["pageInfo"]["endCursor"]})["me"]["ratings"]
    assert [edge["node"]["movie"]["id"] for edge in second["edges"]] == [rated[4], rated[2], rated[1], rated[0]]
    assert second["totalCount"] == 10
    assert second["pageInfo"]["hasPreviousPage"] and not second["pageInfo"]["hasNextPage"]


def cursor(document) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    "value",
    [
        "%%%",
        "bm9wZQ==",
        base64.b64encode(b"arrayconnection:5").decode(),  # an offset cursor of old
        cursor([1, 2]),
        cursor({"v": 2, "o": "-popularity,id", "k": [1.0, 1]}),
        cursor({"v": 1, "o": "-popularity,id", "k": [1.0]}),
        cursor({"v": 1, "o": "-popularity,id", "k": ["many", 1]}),
        cursor({"v": 1, "o": "-popularity,id", "k": [None, 1]}),
        cursor({"v": 1, "o": "-popularity,id", "k": [1.0, "x"]}),
        cursor({"v": 1, "o": "-popularity,id", "k": [[1.0], 1]}),
        cursor({"v": 1, "o": "title,id", "k": ["a\u0000", 1]}),
        "A" * 5000,
    ],
)
def test_malformed_cursors_are_bad_user_input(gql, value):
    for arguments in ({"after": value}, {"last": 3, "before": value}):
        body = gql.execute(PAGE, {"first": 3, **arguments} if "after" in arguments else arguments)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    title_order = {"after": value, "order": {"field": "TITLE", "direction": "ASC"}}
    assert gql.execute(PAGE, title_order)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_cursor_of_another_order_is_bad_user_input(gql):
    popular = movies(gql, first=3)["pageInfo"]["endCursor"]
    searched = movies(gql, search="star wars", first=3)["pageInfo"]["endCursor"]
    for after, order in (
        (popular, {"field": "RATING", "direction": "DESC"}),
        (popular, {"field": "POPULARITY", "direction": "ASC"}),
        (searched, None),
    ):
        body = gql.execute(PAGE, {"first": 3, "after": after, "order": order})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "another order" in body["errors"][0]["message"]
    gql.token = get_token(person_create("ada"))
    body = gql.execute(RATINGS, {"first": 3, "after": popular})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
