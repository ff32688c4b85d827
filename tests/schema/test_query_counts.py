"""No N+1 on any list field: the SQL queries of a request grow neither with the page size nor with the
viewer's library, and per-row fields batch through the request's loaders however a list resolver is written.

Every list field is asked for with the nested fields clients actually ask for (genres, the viewer's rating,
favorite and watchlist flags, and five similar movies of every row, with their genres), anonymously and signed
in, on a recommender trained on the real ml-latest-small. Each is measured twice: on a cold movie-card cache
(right after a catalog version bump) and on a warm one. Run with ``-s`` to see the counts.
"""

# ruff: noqa: F811 - test parameters name the fixtures imported from tests.recommender.support

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import graphene
import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_redis.exceptions import ConnectionInterrupted
from graphql import execute, parse
from graphql_jwt.shortcuts import get_token
from redis.exceptions import RedisError

from catalog.cache import catalog_version_bump
from catalog.models import Genre, Movie
from nexus.versions import process_copies_forget
from schema.catalog.types import MovieType
from schema.core.deferred import DeferredExecutionContext
from tests.recommender.support import (  # noqa: F401 - fixtures, requested by name
    DEAD_REDIS_URL,
    empty_store,
    trained,
    trained_session,
)
from tests.users.factories import person_create
from users.models import Favorite, Rating, User, WatchEvent, WatchlistItem

pytestmark = pytest.mark.usefixtures("movielens")

MOST_QUERIES = 6
# A list request on a warm card cache, signed in: the viewer, the page (count and rows) and the viewer's state
# of the page's movies; genres and similar movies come from the caches.
MOST_QUERIES_WARM = 5
PROJECT = Path(__file__).resolve().parents[2]
MOVIE = (
    "id title year genres { name } ratingMean myRating isFavorite inWatchlist "
    "similar(first: 5) { title genres { name } }"
)


def _query(selection: str) -> str:
    return f"query($n: Int) {{ {selection} }}"


def _connection(field: str, edge: str) -> str:
    return f"{field}(first: $n) {{ totalCount edges {{ {edge} }} }}"


# Each list field, with where its rows are in the response.
LISTS = {
    "movies": (_query(_connection("movies", f"node {{ {MOVIE} }}")), ("movies", "edges")),
    "popular": (_query(f"popular(first: $n) {{ {MOVIE} }}"), ("popular",)),
    "trending": (_query(f"trending(first: $n) {{ {MOVIE} }}"), ("trending",)),
    "recommendations": (
        _query(f"recommendations(first: $n) {{ score source reason movie {{ {MOVIE} }} }}"),
        ("recommendations",),
    ),
    "similar": (_query(f"movie(movielensId: 1) {{ similar(first: $n) {{ {MOVIE} }} }}"), ("movie", "similar")),
    **{
        f"me.{field}": (_query(f"me {{ {_connection(field, edge)} }}"), ("me", field, "edges"))
        for field, edge in (
            ("ratings", f"node {{ score updatedAt movie {{ {MOVIE} }} }}"),
            ("favorites", f"addedAt node {{ {MOVIE} }}"),
            ("watchlist", f"addedAt node {{ {MOVIE} }}"),
            ("history", f"node {{ watchedAt movie {{ {MOVIE} }} }}"),
        )
    },
}
# ``me`` is null for anonymous callers: its lists are measured signed in only.
CASES = [(name, signed_in) for name in LISTS for signed_in in (False, True) if signed_in or not name.startswith("me.")]


@pytest.fixture(autouse=True)
def _no_response_cache(settings):
    """Whole anonymous responses are cached too (schema/pipeline/response_cache.py): these tests measure what
    resolving a request costs, so every request here is resolved."""
    settings.NEXUS_RESPONSE_CACHE_SECONDS = 0


@pytest.fixture
def heavy_user(trained) -> User:
    """MovieLens user 414 (2,698 ratings, and a stored list from the training), with 60 of the movies they
    rated also among their favorites, on their watchlist and in their history: what they have seen stays the
    same, so their stored list still holds 100 movies to recommend."""
    user = User.objects.get(movielens_id=414)
    rated = [rating.movie for rating in Rating.objects.filter(user=user).select_related("movie").order_by("id")[:60]]
    now = timezone.now()
    Favorite.objects.bulk_create(Favorite(user=user, movie=movie) for movie in rated)
    WatchlistItem.objects.bulk_create(WatchlistItem(user=user, movie=movie) for movie in rated)
    WatchEvent.objects.bulk_create(
        WatchEvent(user=user, movie=movie, watched_at=now - timedelta(hours=index)) for index, movie in enumerate(rated)
    )
    return user


def rows_at(data: dict, path: tuple[str, ...]) -> list:
    for key in path:
        data = data[key]
    return data


def measure(gql, name: str, size: int, token: str | None) -> int:
    """SQL queries of one request for a page of ``size`` rows of list ``name`` (which must come back full)."""
    query, path = LISTS[name]
    with CaptureQueriesContext(connection) as queries:
        data = gql.data(query, {"n": size}, token=token)
    rows = rows_at(data, path)
    assert len(rows) == size, f"{name} returned {len(rows)} rows, not {size}"
    return len(queries.captured_queries)


def cards_expire(capture) -> None:
    """Bump the catalog version, as any change of the catalog does: every cached movie card is stale. And this
    process holds no copy of the viewer's account (nexus.versions.viewer_copy): a cold request reads it."""
    with capture(execute=True):
        catalog_version_bump()
    process_copies_forget()


@pytest.mark.parametrize(("name", "signed_in"), CASES)
def test_pages_of_5_and_50_cost_the_same_few_queries(
    gql, heavy_user, django_capture_on_commit_callbacks, name, signed_in
):
    token = get_token(heavy_user) if signed_in else None
    cold = {}
    for size in (5, 50):
        cards_expire(django_capture_on_commit_callbacks)
        cold[size] = measure(gql, name, size, token)
    # The cards of the page of 50 are cached now; each page is read with no copy of the viewer's data in this
    # process (nexus.versions.viewer_copy), as when another process serves it.
    warm = {size: process_copies_forget() or measure(gql, name, size, token) for size in (5, 50)}
    viewer = "signed in" if signed_in else "anonymous"
    print(f"{name} ({viewer}): cold cache {cold[5]} / {cold[50]}, warm {warm[5]} / {warm[50]} queries for 5 / 50")  # noqa: T201
    assert cold[5] == cold[50] <= MOST_QUERIES
    assert warm[5] == warm[50] <= min(cold[50], MOST_QUERIES_WARM)


def test_the_genre_list_costs_one_query_however_many_genres_there_are(gql, movielens):
    query = "{ genres { name slug movieCount } }"

    def measured() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            genres = gql.data(query)["genres"]
        return len(genres), len(queries.captured_queries)

    few = measured()
    Genre.objects.bulk_create(Genre(name=f"Genre {number}", slug=f"genre-{number}") for number in range(40))
    many = measured()
    assert many[0] == few[0] + 40
    assert few[1] == many[1] == 1


@pytest.mark.parametrize(
    ("field", "query"),
    [
        ("trending", "{ trending(first: 20) { title year genres { name } } }"),
        ("recommendations", "{ recommendations(first: 20) { reason movie { title year genres { name } } } }"),
    ],
)
def test_anonymous_lists_of_20_are_served_without_sql_on_a_warm_cache(gql, trained, field, query):
    first = gql.data(query)
    with CaptureQueriesContext(connection) as queries:
        again = gql.data(query)
    assert again == first
    assert len(first[field]) == 20
    assert len(queries.captured_queries) == 0, [entry["sql"] for entry in queries.captured_queries]


def test_similar_without_a_trained_model_is_batched_and_exact(gql, empty_store, django_capture_on_commit_callbacks):
    """Without precomputed lists, ``similar`` is the most popular movies sharing a genre: loaded for every row
    with one query, and the same as asking for each movie on its own."""
    query = "query($n: Int) { popular(first: $n) { movielensId similar(first: 7) { movielensId } } }"
    counts = {}
    for size in (5, 50):
        cards_expire(django_capture_on_commit_callbacks)
        with CaptureQueriesContext(connection) as queries:
            rows = gql.data(query, {"n": size})["popular"]
        counts[size] = len(queries.captured_queries)
    # The ids of popular movies (1), their cards (1), the movies sharing genres (1), their cards (1): cards the
    # page of 50 has just written may already hold all of the latter.
    assert counts[50] <= counts[5] <= 4
    for row in rows[:: len(rows) // 5] + [row for row in rows if row["movielensId"] == 1]:
        movie = Movie.objects.get(movielens_id=row["movielensId"])
        expected = (
            Movie.objects.filter(genres__in=movie.genres.all())
            .exclude(pk=movie.pk)
            .distinct()
            .order_by("-popularity", "id")
            .values_list("movielens_id", flat=True)[:7]
        )
        assert [similar["movielensId"] for similar in row["similar"]] == list(expected)


def test_signed_in_recommendations_read_movies_and_reasons_from_the_cards(gql, heavy_user):
    query = "{ recommendations(first: 20) { reason source movie { title genres { name } } } }"
    token = get_token(heavy_user)
    first = gql.data(query, token=token)
    with CaptureQueriesContext(connection) as queries:
        again = gql.data(query, token=token)
    assert again == first
    assert any(
        item["reason"].startswith(("Because you", "Popular with people who liked")) for item in first["recommendations"]
    )
    tables = " ".join(entry["sql"] for entry in queries.captured_queries)
    # What remains is the viewer (token) and what they have seen since training: no movie is read.
    assert '"catalog_movie"' not in tables and '"catalog_genre"' not in tables, tables


def test_lists_are_served_from_the_database_when_the_cache_is_unreachable(gql, trained, redis_cache):
    query = "{ trending(first: 10) { title genres { name } similar(first: 3) { title } } popular(first: 10) { title } }"
    expected = gql.data(query)
    dead_cache = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": DEAD_REDIS_URL,
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 0.5},
    }
    with override_settings(CACHES={**settings.CACHES, "default": dead_cache}):
        with pytest.raises((ConnectionInterrupted, RedisError)):  # the cache really is down
            cache.get("anything")
        assert gql.data(query) == expected


def test_queries_grow_with_neither_the_page_nor_the_viewers_library(gql, trained):
    """The viewer's rating, favorite and watchlist state is loaded for the movies on the page only: a viewer
    with an empty library and one with 300 movies in it run the same queries, for 5 rows as for 50."""
    card = "id title genres { name } myRating isFavorite inWatchlist similar(first: 3) { title genres { name } }"
    query = _query(_connection("movies", f"node {{ {card} }}"))
    newcomer, collector = person_create(), person_create()
    most_popular = list(Movie.objects.order_by("-popularity", "id")[:300])
    now = timezone.now()
    Rating.objects.bulk_create(
        Rating(user=collector, movie=movie, score=Decimal("4.5"), created_at=now, updated_at=now)
        for movie in most_popular
    )
    Favorite.objects.bulk_create(Favorite(user=collector, movie=movie) for movie in most_popular)
    WatchlistItem.objects.bulk_create(WatchlistItem(user=collector, movie=movie) for movie in most_popular)
    counts = {}
    for viewer in (newcomer, collector):
        token = get_token(viewer)
        gql.data(query, {"n": 50}, token=token)  # warms the cards of the page and of its similar movies
        for size in (5, 50):
            with CaptureQueriesContext(connection) as queries:
                nodes = [edge["node"] for edge in gql.data(query, {"n": size}, token=token)["movies"]["edges"]]
            counts[viewer.username, size] = len(queries.captured_queries)
            assert len(nodes) == size and all(node["genres"] and len(node["similar"]) == 3 for node in nodes)
            held = viewer == collector
            assert all(
                (node["myRating"], node["isFavorite"], node["inWatchlist"])
                == ((4.5, True, True) if held else (None, False, False))
                for node in nodes
            )
    print(f"movies with the viewer's state, warm cache: {counts}")  # noqa: T201
    assert len(set(counts.values())) == 1, counts
    assert max(counts.values()) <= MOST_QUERIES_WARM


class ThrowawayQuery(graphene.ObjectType):
    movies = graphene.List(graphene.NonNull(MovieType), required=True, n=graphene.Int(required=True))

    @staticmethod
    def resolve_movies(root, info, n):
        # A list resolver that knows nothing of loaders and announces its rows to nobody.
        return list(Movie.objects.order_by("-popularity", "id")[:n])


THROWAWAY_SCHEMA = graphene.Schema(query=ThrowawayQuery)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed in"])
def test_a_list_resolver_that_calls_no_loader_still_batches(trained, django_capture_on_commit_callbacks, signed_in):
    """Movie's per-row fields batch over any list, however its resolver was written: on a cold card cache the
    genres of N movies cost one query, and the viewer's state of them one more."""
    user = person_create() if signed_in else AnonymousUser()
    document = parse(
        "query($n: Int!) { movies(n: $n) { title genres { name } myRating isFavorite inWatchlist "
        "similar(first: 3) { title genres { name } } } }"
    )
    counts = {}
    for size in (5, 50):
        cards_expire(django_capture_on_commit_callbacks)
        request = RequestFactory().post("/graphql")
        request.user = user
        with CaptureQueriesContext(connection) as queries:
            result = execute(
                THROWAWAY_SCHEMA.graphql_schema,
                document,
                context_value=request,
                variable_values={"n": size},
                execution_context_class=DeferredExecutionContext,
            )
        assert result.errors is None, result.errors
        assert len(result.data["movies"]) == size and all(movie["genres"] for movie in result.data["movies"])
        counts[size] = [entry["sql"] for entry in queries.captured_queries]
    assert len(counts[5]) == len(counts[50]), counts
    # The rows; the cards (with genres) of the rows; of their similar movies; the viewer's state of the rows.
    assert len(counts[50]) == 3 + signed_in, counts[50]
    genre_reads = [sql for sql in counts[50] if '"catalog_genre"' in sql]
    assert len(genre_reads) == 2, genre_reads


def test_no_resolver_announces_rows_and_nothing_writes_private_queryset_state():
    """The protocol the loaders replaced: list resolvers had to announce their rows (``rows_listed``) and cards
    were attached to movies by writing Django's private prefetch attributes."""
    forbidden = re.compile(r"\brows_listed\b|_result_cache|_prefetch_done|_prefetched_objects_cache")
    skipped = {".venv", "var", "tests", "node_modules", ".git"}
    offenders = [
        f"{path.relative_to(PROJECT)}:{number}"
        for path in PROJECT.rglob("*.py")
        if not skipped & set(path.relative_to(PROJECT).parts)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if forbidden.search(line)
    ]
    assert offenders == []
