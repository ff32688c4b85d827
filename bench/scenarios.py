"""What bench/run measures: each scenario's requests, built here before each run and sent by wrk (bench/load.lua).

Real traffic is many users at once, each with answers of their own, and ratings arriving all the time; the
scenarios measure that beside the hot paths: the mix of the performance issue, reads that miss the response cache
on every request, and ratings of popular and of rarely rated movies. Each run gets requests built afresh (new
nonces, new random picks), so a measured run never replays its warm-up's cache entries.
"""

import dataclasses
import json
import random
from collections.abc import Callable

from bench import BASELINE_PATH

Request = tuple[str | None, str]  # (access token or None for anonymous, JSON body)

MOVIE_FIELDS = "edges { node { id title year genres { name } } }"
HOT_MOVIES = f"{{ movies(first: 20) {{ {MOVIE_FIELDS} }} }}"
SEARCH = f'{{ movies(search: "star", genres: ["Sci-Fi"], first: 20) {{ {MOVIE_FIELDS} }} }}'
BROWSE = (
    "query Browse($genre: String!, $order: MovieOrderField!) { movies(first: 20, genres: [$genre], "
    f"orderBy: {{field: $order, direction: DESC}}) {{ totalCount {MOVIE_FIELDS} }} }}"
)
MOVIE_PAGE = (
    "query Movie($id: ID!) { movie(id: $id) { id title year overview runtime ratingMean ratingCount genres { name } } }"
)
MY_MOVIE = "query MyMovie($id: ID!) { movie(id: $id) { id title year myRating isFavorite inWatchlist } }"
RECOMMENDATIONS = "{ recommendations(first: 20) { movie { id title genres { name } } score reason } }"
RATE_MOVIE = (
    "mutation Rate($movie: ID!, $score: Float!) { rateMovie(movieId: $movie, score: $score) "
    "{ rating { score } errors { field message code } } }"
)
# The browse: 5 genres × 3 orders.
BROWSE_GENRES = ("Action", "Comedy", "Drama", "Sci-Fi", "Thriller")
BROWSE_ORDERS = ("POPULARITY", "RATING", "RELEASE_DATE")
# The mix of the issue: (share of requests, kind).
MIX = ((0.40, "browse"), (0.10, "movie page"), (0.25, "recommendations"), (0.15, "my movie"), (0.10, "rate"))


@dataclasses.dataclass(frozen=True)
class BenchData:
    """What requests are built from: the bench users' access tokens and movies of the catalog (Relay ids)."""

    tokens: list[str]
    movie_ids: list[str]  # every movie
    popular_movie_ids: list[str]  # the most-rated movies
    rare_movie_ids: list[str]  # movies rated a few times at most


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One measured workload: GET ``path`` as it is (``build`` None: the baseline view), or the GraphQL requests
    ``build(data, random, count, run_id)`` returns, sent in turn (each wrk thread takes its own share of them)."""

    key: str
    title: str
    path: str
    build: Callable[[BenchData, random.Random, int, str], list[Request]] | None = None
    # How many requests to build per second measured: enough that the cache-missing ones never repeat.
    per_second: int = 0


def body(query: str, variables: dict | None = None) -> str:
    return json.dumps({"query": query, "variables": variables or {}}, separators=(",", ":"))


def _same(query: str) -> Callable:
    return lambda data, rng, count, run_id: [(None, body(query))]


def _recommendations(*, miss: bool) -> Callable:
    def build(data: BenchData, rng: random.Random, count: int, run_id: str) -> list[Request]:
        if not miss:  # each user's own answer, cached after their first request
            return [(token, body(RECOMMENDATIONS)) for token in data.tokens]
        return [_recommendations_request(data, number, f"{run_id}-{number}") for number in range(count)]

    return build


def _recommendations_request(data: BenchData, number: int, nonce: str | None) -> Request:
    # A variable the document does not declare (GraphQL ignores it) makes each request's cache key its own.
    return data.tokens[number % len(data.tokens)], body(RECOMMENDATIONS, {"nonce": nonce} if nonce else None)


def _browse(rng: random.Random, nonce: str | None = None) -> Request:
    variables = {"genre": rng.choice(BROWSE_GENRES), "order": rng.choice(BROWSE_ORDERS)}
    if nonce:
        variables["nonce"] = nonce
    return None, body(BROWSE, variables)


def _browse_misses(data: BenchData, rng: random.Random, count: int, run_id: str) -> list[Request]:
    return [_browse(rng, f"{run_id}-{number}") for number in range(count)]


def _rate(movie_ids: Callable[[BenchData], list[str]]) -> Callable:
    def build(data: BenchData, rng: random.Random, count: int, run_id: str) -> list[Request]:
        return [_rate_request(data, rng, movie_ids(data)) for _ in range(count)]

    return build


def _rate_request(data: BenchData, rng: random.Random, movie_ids: list[str]) -> Request:
    variables = {"movie": rng.choice(movie_ids), "score": rng.randint(1, 10) / 2}
    return rng.choice(data.tokens), body(RATE_MOVIE, variables)


def _mix(data: BenchData, rng: random.Random, count: int, run_id: str) -> list[Request]:
    shares, kinds = zip(*MIX, strict=True)
    pages = data.popular_movie_ids
    requests = []
    for kind in rng.choices(kinds, weights=shares, k=count):
        if kind == "browse":
            requests.append(_browse(rng))
        elif kind == "movie page":
            requests.append((None, body(MOVIE_PAGE, {"id": rng.choice(pages)})))
        elif kind == "recommendations":
            requests.append(_recommendations_request(data, rng.randrange(len(data.tokens)), None))
        elif kind == "my movie":
            requests.append((rng.choice(data.tokens), body(MY_MOVIE, {"id": rng.choice(pages)})))
        else:
            requests.append(_rate_request(data, rng, data.movie_ids))
    return requests


SCENARIOS = (
    Scenario("baseline", "baseline: plain Django ORM view, same 20 movies", f"/{BASELINE_PATH}"),
    Scenario("movies", "movies(first: 20), anonymous", "/graphql", _same(HOT_MOVIES)),
    Scenario("search", 'movies(search: "star", genres: ["Sci-Fi"], first: 20)', "/graphql", _same(SEARCH)),
    Scenario(
        "movies-miss",
        "movies(first: 20, genres, orderBy) with totalCount, each request a response-cache miss",
        "/graphql",
        _browse_misses,
        per_second=1500,
    ),
    Scenario(
        "recommendations",
        "recommendations(first: 20), rotating over the bench users",
        "/graphql",
        _recommendations(miss=False),
    ),
    Scenario(
        "recommendations-miss",
        "recommendations(first: 20), each request a response-cache miss",
        "/graphql",
        _recommendations(miss=True),
        per_second=1500,
    ),
    Scenario(
        "mix",
        "mix: 40% browse, 10% movie pages, 25% recommendations, 15% my movie, 10% rateMovie",
        "/graphql",
        _mix,
        per_second=1500,
    ),
    Scenario("rate", "rateMovie, random movie and score", "/graphql", _rate(lambda data: data.movie_ids), 600),
    Scenario(
        "rate-popular",
        "rateMovie on the most-rated movies",
        "/graphql",
        _rate(lambda data: data.popular_movie_ids),
        per_second=600,
    ),
    Scenario(
        "rate-rare",
        "rateMovie on rarely rated movies",
        "/graphql",
        _rate(lambda data: data.rare_movie_ids),
        per_second=600,
    ),
)


def requests_for(scenario: Scenario, data: BenchData, *, seconds: float, run_id: str) -> list[Request]:
    """The requests of one run of ``scenario`` lasting ``seconds``."""
    assert scenario.build is not None
    count = max(1000, int(scenario.per_second * max(seconds, 1)))
    return scenario.build(data, random.Random(run_id), count, run_id)
