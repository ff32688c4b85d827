"""Reads of custom lists (users.custom_list_models): whose they are and who may see them.

A list is visible to its owner, and to everyone while it is public. Whatever another caller asks for — by slug, by
id — a private list is answered exactly as one that does not exist."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from users.models import CustomList, CustomListEntry, User


def custom_lists_of(*, user: User) -> QuerySet[CustomList]:
    """The user's own lists, most recently created first."""
    return CustomList.objects.filter(user=user).order_by("-created_at", "-id")


def custom_list_visible(*, viewer: User | None, slug: str | None = None, pk: int | None = None) -> CustomList | None:
    """The list with this slug (or primary key) when ``viewer`` may see it; None otherwise, as for no list."""
    lists = CustomList.objects.filter(slug=slug) if slug is not None else CustomList.objects.filter(pk=pk)
    return lists.filter(_visible_to(viewer)).first()


def custom_list_entries(*, custom_list: CustomList) -> QuerySet[CustomListEntry]:
    """The list's movies in its order, each with its movie (one query per page)."""
    return (
        CustomListEntry.objects.filter(custom_list_id=custom_list.pk).select_related("movie").order_by("position", "id")
    )


def custom_lists_first_entries(*, list_ids: Iterable[int], limit: int) -> dict[int, tuple[int, list[CustomListEntry]]]:
    """For each of these lists: how many movies it holds, and its first ``limit`` entries in order, each with its
    movie (two queries, however many lists: what a page of lists with their first movies needs)."""
    list_ids = list(list_ids)
    entries = CustomListEntry.objects.filter(custom_list_id__in=list_ids).order_by()
    counts = dict(entries.values("custom_list_id").annotate(movies=Count("id")).values_list("custom_list_id", "movies"))
    place = Window(RowNumber(), partition_by=F("custom_list_id"), order_by=[F("position").asc(), F("id").asc()])
    first: dict[int, list[CustomListEntry]] = {list_id: [] for list_id in list_ids}
    for entry in (
        entries.select_related("movie")
        .annotate(place=place)
        .filter(place__lte=limit)
        .order_by("custom_list_id", "position", "id")
    ):
        first[entry.custom_list_id].append(entry)
    return {list_id: (counts.get(list_id, 0), first[list_id]) for list_id in list_ids}


def custom_lists_holding(*, user: User, movie_ids: Iterable[int]) -> dict[int, list[CustomList]]:
    """For each of these movies that is in some of the user's lists: those lists, most recently created first.
    One query, by the entries' (movie, list) index, however many lists and movies there are."""
    entries = (
        CustomListEntry.objects.filter(custom_list__user=user, movie_id__in=list(movie_ids))
        .select_related("custom_list")
        .order_by("-custom_list__created_at", "-custom_list_id")
    )
    holding: dict[int, list[CustomList]] = defaultdict(list)
    for entry in entries:
        holding[entry.movie_id].append(entry.custom_list)
    return dict(holding)


def _visible_to(viewer: User | None) -> Q:
    return Q(public=True) | Q(user=viewer) if viewer is not None else Q(public=True)
