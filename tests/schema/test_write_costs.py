"""What a rating costs the web process, in round trips: SQL statements and Redis commands per rateMovie, the same
for a movie rated by many and by few (the performance issue's writes in O(1)). Counted, never timed."""

import pytest
import redis.connection
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_jwt.shortcuts import get_token

from catalog.models import Movie
from tests.users.factories import movie_global_id, person_create

pytestmark = pytest.mark.usefixtures("movielens")

RATE = (
    "mutation($movie: ID!, $score: Float!) "
    "{ rateMovie(movieId: $movie, score: $score) { rating { score } errors { code } } }"
)
# The movie; the library change (the outbox row, which locks the viewer's library); the rating read and written; the
# statistics' O(1) update; and the operation's transaction (BEGIN/COMMIT; a savepoint and its release in a test):
# the mutation alone in it, and the service, open no savepoint of their own. The viewer's account is this process'
# copy, which a rating leaves standing (it is keyed by the account's own version).
MOST_SQL = 7
# The rate limit (with the viewer's versions in the same round trip); the refresh's dedup mark; the catalog version
# (the movie card's key: a per-process copy in production) and the card dropped; the viewer's data version, bumped
# by the service and again by the view's safety net (twice more in a test, whose transaction never commits: the view
# brings the service's bump forward and bumps again on commit). The catalog's due bump is written by the first
# rating of a staleness window only (nexus.versions.version_bump_due).
MOST_REDIS = 8


@pytest.fixture
def redis_commands(monkeypatch):
    sent = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


@pytest.mark.usefixtures("postgres", "redis_cache")  # what it counts: PostgreSQL's statements, Redis' commands
def test_a_rating_costs_the_same_few_round_trips_on_a_popular_and_on_a_rare_movie(
    gql, redis_commands, django_capture_on_commit_callbacks
):
    popular = Movie.objects.order_by("-rating_count").first()
    rare = Movie.objects.filter(rating_count=1).order_by("pk").first()
    token = get_token(person_create())
    costs = []
    for movie, score in ((popular, 4.0), (rare, 2.5), (popular, 3.0), (rare, 3.5)):
        redis_commands.clear()
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            body = gql.execute(RATE, {"movie": movie_global_id(movie), "score": score}, token=token)
        assert body["data"]["rateMovie"]["errors"] == [], body
        costs.append((len(queries), len(redis_commands)))
    print("SQL statements and Redis commands per rating:", costs)
    assert all(sql <= MOST_SQL and sent <= MOST_REDIS for sql, sent in costs[1:]), costs  # the first opens windows
    assert costs[1] == costs[2] == costs[3], costs  # the same for the most-rated movie as for one rated once
