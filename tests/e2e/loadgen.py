"""A small asyncio load generator for a running Nexus server: simulated people who sign up, log in, browse and
keep their library, each remembering what the server confirmed, so that nothing lost goes unnoticed.

    python -m tests.e2e.loadgen http://127.0.0.1:8000/graphql --users 50 --duration 60

Each simulated user registers and logs in with tokenAuth (a few at a time, before the clock starts), then
loops until the time is up, one request at a time (no think time: 50 users are 50 requests in flight): reads
(movies with random filters and orders, one movie, popular, recommendations, me) and writes (rateMovie, re-rates
included, deleteRating, addFavorite, addToWatchlist). Every answer other than HTTP 200 with no GraphQL and no
payload errors is an error. Afterwards each user's ratings are read back through ``me`` and compared with the
last score the server confirmed per movie. The report gives requests, requests/s, p50/p99 latency and errors.
"""

import argparse
import asyncio
import collections
import dataclasses
import json
import math
import random
import sys
import time
import uuid

import aiohttp

PASSWORD = "load-test-Quiet-Harbor-2026"
MOVIE_POOL_PAGES = 2  # 200 of the most popular movies: many users rate the same ones at the same time
REQUEST_TIMEOUT = 30
# Passwords are hashed with production Argon2 (about a second of CPU each here): sign-ups and logins go a few at
# a time, before the clock starts, as people arriving over a minute would rather than all in one second.
SIGNUP_CONCURRENCY = 4
SCORES = [step / 2 for step in range(1, 11)]
ORDER_FIELDS = ["POPULARITY", "RATING", "VOTES", "RELEASE_DATE", "TITLE", "YEAR"]

REGISTER = """mutation($username: String!, $email: String!, $password: String!) {
  register(username: $username, email: $email, password: $password) { token errors { field message code } }
}"""
TOKEN_AUTH = (
    "mutation($username: String!, $password: String!) { tokenAuth(username: $username, password: $password) { token } }"
)
GENRES = "{ genres { name } }"
MOVIE_POOL = """query($after: String) {
  movies(first: 100, after: $after) { pageInfo { endCursor } edges { node { id } } }
}"""
MOVIES = """query($genres: [String!], $yearFrom: Int, $minVotes: Int, $order: MovieOrder, $search: String) {
  movies(first: 20, genres: $genres, yearFrom: $yearFrom, minVotes: $minVotes, orderBy: $order, search: $search) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id title year ratingMean ratingCount genres { name } myRating isFavorite inWatchlist } }
  }
}"""
MOVIE = """query($id: ID!) {
  movie(id: $id) { id title overview runtime ratingCount ratingMean genres { name } myRating isFavorite inWatchlist
                   similar(first: 5) { id title } }
}"""
POPULAR = "query($genre: String) { popular(first: 20, genre: $genre) { id title popularity } }"
RECOMMENDATIONS = "{ recommendations(first: 10) { movie { id title } score source reason } }"
ME = """{ me { username ratings(first: 10) { totalCount edges { node { score movie { title } } } }
              favorites(first: 5) { totalCount } watchlist(first: 5) { totalCount } } }"""
RATE = """mutation($movie: ID!, $score: Float!) {
  rateMovie(movieId: $movie, score: $score) { rating { score } errors { field message code } }
}"""
DELETE_RATING = "mutation($movie: ID!) { deleteRating(movieId: $movie) { errors { field message code } } }"
ADD_FAVORITE = "mutation($movie: ID!) { addFavorite(movieId: $movie) { movie { isFavorite } errors { code } } }"
ADD_TO_WATCHLIST = "mutation($movie: ID!) { addToWatchlist(movieId: $movie) { movie { inWatchlist } errors { code } } }"
MY_RATINGS = """query($after: String) {
  me { ratings(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { score movie { id } } } } }
}"""


class RequestFailed(Exception):
    """An answer that is not a clean success: HTTP error, transport error, GraphQL or payload errors."""


@dataclasses.dataclass
class Ledger:
    """What the server confirmed to one user: their ratings (movie id → last score) and library."""

    username: str
    token: str = ""
    ratings: dict[str, float] = dataclasses.field(default_factory=dict)
    favorites: set[str] = dataclasses.field(default_factory=set)
    watchlist: set[str] = dataclasses.field(default_factory=set)


@dataclasses.dataclass
class LoadReport:
    """Figures of one run."""

    users: int
    duration: float
    signup_seconds: float = 0.0
    signup_requests: int = 0
    failed_requests: int = 0  # of the timed phase
    latencies: list[float] = dataclasses.field(default_factory=list)
    by_operation: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    errors: list[str] = dataclasses.field(default_factory=list)
    ledgers: list[Ledger] = dataclasses.field(default_factory=list)

    @property
    def requests(self) -> int:
        """Requests of the timed phase (sign-ups not included), failed ones included."""
        return len(self.latencies) + self.failed_requests

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    def percentile(self, fraction: float) -> float:
        """Latency in milliseconds below which ``fraction`` of the successful requests were answered."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] * 1000  # nearest rank

    def summary(self) -> str:
        writes = sum(count for name, count in self.by_operation.items() if name in WRITES)
        return (
            f"sign-up: {self.users} users registered and logged in ({self.signup_requests} requests) in "
            f"{self.signup_seconds:.1f} s; then {self.users} users for {self.duration:.1f} s: "
            f"{self.requests} requests ({writes} writes), "
            f"{self.requests_per_second:.1f} requests/s, p50 {self.percentile(0.50):.0f} ms, "
            f"p99 {self.percentile(0.99):.0f} ms, {len(self.errors)} errors; "
            f"{sum(len(ledger.ratings) for ledger in self.ledgers)} ratings held by the users"
        )


WRITES = {"rateMovie", "deleteRating", "addFavorite", "addToWatchlist"}


class SimulatedUser:
    def __init__(self, *, http: aiohttp.ClientSession, url: str, report: LoadReport, ledger: Ledger, rng, pool):
        self.http, self.url, self.report, self.ledger, self.rng = http, url, report, ledger, rng
        self.movies, self.genres = pool

    async def call(self, name: str, query: str, variables: dict | None = None, *, measured: bool = True) -> dict:
        """One GraphQL request; returns ``data``, or raises RequestFailed (recorded in the report)."""
        headers = {"Authorization": f"Bearer {self.ledger.token}"} if self.ledger.token else {}
        started = time.perf_counter()
        try:
            async with self.http.post(
                self.url, json={"query": query, "variables": variables or {}}, headers=headers
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            return self._failed(name, f"{type(error).__name__}: {error}", measured)
        elapsed = time.perf_counter() - started
        try:
            body = json.loads(text)
        except ValueError:
            return self._failed(name, f"HTTP {status}, not JSON: {text[:200]}", measured)
        if status != 200 or body.get("errors"):
            return self._failed(name, f"HTTP {status}: {json.dumps(body.get('errors'))[:300]}", measured)
        data = body.get("data") or {}
        payload = next(iter(data.values()), None)
        if isinstance(payload, dict) and payload.get("errors"):
            return self._failed(name, f"payload errors {payload['errors']}", measured)
        if measured:
            self.report.latencies.append(elapsed)
            self.report.by_operation[name] += 1
        return data

    def _failed(self, name: str, reason: str, measured: bool):
        self.report.errors.append(f"{name} ({self.ledger.username}): {reason}")
        self.report.failed_requests += measured
        raise RequestFailed(reason)

    async def sign_up(self, gate: asyncio.Semaphore) -> None:
        """Register, then log in with the password; failures are recorded (as "sign-up ...") and end the user."""
        username = self.ledger.username
        variables = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        async with gate:
            try:
                await self.call("sign-up register", REGISTER, variables, measured=False)
                login = {"username": username, "password": PASSWORD}
                data = await self.call("sign-up tokenAuth", TOKEN_AUTH, login, measured=False)
            except RequestFailed:
                return
            finally:
                self.report.signup_requests += 2
        self.ledger.token = data["tokenAuth"]["token"]

    async def act(self) -> None:
        """One request, chosen as a person browsing and rating would: mostly reads, a good share of writes."""
        rng = self.rng
        roll = rng.random()
        movie = rng.choice(self.movies)
        if roll < 0.16:
            variables = {
                "genres": [rng.choice(self.genres)] if rng.random() < 0.6 else None,
                "yearFrom": rng.choice([None, 1970, 1990, 2000]),
                "minVotes": rng.choice([None, 5, 20]),
                "order": {"field": rng.choice(ORDER_FIELDS), "direction": rng.choice(["ASC", "DESC"])},
                "search": rng.choice([None, None, None, "star", "godfahter", "love"]),
            }
            await self.call("movies", MOVIES, variables)
        elif roll < 0.32:
            await self.call("movie", MOVIE, {"id": movie})
        elif roll < 0.42:
            await self.call("popular", POPULAR, {"genre": rng.choice([None, *self.genres])})
        elif roll < 0.52:
            await self.call("recommendations", RECOMMENDATIONS)
        elif roll < 0.60:
            await self.call("me", ME)
        elif roll < 0.82:
            if self.ledger.ratings and rng.random() < 0.3:  # change one's mind about a movie rated before
                movie = rng.choice(sorted(self.ledger.ratings))
            score = rng.choice(SCORES)
            data = await self.call("rateMovie", RATE, {"movie": movie, "score": score})
            self.ledger.ratings[movie] = float(data["rateMovie"]["rating"]["score"])
        elif roll < 0.88:
            if not self.ledger.ratings:
                return
            movie = rng.choice(sorted(self.ledger.ratings))
            await self.call("deleteRating", DELETE_RATING, {"movie": movie})
            del self.ledger.ratings[movie]
        elif roll < 0.94:
            await self.call("addFavorite", ADD_FAVORITE, {"movie": movie})
            self.ledger.favorites.add(movie)
        else:
            await self.call("addToWatchlist", ADD_TO_WATCHLIST, {"movie": movie})
            self.ledger.watchlist.add(movie)

    async def run(self, deadline: float) -> None:
        if not self.ledger.token:
            return
        while time.monotonic() < deadline:
            try:
                await self.act()
            except RequestFailed:
                continue  # recorded; a person would go on clicking

    async def server_ratings(self) -> dict[str, float]:
        """The user's ratings as the server has them, page by page."""
        ratings, after = {}, None
        while True:
            data = await self.call("me.ratings", MY_RATINGS, {"after": after}, measured=False)
            connection = data["me"]["ratings"]
            ratings.update({edge["node"]["movie"]["id"]: float(edge["node"]["score"]) for edge in connection["edges"]})
            if not connection["pageInfo"]["hasNextPage"]:
                return ratings
            after = connection["pageInfo"]["endCursor"]


async def movie_pool(user: SimulatedUser) -> tuple[list[str], list[str]]:
    """Ids of the most popular movies (what people rate most) and the genre names."""
    ids, after = [], None
    for _ in range(MOVIE_POOL_PAGES):
        connection = (await user.call("pool", MOVIE_POOL, {"after": after}, measured=False))["movies"]
        ids += [edge["node"]["id"] for edge in connection["edges"]]
        after = connection["pageInfo"]["endCursor"]
    genres = [genre["name"] for genre in (await user.call("pool", GENRES, measured=False))["genres"]]
    return ids, genres


async def run_load(url: str, *, users: int = 50, duration: float = 60.0, seed: int = 0) -> LoadReport:
    """Runs ``users`` simulated users against the GraphQL endpoint ``url`` for ``duration`` seconds."""
    run_id = uuid.uuid4().hex[:8]
    report = LoadReport(users=users, duration=duration)
    # The client lets an idle connection go before the server would (gunicorn's keep-alive is 5 s), so that no
    # request is ever sent on a connection the server is closing.
    connector = aiohttp.TCPConnector(limit=users + 1, keepalive_timeout=2)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        scout = SimulatedUser(
            http=http, url=url, report=report, ledger=Ledger(f"load-{run_id}-scout"), rng=None, pool=([], [])
        )
        pool = await movie_pool(scout)
        simulated = [
            SimulatedUser(
                http=http,
                url=url,
                report=report,
                ledger=Ledger(f"load-{run_id}-{number}"),
                rng=random.Random(f"{seed}-{number}"),
                pool=pool,
            )
            for number in range(users)
        ]
        report.ledgers = [user.ledger for user in simulated]
        gate = asyncio.Semaphore(SIGNUP_CONCURRENCY)
        started = time.monotonic()
        await asyncio.gather(*(user.sign_up(gate) for user in simulated))
        report.signup_seconds = time.monotonic() - started
        started = time.monotonic()
        await asyncio.gather(*(user.run(started + duration) for user in simulated))
        report.duration = time.monotonic() - started
    return report


async def ratings_mismatches(url: str, report: LoadReport) -> list[str]:
    """Users whose ratings on the server differ from what the server confirmed to them during the run."""
    mismatches = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:
        for ledger in report.ledgers:
            if not ledger.token:
                mismatches.append(f"{ledger.username} never logged in")
                continue
            reader = SimulatedUser(http=http, url=url, report=report, ledger=ledger, rng=None, pool=([], []))
            on_server = await reader.server_ratings()
            if on_server != ledger.ratings:
                missing = ledger.ratings.keys() - on_server.keys()
                extra = on_server.keys() - ledger.ratings.keys()
                changed = {
                    key for key in on_server.keys() & ledger.ratings.keys() if on_server[key] != ledger.ratings[key]
                }
                mismatches.append(f"{ledger.username}: missing {missing}, unexpected {extra}, other score {changed}")
    return mismatches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the GraphQL endpoint, e.g. http://127.0.0.1:8000/graphql")
    parser.add_argument("--users", type=int, default=50, help="simulated users at once (default 50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the users' choices")
    arguments = parser.parse_args(argv)
    report = asyncio.run(
        run_load(arguments.url, users=arguments.users, duration=arguments.duration, seed=arguments.seed)
    )
    print(report.summary())
    for error in report.errors[:20]:
        print(f"  error: {error}")
    mismatches = asyncio.run(ratings_mismatches(arguments.url, report))
    print(f"ratings read back: {len(mismatches)} users differ from what the server confirmed")
    for mismatch in mismatches[:20]:
        print(f"  {mismatch}")
    return 1 if report.errors or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
