"""Movie cards (catalog/cards.py): this process keeps the cards it read for NEXUS_SHARED_VERSION_SECONDS, and a
rating drops its movie's card at once, here and in the cache."""

from unittest.mock import patch

import pytest

from catalog.cards import movie_cards
from catalog.models import Movie
from tests.users.factories import person_create
from users.services import rating_upsert

pytestmark = pytest.mark.usefixtures("movielens")


def test_cards_read_once_are_served_from_this_process_until_a_rating_drops_one(
    settings, django_assert_num_queries, django_capture_on_commit_callbacks
):
    settings.NEXUS_SHARED_VERSION_SECONDS = 60
    ids = list(Movie.objects.order_by("movielens_id").values_list("pk", flat=True)[:3])
    movie_cards(ids)  # from the database, then kept in the cache and in this process

    with patch("catalog.cards._cache_get_many") as cache_read, django_assert_num_queries(0):
        assert set(movie_cards(ids)) == set(ids)
    cache_read.assert_not_called()

    rated = Movie.objects.get(pk=ids[0])
    with django_capture_on_commit_callbacks(execute=True):
        rating_upsert(user=person_create(), movie=rated, score=5)
    with patch("catalog.cards._cache_get_many", return_value={}) as cache_read:
        card = movie_cards(ids)[ids[0]]
    (keys,) = cache_read.call_args.args  # only the rated movie's card is read again
    assert cache_read.call_count == 1 and len(keys) == 1 and keys[0].endswith(f":{ids[0]}")
    assert card.movie.rating_count == Movie.objects.get(pk=ids[0]).rating_count == rated.rating_count
