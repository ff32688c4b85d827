"""Casts and directors (TMDb credits, written by sync_tmdb): read for many movies, or many people, at once."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet

from catalog.models import Credit, Movie, Person


def person_get(*, pk: int) -> Person | None:
    return Person.objects.filter(pk=pk).first()


def movie_credits_many(*, movie_ids: Iterable[int]) -> dict[int, list[Credit]]:
    """Each movie's credits, cast in billing order then directors, with their people, by movie id (one query)."""
    credits: dict[int, list[Credit]] = defaultdict(list)
    for credit in (
        Credit.objects.filter(movie_id__in=list(movie_ids))
        .select_related("person")
        .order_by("movie_id", "kind", "order")
    ):
        credits[credit.movie_id].append(credit)
    return dict(credits)


def person_movie_ids_many(*, person_ids: Iterable[int], first: int) -> dict[int, list[int]]:
    """The ids of each person's ``first`` movies, most popular first, by person id (one query over their
    credits: a person has at most a few hundred)."""
    rows = (
        Credit.objects.filter(person_id__in=list(person_ids))
        .order_by("person_id", "-movie__popularity", "movie_id")
        .values_list("person_id", "movie_id")
    )
    movies: dict[int, list[int]] = defaultdict(list)
    for person_id, movie_id in rows:
        listed = movies[person_id]
        if len(listed) < first and movie_id not in listed:
            listed.append(movie_id)
    return dict(movies)


def movies_with_person(queryset: QuerySet[Movie], person_id: int) -> QuerySet[Movie]:
    """The movies of ``queryset`` this person is in the cast of, or directed."""
    return queryset.filter(pk__in=Credit.objects.filter(person_id=person_id).values("movie_id"))
