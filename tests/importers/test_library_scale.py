"""A large library imports in one job: thousands of IMDb ratings with the real ids of ml-latest-small, each row
written through the library's services, one outbox row and one refresh for all of them."""

import csv
import io

import pytest

from catalog.models import Movie
from importers.library.run import library_import_run
from tests.users.factories import person_create
from users.models import ImportJob, LibraryChange, Rating

pytestmark = pytest.mark.usefixtures("movielens")
ROWS = 1000


def imdb_export(movies) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Const", "Your Rating", "Date Rated", "Title", "Title Type", "Year"])
    for index, (imdb_id, title, year) in enumerate(movies):
        writer.writerow([imdb_id, index % 10 + 1, "2020-01-01", title, "Movie", year or ""])
    return out.getvalue().encode()


def test_thousands_of_ratings_import_in_one_job_and_again_change_nothing():
    person = person_create("collector")
    movies = Movie.objects.exclude(imdb_id="").order_by("pk").values_list("imdb_id", "title", "year")[:ROWS]
    content = imdb_export(movies)

    def run() -> ImportJob:
        job = ImportJob.objects.create(user=person, source="imdb", filename="r.csv", content=content)
        assert library_import_run(job_id=job.pk) == ImportJob.Status.DONE
        return ImportJob.objects.get(pk=job.pk)

    first = run()
    again = run()

    assert (first.rows_read, first.rows_created, first.rows_unmatched) == (ROWS, ROWS, 0)
    assert Rating.objects.filter(user=person).count() == ROWS
    assert (again.rows_unchanged, again.rows_created, again.rows_updated) == (ROWS, 0, 0)
    assert LibraryChange.objects.filter(user=person).count() == 1
