"""The catalog's admin pages, on the real ml-latest-small catalog: search, filters, columns, counts."""

import pytest
from django.urls import reverse

from catalog.models import Genre, Movie

pytestmark = pytest.mark.usefixtures("movielens")

MOVIES = reverse("admin:catalog_movie_changelist")


def listed(admin_client, url, **params):
    response = admin_client.get(url, params)
    assert response.status_code == 200
    return response.context["cl"]


def test_search_by_title_words(admin_client):
    titles = [movie.title for movie in listed(admin_client, MOVIES, q="toy story").result_list]
    assert titles[0] == "Toy Story"  # the most popular match first: the list is ordered by popularity
    assert {"Toy Story 2", "Toy Story 3"} <= set(titles)
    assert all("toy" in title.lower() and "story" in title.lower() for title in titles)


@pytest.mark.parametrize("term", ["1", "862", "tt0114709"])  # MovieLens, TMDb and IMDb ids of Toy Story
def test_search_by_any_id(admin_client, term):
    results = listed(admin_client, MOVIES, q=term).result_list
    assert "Toy Story" in [movie.title for movie in results]


def test_filters_by_genre_decade_and_language(admin_client):
    film_noir = Genre.objects.get(name="Film-Noir")
    changelist = listed(admin_client, MOVIES, genres__id__exact=film_noir.pk, decade="1940", original_language="en")
    expected = Movie.objects.filter(genres=film_noir, year__gte=1940, year__lt=1950, original_language="en")
    assert changelist.result_count == expected.count() > 0
    assert {movie.pk for movie in changelist.result_list} == set(expected.values_list("pk", flat=True))


def test_decade_filter_lists_the_decades_in_the_catalog(admin_client):
    response = admin_client.get(MOVIES)
    decade_filter = next(spec for spec in response.context["cl"].filter_specs if spec.title == "decade")
    decades = [value for value, _label in decade_filter.lookup_choices]
    assert decades[0] == "2010" and "1900" in decades
    assert decades == sorted(decades, reverse=True)


def test_invalid_decade_is_refused_without_an_error(admin_client):
    response = admin_client.get(MOVIES, {"decade": "nineties"})
    assert response.status_code == 302 and response.url.endswith("?e=1")


def test_columns_show_statistics(admin_client):
    response = admin_client.get(MOVIES, {"q": "tt0114709"})
    page = response.content.decode()
    toy_story = Movie.objects.get(imdb_id="tt0114709")
    assert f"{toy_story.rating_mean:.2f}" in page
    assert f"{toy_story.popularity:.1f}" in page
    assert "Adventure, Animation, Children, Comedy, Fantasy" in page


def test_movie_page_opens_with_statistics_read_only(admin_client):
    toy_story = Movie.objects.get(movielens_id=1)
    response = admin_client.get(reverse("admin:catalog_movie_change", args=[toy_story.pk]))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.initial["title"] == "Toy Story"
    assert "rating_count" not in form.fields  # shown, not editable


def test_genres_list_their_movie_counts(admin_client):
    changelist = listed(admin_client, reverse("admin:catalog_genre_changelist"))
    counts = {genre.name: genre.movie_count for genre in changelist.result_list}
    assert counts["Drama"] == Movie.objects.filter(genres__name="Drama").count() > 4000


@pytest.mark.parametrize("model", ["keyword", "tag"])
def test_keyword_and_tag_lists_search(admin_client, model):
    changelist = listed(admin_client, reverse(f"admin:catalog_{model}_changelist"), q="dystopia")
    assert changelist.result_count > 0
