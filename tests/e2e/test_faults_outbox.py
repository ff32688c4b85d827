# ruff: noqa: F811 - tests take the fixtures imported from tests.recommender.support
"""The refresh outbox in process: one row per user, settled only by a refresh that read every change it stands
for, and drained into refreshes."""

import pytest

from catalog.models import Movie
from recommender import outbox, refresh, store
from tests.recommender.support import eager_tasks, newcomer, trained, trained_session  # noqa: F401 - fixtures
from users import services
from users.models import LibraryChange

pytestmark = pytest.mark.usefixtures("movielens")


def test_a_burst_of_changes_leaves_one_row_whose_token_each_change_replaces(trained, newcomer):
    toy_story, jumanji = Movie.objects.get(movielens_id=1), Movie.objects.get(movielens_id=2)

    services.rating_upsert(user=newcomer, movie=toy_story, score=5)
    first = LibraryChange.objects.get(user=newcomer)
    services.favorite_add(user=newcomer, movie=jumanji)
    second = LibraryChange.objects.get(user=newcomer)

    assert LibraryChange.objects.filter(user=newcomer).count() == 1
    assert first.token != second.token and second.requested_at >= first.requested_at


def test_a_refresh_settles_the_row_it_read(trained, newcomer):
    services.rating_upsert(user=newcomer, movie=Movie.objects.get(movielens_id=1), score=5)

    assert outbox.user_refresh_run(user_id=newcomer.pk) is True

    assert not LibraryChange.objects.filter(user=newcomer).exists()
    assert store.user_list(user_id=newcomer.pk) is not None


def test_a_change_made_while_the_refresh_runs_stays_pending(trained, newcomer, monkeypatch):
    services.rating_upsert(user=newcomer, movie=Movie.objects.get(movielens_id=1), score=5)
    unpatched = refresh.user_recommendations_refresh

    def refresh_then_change(*, user_id):
        done = unpatched(user_id=user_id)
        # Committed after the refresh read the library: the refresh did not see it.
        services.rating_upsert(user=newcomer, movie=Movie.objects.get(movielens_id=2), score=4)
        return done

    monkeypatch.setattr(refresh, "user_recommendations_refresh", refresh_then_change)
    outbox.user_refresh_run(user_id=newcomer.pk)

    assert LibraryChange.objects.filter(user=newcomer).exists()


def test_the_drain_refreshes_every_user_left_in_the_outbox(trained, newcomer, eager_tasks):
    # As if the change committed while the broker was down: recorded, never published.
    services.rating_upsert(user=newcomer, movie=Movie.objects.get(movielens_id=1), score=5)
    assert store.user_list(user_id=newcomer.pk) is None

    assert outbox.refresh_requests_drain() >= 1

    assert not LibraryChange.objects.filter(user=newcomer).exists()
    assert store.user_list(user_id=newcomer.pk) is not None
