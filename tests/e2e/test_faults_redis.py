# ruff: noqa: F811 - tests take the fixture imported from tests.faults
"""Redis is killed under a running gunicorn: the catalog and recommendations are still served (fallbacks, no
GraphQL errors), ratings are still saved, logins still work; once Redis is back, caching and the precomputed
lists are used again — without restarting the web server.
"""

import psycopg2
import redis

from tests.faults import GraphQL, prepared, redis_up, stack_copy, stopped_at_exit, wait_for, web_service  # noqa: F401

PASSWORD = "faults-Horse-Battery-42"
REGISTER = """mutation($password: String!) {
  register(username: "redisfan", email: "redisfan@example.com", password: $password) { token errors { code } }
}"""
LOGIN = "mutation($name: String!, $password: String!) { tokenAuth(username: $name, password: $password) { token } }"
MOVIE = "query($id: Int) { movie(movielensId: $id) { id title ratingCount similar(first: 5) { title } } }"
RATE = "mutation($movie: ID!, $score: Float!) { rateMovie(movieId: $movie, score: $score) { errors { code } } }"
RECOMMENDATIONS = "{ recommendations(first: 10) { movie { title } source reason } }"
CATALOG = """{
  movies(first: 5, genres: ["Comedy"], orderBy: {field: RATING, direction: DESC}) {
    totalCount edges { node { title } }
  }
  search: movies(search: "toy story", first: 3) { edges { node { title } } }
  genres { name movieCount }
  popular(first: 5) { title }
  trending(first: 5) { title }
  me { username ratings(first: 5) { totalCount } }
}"""
# Toy Story, Monsters Inc., Finding Nemo; rated while Redis is down: The Incredibles.
RATED_BEFORE, RATED_DURING = (1, 4886, 6377), 8961


def ratings_of(database_url: str, username: str) -> int:
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM users_rating r JOIN users_user u ON u.id = r.user_id WHERE u.username = %s",
            [username],
        )
        return cursor.fetchone()[0]


def test_redis_killed_and_restarted_under_a_running_server(prepared, tmp_path):
    with stack_copy(prepared, tmp_path) as stack:
        # No broker: refreshes run in the web process, so the lists change as soon as ratings commit.
        env = {**stack["env"], "CELERY_BROKER_URL": ""}
        redis_server, redis_url = stack["redis"], stack["redis_url"]
        web, base_url = web_service(env, tmp_path / "web.log")
        with stopped_at_exit(web):
            web.start()
            api = GraphQL(base_url)
            wait_for(api.up, timeout=30, what="gunicorn answers", log=web.log)
            api.token = api.data(REGISTER, password=PASSWORD)["register"]["token"]
            for movielens_id in RATED_BEFORE:
                api.data(RATE, movie=api.data(MOVIE, id=movielens_id)["movie"]["id"], score=5.0)
            before = api.data(RECOMMENDATIONS)["recommendations"]
            assert {item["source"] for item in before} <= {"COLLABORATIVE", "CONTENT"}, before

            redis_server.kill()
            assert not _answers(redis_url)

            catalog = api.data(CATALOG)
            assert catalog["movies"]["totalCount"] > 0 and catalog["search"]["edges"], catalog
            assert catalog["popular"] and catalog["genres"], catalog
            assert catalog["me"] == {"username": "redisfan", "ratings": {"totalCount": len(RATED_BEFORE)}}
            movie = api.data(MOVIE, id=RATED_DURING)["movie"]
            assert len(movie["similar"]) == 5  # from the catalog: the precomputed lists are out of reach
            during = api.data(RECOMMENDATIONS)["recommendations"]
            assert len(during) == 10, during
            assert api.data(RATE, movie=movie["id"], score=4.5)["rateMovie"]["errors"] == []
            assert ratings_of(env["DATABASE_URL"], "redisfan") == len(RATED_BEFORE) + 1
            # Logins read and write throttle counters in the cache: both fail open.
            assert api.data(LOGIN, name="redisfan", password=PASSWORD)["tokenAuth"]["token"]
            refused = api.execute(LOGIN, name="redisfan", password="not the password")
            assert refused["errors"] and "status" not in refused, refused  # a GraphQL error, not a 500
            assert web.running

            redis_server.start()
            wait_for(lambda: redis_up(redis_url), timeout=20, what="redis restarts", log=redis_server.log)
            # The lists survived in Redis' append-only file and are served again, by the same web process.
            after = wait_for(
                lambda: _personal(api.data(RECOMMENDATIONS)["recommendations"]),
                timeout=10,
                what="precomputed recommendations served again",
            )
            assert len(after) == 10
            # The cache is written again: a failed login is counted there.
            api.execute(LOGIN, name="redisfan", password="still not the password")
            client = redis.Redis.from_url(f"{redis_url}/0")
            assert client.keys("*login-failures*"), client.keys("*")
            client.close()
            assert web.running


def _answers(url: str) -> bool:
    try:
        return redis_up(url)
    except redis.ConnectionError:
        return False


def _personal(recommendations: list[dict]) -> list[dict] | None:
    sources = {item["source"] for item in recommendations}
    return recommendations if sources <= {"COLLABORATIVE", "CONTENT"} else None
