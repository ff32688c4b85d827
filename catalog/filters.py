"""Declarative movie filters (django-filter). Values arrive already typed from GraphQL; the FilterSet validates
ranges and turns them into one queryset."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count

from catalog.models import Genre, Movie
from catalog.people import movies_with_person
from catalog.terms import movies_with_all_keywords, movies_with_all_tags
from nexus.text import plain_text

MovieGenre = Movie.genres.through


class NameListField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return []
        values = [value] if isinstance(value, str) else list(value)
        names = [plain_text(str(item)).strip() for item in values]  # checked before strip() drops some controls
        return [name for name in names if name]


class NameListFilter(django_filters.Filter):
    field_class = NameListField


def genre_ids(names: list[str], *, field: str) -> list[int]:
    """Ids of the genres named (case-insensitively, by name or slug); unknown names are a validation error."""
    for name in names:
        plain_text(name, field=field)
    known = {}
    for pk, name, slug in Genre.objects.values_list("pk", "name", "slug"):
        known[name.lower()], known[slug] = pk, pk
    unknown = [name for name in names if name.lower() not in known]
    if unknown:
        listing = ", ".join(Genre.objects.values_list("name", flat=True))
        message = f"Unknown genre(s): {', '.join(unknown)}. Known genres: {listing}."
        raise ValidationError({field: ValidationError(message, code="invalid")})
    return sorted({known[name.lower()] for name in names})


def genre_id(name: str | None, *, field: str = "genre") -> int | None:
    """The id of the one genre named (as ``genre_ids`` reads names), None for no name."""
    return genre_ids([name], field=field)[0] if name else None


class MovieFilter(django_filters.FilterSet):
    genres = NameListFilter(method="filter_all_genres")
    any_genres = NameListFilter(method="filter_any_genres")
    year_from = django_filters.NumberFilter(field_name="year", lookup_expr="gte")
    year_to = django_filters.NumberFilter(field_name="year", lookup_expr="lte")
    released_after = django_filters.DateFilter(field_name="release_date", lookup_expr="gte")
    released_before = django_filters.DateFilter(field_name="release_date", lookup_expr="lte")
    min_rating = django_filters.NumberFilter(field_name="rating_mean", lookup_expr="gte")
    min_votes = django_filters.NumberFilter(field_name="rating_count", lookup_expr="gte")
    runtime_min = django_filters.NumberFilter(field_name="runtime", lookup_expr="gte")
    runtime_max = django_filters.NumberFilter(field_name="runtime", lookup_expr="lte")
    keywords = NameListFilter(method="filter_all_keywords")
    tags = NameListFilter(method="filter_all_tags")
    person = django_filters.NumberFilter(method="filter_person")

    class Meta:
        model = Movie
        fields = []

    def filter_all_genres(self, queryset, name, value):
        if not value:
            return queryset
        ids = genre_ids(value, field=name)
        having_all = (
            MovieGenre.objects.filter(genre_id__in=ids)
            .values("movie_id")
            .annotate(matched=Count("genre_id"))
            .filter(matched=len(ids))
            .values("movie_id")
        )
        return queryset.filter(pk__in=having_all)

    def filter_any_genres(self, queryset, name, value):
        if not value:
            return queryset
        ids = genre_ids(value, field=name)
        return queryset.filter(pk__in=MovieGenre.objects.filter(genre_id__in=ids).values("movie_id"))

    def filter_all_keywords(self, queryset, name, value):
        return movies_with_all_keywords(queryset, value) if value else queryset

    def filter_all_tags(self, queryset, name, value):
        return movies_with_all_tags(queryset, value) if value else queryset

    def filter_person(self, queryset, name, value):
        return movies_with_person(queryset, int(value)) if value is not None else queryset
