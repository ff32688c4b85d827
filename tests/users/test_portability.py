"""users.portability and the batching of library events an import relies on (users.events)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.models import Movie
from tests.users.factories import movie_create, person_create
from users import events
from users.custom_list_portability import CustomListImport
from users.models import CustomList, LibraryChange, Rating, WatchEvent
from users.portability import CREATED, UNCHANGED, UPDATED, LibraryImport


@pytest.fixture
def person(db):
    return person_create("porter")


def test_a_batch_of_library_changes_records_one_outbox_row_and_queues_one_refresh(
    person, monkeypatch, django_capture_on_commit_callbacks
):
    published = []
    monkeypatch.setattr(events, "refresh_publish", lambda *, user_id: published.append(user_id))
    movies = [movie_create() for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=True), events.library_changes_batched():
        writer = LibraryImport(person)
        for movie in movies:
            writer.rating(movie, Decimal("4.0"))
            writer.favorite(movie)

    assert published == [person.pk]
    assert LibraryChange.objects.filter(user=person).count() == 1


def test_without_a_batch_each_change_queues_its_refresh(person, monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr(events, "refresh_publish", lambda *, user_id: published.append(user_id))

    with django_capture_on_commit_callbacks(execute=True):
        writer = LibraryImport(person)
        for _ in range(2):
            writer.rating(movie_create(), Decimal("3.0"))

    assert published == [person.pk, person.pk]  # refresh_publish itself lets the first one through


def test_an_imported_entry_says_what_it_changed_and_keeps_the_files_date(person):
    movie: Movie = movie_create()
    rated_at = datetime(2015, 6, 1, 12, tzinfo=UTC)
    writer = LibraryImport(person)

    assert writer.rating(movie, Decimal("3.5"), at=rated_at) == CREATED
    assert writer.rating(movie, Decimal("3.5"), at=rated_at) == UNCHANGED
    assert writer.rating(movie, Decimal("4.0")) == UPDATED
    rating = Rating.objects.get(user=person, movie=movie)
    assert rating.created_at == rated_at and rating.score == Decimal("4.0")


def test_viewings_are_counted_as_often_as_the_file_lists_them(person):
    movie = movie_create()
    at = datetime(2020, 1, 1, tzinfo=UTC)
    first = LibraryImport(person)
    assert [first.viewing(movie, at=at) for _ in range(2)] == [CREATED, CREATED]

    again = LibraryImport(person)
    assert [again.viewing(movie, at=at) for _ in range(3)] == [UNCHANGED, UNCHANGED, CREATED]
    assert WatchEvent.objects.filter(user=person, movie=movie).count() == 3


def test_imported_lists_are_matched_by_name_and_their_movies_say_what_they_changed(person):
    first, second, third = (movie_create() for _ in range(3))
    created = CustomListImport(person)
    assert created.custom_list("a", name="  Picks ", description="", public=False) == CREATED
    assert [created.entry("a", movie, note="n") for movie in (first, second, first)] == [CREATED, CREATED, UNCHANGED]

    again = CustomListImport(person)
    assert again.custom_list("x", name="Picks", description="", public=False) == UNCHANGED
    assert again.entry("x", second, note="n") == UPDATED  # moved to the first place
    assert again.entry("x", first, note="n") == UNCHANGED  # in its place already, then
    assert again.entry("x", third, note="") == CREATED
    assert again.custom_list("y", name="Picks", description="A second list of that name", public=True) == CREATED

    lists = CustomList.objects.filter(user=person).order_by("created_at", "id")
    assert [(row.name, row.public) for row in lists] == [("Picks", False), ("Picks", True)]
    entries = lists[0].entries.order_by("position").values_list("movie", "note")
    assert list(entries) == [(second.pk, "n"), (first.pk, "n"), (third.pk, "")]
