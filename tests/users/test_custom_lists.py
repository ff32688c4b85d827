"""Custom lists under concurrent edits, each in its own transaction, on PostgreSQL: moves, additions and removals
of one list apply one after another (the list's row lock), so its positions stay 0 … n-1 with no two movies at
one place, and the limits hold against concurrent requests.

Runs outside pytest-django's per-test transaction (threads need committed rows); commits only rows of its own (an
account and its movies) and deletes them again, whatever happens (as tests/users/test_concurrency.py)."""

import random
import uuid

from django.db.models import Count

from catalog.models import Movie
from tests.users.factories import movie_create
from tests.users.test_concurrency import committing_database, run_at_once  # noqa: F401 - a fixture
from users import custom_lists
from users.models import CustomList, CustomListEntry, User


def _positions(custom_list) -> list[int]:
    return list(
        CustomListEntry.objects.filter(custom_list=custom_list).order_by("position").values_list("position", flat=True)
    )


def test_concurrent_moves_additions_and_removals_keep_positions_dense(committing_database, settings):  # noqa: F811
    owner = User.objects.create(username=f"lists-{uuid.uuid4().hex[:8]}")
    movies = [movie_create() for _ in range(31)]
    try:
        custom_list = custom_lists.custom_list_create(user=owner, name="Busy")
        for movie in movies[:20]:
            custom_lists.custom_list_add(user=owner, list_id=custom_list.pk, movie=movie)
        chooser = random.Random(7)

        def move(movie, position):
            return lambda: custom_lists.custom_list_move(
                user=owner, list_id=custom_list.pk, movie=movie, position=position
            )

        tasks = [move(chooser.choice(movies[:15]), chooser.randint(1, 15)) for _ in range(12)]
        tasks += [
            lambda m=m: custom_lists.custom_list_add(user=owner, list_id=custom_list.pk, movie=m) for m in movies[20:25]
        ]
        tasks += [
            lambda m=m: custom_lists.custom_list_remove(user=owner, list_id=custom_list.pk, movie=m)
            for m in movies[15:20]
        ]
        assert run_at_once(tasks) == []
        assert _positions(custom_list) == list(range(20))
        held = set(CustomListEntry.objects.filter(custom_list=custom_list).values_list("movie_id", flat=True))
        assert held == {movie.pk for movie in movies[:15] + movies[20:25]}

        # Six concurrent additions to a list with room for three: exactly three land.
        settings.NEXUS_LIST_MAX_MOVIES = 23
        adds = [
            lambda m=m: custom_lists.custom_list_add(user=owner, list_id=custom_list.pk, movie=m) for m in movies[25:31]
        ]
        failures = run_at_once(adds)
        assert [getattr(error, "error_dict", {}).get("movie_id")[0].code for error in failures] == [
            "limit_exceeded"
        ] * 3
        assert _positions(custom_list) == list(range(23))

        # Concurrent creations past the limit of lists per account.
        settings.NEXUS_LISTS_MAX_PER_USER = 3
        creations = [lambda n=n: custom_lists.custom_list_create(user=owner, name=f"List {n}") for n in range(5)]
        assert len(run_at_once(creations)) == 3
        assert CustomList.objects.filter(user=owner).count() == 3
        assert not CustomList.objects.values("slug").annotate(n=Count("id")).filter(n__gt=1).exists()
    finally:
        owner.delete()
        Movie.objects.filter(pk__in=[movie.pk for movie in movies]).delete()
