"""Many people rating one movie at the same moment, and one session's refresh token used at once from several
places, each in their own transaction, on PostgreSQL.

Threads need committed data and their own connections, so this test runs outside pytest-django's per-test
transaction. It must not use ``transactional_db``: that truncates every table afterwards, dataset included. It
commits only rows of its own (a new movie and new people) and deletes them again, whatever happens.
"""

import threading
import uuid
from decimal import Decimal
from functools import partial

import pytest
from django.conf import settings
from django.db import connection
from graphql_jwt.refresh_token.models import RefreshToken

from catalog.models import Movie
from tests.conftest import need
from tests.users.factories import assert_statistics_exact, movie_create
from users import services
from users.models import Rating, RefreshTokenFamily, User


@pytest.fixture
def committing_database(django_db_setup, django_db_blocker):
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")
    with django_db_blocker.unblock():
        yield


def run_at_once(tasks) -> list[Exception]:
    """Run each task in its own thread (and connection), all released together; return what they raised."""
    barrier = threading.Barrier(len(tasks))
    failures: list[Exception] = []

    def run(task):
        try:
            barrier.wait()
            task()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return failures


def test_concurrent_ratings_changes_and_deletions_keep_statistics_exact(committing_database):
    prefix = f"concurrency-{uuid.uuid4().hex[:8]}"
    counts_before = [model.objects.count() for model in (Movie, User, Rating)]
    movie = movie_create()
    movie_pk = movie.pk
    people = [User.objects.create(username=f"{prefix}-{number}") for number in range(8)]
    try:
        leaving = people[6:]
        for person in leaving:
            services.rating_upsert(user=person, movie=movie, score=1)

        def rate(person, score):
            return lambda: services.rating_upsert(user=person, movie=Movie.objects.get(pk=movie.pk), score=score)

        def unrate(person):
            return lambda: services.rating_delete(user=person, movie=Movie.objects.get(pk=movie.pk))

        # Six people rate, each from two devices at once with different scores; two others delete theirs.
        tasks = [rate(person, score) for person in people[:6] for score in (Decimal("4.5"), Decimal("2.0"))]
        tasks += [unrate(person) for person in leaving]
        assert run_at_once(tasks) == []

        ratings = Rating.objects.filter(movie=movie)
        assert sorted(ratings.values_list("user_id", flat=True)) == sorted(person.pk for person in people[:6])
        assert set(ratings.values_list("score", flat=True)) <= {Decimal("4.5"), Decimal("2.0")}
        assert_statistics_exact(movie)
        assert movie.rating_count == 6
    finally:
        User.objects.filter(username__startswith=prefix).delete()
        movie.delete()
    assert not Rating.objects.filter(movie_id=movie_pk).exists()
    assert [model.objects.count() for model in (Movie, User, Rating)] == counts_before  # the dataset is intact


def test_a_refresh_token_used_twice_at_once_revokes_its_family_whichever_use_wins(committing_database):
    """Issue 12, finding 8, under concurrency: uses of one session wait for each other on the family's row lock,
    so a replay racing the owner's refresh still finds the token already used, and no token of the family
    survives, whatever order the database picks."""
    user = User.objects.create(username=f"concurrency-{uuid.uuid4().hex[:8]}")
    try:
        for _ in range(3):
            stolen = services.refresh_token_create(user=user)
            newest = services.refresh_token_rotate(token=stolen.token)
            tokens = [newest.token, newest.token, stolen.token, newest.token]
            failures = run_at_once([partial(services.refresh_token_rotate, token=token) for token in tokens])
            assert {failure.code for failure in failures} == {"invalid_token"}
            assert len(failures) >= len(tokens) - 1  # one use at most may have won
            family = RefreshTokenFamily.objects.get(members__token=stolen)
            assert family.revoked is not None
            assert not RefreshToken.objects.filter(family_membership__family=family, revoked__isnull=True).exists()
    finally:
        user.delete()
