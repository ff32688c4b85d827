"""Custom lists (users.custom_list_models): creating, changing and deleting them, and putting movies in them, in
the order their owner chooses.

Every write of a list holds that list's row lock, taken first, until it commits: the edits of one list happen one
after another, each seeing the positions the previous one left, so concurrent moves, additions and removals never
leave two movies at one place or a gap (positions are 0 … n-1; one UPDATE shifts the entries between the old
place and the new one by one, checked for uniqueness at commit). Creating a list locks its owner's account row,
so that two concurrent creations cannot both pass the limit.

Only the owner can change a list: another user's list id is refused exactly as an id no list has (NOT_FOUND), so
an id says nothing about whether a list exists. Invalid input raises ``ValidationError({field: ...})``.

Slugs are global: ``list(slug:)`` finds a list by its slug alone, without naming its owner (the API shows no
user to another), so a slug must name one list in the whole service. A slug is the name, slugified, and a
random suffix ("horror-night-7kq2mz"): readable, fixed at creation (renaming keeps links working), and neither
counted up nor guessable, so creating a list never tells how many others carry the same name and a private
list's slug cannot be found by trying names.
"""

import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from catalog.models import Movie
from nexus.versions import rows_changed, rows_shown_by
from users.cache import user_data_version_key
from users.models import CustomList, CustomListEntry, User
from users.services import _clean_text, _field_error, _validated  # one rule for text input, as for profiles

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 1000
SLUG_NAME_MAX_LENGTH = 60
_SLUG_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: read back from a link without doubt
_SLUG_SUFFIX_LENGTH = 6


# --- Which cached answers show lists (nexus.versions) --------------------------------------------------------------


def custom_list_version_key(list_id: int | str) -> str:
    """Bumped by any change of the list or its movies: keys answers that show it to someone else."""
    return f"custom-list:{list_id}:version"


def custom_list_slug_version_key(slug: str) -> str:
    """Bumped when a list with this slug is created, changed or deleted: keys answers that looked it up by slug,
    including those that found nothing (or nothing they may see)."""
    return f"custom-list-slug:{slug}:version"


def custom_list_rows_declare() -> None:
    """A list shows in its owner's answers (their version) and in others' answers that read it while public (its
    own versions, recorded with those answers: nexus.answer_versions). An entry's write also touches its list."""
    rows_shown_by(
        CustomList,
        lambda rows: {
            key
            for row in rows
            for key in (
                user_data_version_key(row.user_id),
                custom_list_version_key(row.pk),
                custom_list_slug_version_key(row.slug),
            )
        },
    )
    rows_shown_by(CustomListEntry, lambda rows: {custom_list_version_key(row.custom_list_id) for row in rows})


# --- Lists ---------------------------------------------------------------------------------------------------------


@transaction.atomic
def custom_list_create(*, user: User, name: str, description: str = "", public: bool = False) -> CustomList:
    """A new, empty list of the user's; at most ``NEXUS_LISTS_MAX_PER_USER`` of them (LIMIT_EXCEEDED beyond)."""
    values = _validated(
        name=lambda: _clean_name(name),
        description=lambda: _clean_text(
            description or "", field="description", limit=DESCRIPTION_MAX_LENGTH, multiline=True
        ),
    )
    User.objects.select_for_update().filter(pk=user.pk).exists()  # one creation at a time per account
    limit = settings.NEXUS_LISTS_MAX_PER_USER
    if CustomList.objects.filter(user=user).count() >= limit:
        raise ValidationError(
            "You have %(limit)d lists, the most an account can have: delete one first.",
            code="limit_exceeded",
            params={"limit": limit},
        )
    custom_list = _create_with_fresh_slug(user=user, public=bool(public), **values)
    rows_changed(CustomList, [custom_list])
    return custom_list


@transaction.atomic
def custom_list_update(
    *,
    user: User,
    list_id: int,
    name: str | None = None,
    description: str | None = None,
    public: bool | None = None,
) -> CustomList:
    """Change the given parts of one of the user's lists; None leaves a part as it is. The slug stays."""
    checks: dict[str, Callable[[], Any]] = {}
    if name is not None:
        checks["name"] = lambda: _clean_name(name)
    if description is not None:
        checks["description"] = lambda: _clean_text(
            description, field="description", limit=DESCRIPTION_MAX_LENGTH, multiline=True
        )
    values = _validated(**checks)
    custom_list = _own_list_locked(user=user, list_id=list_id)
    if public is not None:
        values["public"] = bool(public)
    for field, value in values.items():
        setattr(custom_list, field, value)
    custom_list.save()
    rows_changed(CustomList, [custom_list])
    return custom_list


@transaction.atomic
def custom_list_delete(*, user: User, list_id: int) -> CustomList:
    """Delete one of the user's lists with its entries; returns it as it was (with its primary key)."""
    custom_list = _own_list_locked(user=user, list_id=list_id)
    rows_changed(CustomList, [custom_list])  # before the deletion clears its primary key
    list_pk = custom_list.pk
    custom_list.delete()
    custom_list.pk = list_pk
    return custom_list


# --- Movies in a list ----------------------------------------------------------------------------------------------


@transaction.atomic
def custom_list_add(*, user: User, list_id: int, movie: Movie, note: str | None = None) -> CustomList:
    """Put the movie at the end of the list, with ``note``. A movie already in the list keeps its place; a note
    given replaces its note. At most ``NEXUS_LIST_MAX_MOVIES`` movies per list (LIMIT_EXCEEDED beyond)."""
    values = _validated(note=lambda: _clean_text(note or "", field="note", limit=NOTE_MAX_LENGTH, multiline=True))
    custom_list = _own_list_locked(user=user, list_id=list_id)
    entry = CustomListEntry.objects.filter(custom_list=custom_list, movie=movie).first()
    if entry is not None:
        if note is None or entry.note == values["note"]:
            return custom_list
        entry.note = values["note"]
        entry.save(update_fields=["note"])
    else:
        size, limit = custom_list.entries.count(), settings.NEXUS_LIST_MAX_MOVIES
        if size >= limit:
            raise ValidationError(
                {
                    "movie_id": ValidationError(
                        "This list holds %(limit)d movies, the most a list can: remove one first.",
                        code="limit_exceeded",
                        params={"limit": limit},
                    )
                }
            )
        entry = CustomListEntry.objects.create(custom_list=custom_list, movie=movie, position=size, note=values["note"])
    return _touched(custom_list, entry)


@transaction.atomic
def custom_list_remove(*, user: User, list_id: int, movie: Movie) -> CustomList:
    """Take the movie out of the list (nothing happens if it is not in it); the movies after it move up."""
    custom_list = _own_list_locked(user=user, list_id=list_id)
    entry = CustomListEntry.objects.filter(custom_list=custom_list, movie=movie).first()
    if entry is None:
        return custom_list
    entry.delete()
    custom_list.entries.filter(position__gt=entry.position).update(position=F("position") - 1)
    entry.custom_list_id = custom_list.pk
    return _touched(custom_list, entry)


@transaction.atomic
def custom_list_move(*, user: User, list_id: int, movie: Movie, position: int) -> CustomList:
    """Move the movie to ``position`` (1 = first, the list's size = last); the movies between its old and its new
    place shift by one."""
    custom_list = _own_list_locked(user=user, list_id=list_id)
    entry = CustomListEntry.objects.filter(custom_list=custom_list, movie=movie).first()
    if entry is None:
        raise _field_error("movie_id", "This movie is not in the list.", "not_found")
    size = custom_list.entries.count()
    if not 1 <= position <= size:
        raise _field_error(
            "position",
            "A position in this list is 1 to %(size)d (got %(position)d).",
            "out_of_range",
            size=size,
            position=position,
        )
    old, new = entry.position, position - 1
    if new == old:
        return custom_list
    if new < old:
        custom_list.entries.filter(position__gte=new, position__lt=old).update(position=F("position") + 1)
    else:
        custom_list.entries.filter(position__gt=old, position__lte=new).update(position=F("position") - 1)
    entry.position = new
    entry.save(update_fields=["position"])
    return _touched(custom_list, entry)


# --- Helpers -------------------------------------------------------------------------------------------------------


def _own_list_locked(*, user: User, list_id: int) -> CustomList:
    """The user's list with this id, row-locked until the transaction ends. Another user's list is refused as a
    missing one."""
    custom_list = CustomList.objects.select_for_update().filter(pk=list_id, user=user).first()
    if custom_list is None:
        raise _field_error("list_id", "You have no list with this id.", "not_found")
    return custom_list


def _touched(custom_list: CustomList, entry: CustomListEntry) -> CustomList:
    """Its movies changed: the list was updated now, and answers showing it are stale."""
    custom_list.updated_at = timezone.now()
    CustomList.objects.filter(pk=custom_list.pk).update(updated_at=custom_list.updated_at)
    rows_changed(CustomListEntry, [entry])
    rows_changed(CustomList, [custom_list])
    return custom_list


def _create_with_fresh_slug(*, user: User, **values) -> CustomList:
    base = slugify(values["name"])[:SLUG_NAME_MAX_LENGTH].strip("-") or "list"
    for _ in range(5):  # 32⁶ suffixes per name: a clash is rare, five in a row never happen
        suffix = "".join(secrets.choice(_SLUG_ALPHABET) for _ in range(_SLUG_SUFFIX_LENGTH))
        try:
            with transaction.atomic():
                return CustomList.objects.create(user=user, slug=f"{base}-{suffix}", **values)
        except IntegrityError:
            continue
    raise RuntimeError("no free slug found in five tries")


def custom_list_name_clean(name: str) -> str:
    """The name as a list keeps it (what creating or renaming a list stores); ValidationError when it is none."""
    return _clean_name(name)


def _clean_name(name: str) -> str:
    name = _clean_text(name, field="name", limit=NAME_MAX_LENGTH)
    if not name:
        raise _field_error("name", "Give the list a name.", "required")
    return name
