"""Custom lists in a library that leaves and enters Nexus (users.portability): what an export shows of them, and
how an import writes them back through the custom lists' own services (users.custom_lists), with their rules —
limits, slugs, text checks, invalidation — unchanged.

Re-importing matches a file's list to one of the account's by name: the first list of the file with a name takes
the account's oldest list of that name, the second the next oldest, and so on; a list left without a match is
created (with a fresh slug: slugs are global, the exported one is informational). A matched list takes the file's
description and public flag; its movies are added, their notes set, and the file's movies put first, in the file's
order; movies of the account's list that the file does not name stay, after them. Nothing is deleted.

Each list counts as one row (created, updated when its description or flag changed, else unchanged) and each of its
movies as one row: created when added, updated when its note or its place changed, unchanged otherwise.
"""

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError

from catalog.models import Movie
from users.custom_lists import (
    custom_list_add,
    custom_list_create,
    custom_list_move,
    custom_list_name_clean,
    custom_list_update,
)
from users.models import CustomList, CustomListEntry, User

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"  # as users.portability


# --- Export -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListEntrySnapshot:
    """A movie of an exported list, with its note and when it was added."""

    movie: Movie
    note: str
    at: datetime


@dataclass(frozen=True)
class ListSnapshot:
    """An exported custom list; its movies in the list's order."""

    name: str
    description: str
    public: bool
    slug: str
    created_at: datetime
    entries: list[ListEntrySnapshot]


def custom_lists_snapshot(*, user: User) -> list[ListSnapshot]:
    """The user's lists, oldest first, each with its movies in order: two queries however many lists there are."""
    lists = list(CustomList.objects.filter(user=user).order_by("created_at", "id"))
    entries: dict[int, list[ListEntrySnapshot]] = defaultdict(list)
    rows = (
        CustomListEntry.objects.filter(custom_list__user=user)
        .select_related("movie")
        .order_by("custom_list_id", "position", "id")
    )
    for row in rows:
        entries[row.custom_list_id].append(ListEntrySnapshot(movie=row.movie, note=row.note, at=row.created_at))
    return [
        ListSnapshot(
            name=custom_list.name,
            description=custom_list.description,
            public=custom_list.public,
            slug=custom_list.slug,
            created_at=custom_list.created_at,
            entries=entries.get(custom_list.pk, []),
        )
        for custom_list in lists
    ]


# --- Import -------------------------------------------------------------------------------------------------------


@dataclass
class _ImportedList:
    custom_list: CustomList
    entries: dict[int, list]  # movie id → [position (0-based), note], as the list holds them now
    placed: int = 0  # the file's movies placed so far: the next one belongs at this position
    seen: set[int] = field(default_factory=set)


class CustomListImport:
    """Writes a file's custom lists into one user's account, telling for each list and each movie what it changed.
    Reads the account's lists once; call inside the import's transaction."""

    def __init__(self, user: User):
        self.user = user
        self._unmatched: dict[str, list[CustomList]] = defaultdict(list)  # the account's lists by name, oldest first
        for custom_list in CustomList.objects.filter(user=user).order_by("created_at", "id"):
            self._unmatched[custom_list.name].append(custom_list)
        self._lists: dict[str, _ImportedList] = {}

    def custom_list(self, key: str, *, name: str, description: str, public: bool, at: datetime | None = None) -> str:
        """The file's list ``key`` (its entries name it): matched by name, or created."""
        with _about(name):
            name = custom_list_name_clean(name)
            held = self._unmatched.get(name)
            if held:
                custom_list = held.pop(0)
                before = (custom_list.description, custom_list.public)
                if before != (description, public):
                    custom_list = custom_list_update(
                        user=self.user, list_id=custom_list.pk, description=description, public=public
                    )
                outcome = UNCHANGED if (custom_list.description, custom_list.public) == before else UPDATED
                entries = {
                    movie_id: [position, note]
                    for movie_id, position, note in custom_list.entries.values_list("movie_id", "position", "note")
                }
            else:
                custom_list = custom_list_create(user=self.user, name=name, description=description, public=public)
                if at is not None:
                    CustomList.objects.filter(pk=custom_list.pk).update(created_at=at)
                outcome, entries = CREATED, {}
        self._lists[key] = _ImportedList(custom_list=custom_list, entries=entries)
        return outcome

    def entry(self, key: str, movie: Movie, *, note: str, at: datetime | None = None) -> str:
        """The movie as the next of list ``key``, with ``note``. A movie the file lists twice keeps its first place."""
        imported = self._lists[key]
        if movie.pk in imported.seen:
            return UNCHANGED
        imported.seen.add(movie.pk)
        place, imported.placed = imported.placed, imported.placed + 1
        list_id, held = imported.custom_list.pk, imported.entries.get(movie.pk)
        with _about(imported.custom_list.name):
            if held is None:
                custom_list_add(user=self.user, list_id=list_id, movie=movie, note=note)
                held = imported.entries[movie.pk] = [len(imported.entries), note]
                if at is not None:
                    CustomListEntry.objects.filter(custom_list_id=list_id, movie=movie).update(created_at=at)
                outcome = CREATED
            else:
                outcome = UNCHANGED
                if note != held[1]:
                    custom_list_add(user=self.user, list_id=list_id, movie=movie, note=note)
                    stored = CustomListEntry.objects.get(custom_list_id=list_id, movie=movie).note
                    outcome, held[1] = (UPDATED if stored != held[1] else UNCHANGED), stored
            if held[0] != place:  # the movies before ``place`` are the file's: this one is after them
                custom_list_move(user=self.user, list_id=list_id, movie=movie, position=place + 1)
                for other in imported.entries.values():
                    if place <= other[0] < held[0]:
                        other[0] += 1
                held[0] = place
                outcome = CREATED if outcome == CREATED else UPDATED
        return outcome


@contextmanager
def _about(name: str) -> Iterator[None]:
    """A refusal of the services names the list it is about."""
    try:
        yield
    except ValidationError as refusal:
        raise ValidationError([f"List {name!r}: {message}" for message in refusal.messages]) from None
