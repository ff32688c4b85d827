"""Keyset pagination: the rows strictly after (or before) a row's sort key and id in a queryset's order, exact
however the data moved since that row was read (no offsets: a row that changed its key elsewhere in the list
neither repeats nor pushes another out of the page).

A ``Keyset`` reads an ordering (``queryset.order_by`` terms: ``"-field"`` or ``F("field").desc(nulls_last=True)``)
whose last term is the primary key, the tie-break that makes every key unique. The filters it builds compare
exactly as that ORDER BY sorts, NULLs included (nullable columns must be ordered NULLS LAST).
"""

import math
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_

from django.core.exceptions import ValidationError
from django.db.models import F, Field, Model, OrderBy, Q, QuerySet


@dataclass(frozen=True)
class KeyPart:
    name: str
    field: Field
    descending: bool
    nullable: bool  # its NULLs sort last, in either direction


class Keyset:
    """The sort key of an ordering: read from rows (``values``), read back from clients (``parse``), and turned
    into filters (``after``, ``before``). ``fields`` gives the fields of annotations (e.g. a computed relevance)."""

    def __init__(self, model: type[Model], ordering, *, fields: dict[str, Field] | None = None):
        parts = []
        for term in ordering:
            if isinstance(term, str):
                descending, name, nulls_last = term.startswith("-"), term.lstrip("-"), False
            elif isinstance(term, OrderBy) and isinstance(term.expression, F) and not term.nulls_first:
                descending, name, nulls_last = term.descending, term.expression.name, bool(term.nulls_last)
            else:
                raise TypeError(f"Keyset pagination cannot order by {term!r}.")
            field = (fields or {}).get(name) or model._meta.get_field(name)
            if field.null and not nulls_last:
                raise ValueError(f"Order the nullable {name} with nulls_last=True to page through it by keyset.")
            parts.append(KeyPart(name, field, descending, field.null))
        if not parts or not parts[-1].field.primary_key:
            raise ValueError("A keyset ordering ends with the primary key, its tie-break.")
        self.parts = tuple(parts)
        self.names = [part.name for part in parts]
        # Which order a key belongs to: a key of one order means nothing in another.
        self.signature = ",".join(("-" if part.descending else "") + part.name for part in parts)

    @classmethod
    def of(cls, queryset: QuerySet) -> "Keyset":
        return cls(queryset.model, queryset.query.order_by)

    def values(self, row) -> list:
        """The key of a row (a model instance, with its annotations)."""
        return [getattr(row, name) for name in self.names]

    def parse(self, values) -> list:
        """A key read back from a client, each value converted by its field; ValueError when it does not fit."""
        if not isinstance(values, list) or len(values) != len(self.parts):
            raise ValueError("not a key of this order")
        return [_parse(part, value) for part, value in zip(self.parts, values, strict=True)]

    def after(self, key: list, *, inclusive: bool = False) -> Q:
        """Rows strictly after ``key`` in this order (from ``key`` on, with ``inclusive``)."""
        return self._beyond(key, forward=True, inclusive=inclusive)

    def before(self, key: list, *, inclusive: bool = False) -> Q:
        """Rows strictly before ``key`` in this order (up to ``key``, with ``inclusive``)."""
        return self._beyond(key, forward=False, inclusive=inclusive)

    def _beyond(self, key: list, *, forward: bool, inclusive: bool) -> Q:
        # (k1, k2, …, id) beyond (v1, v2, …, vid): beyond on k1, or equal on k1 and beyond on k2, …
        terms, equal = [], Q()
        for index, (part, value) in enumerate(zip(self.parts, key, strict=True)):
            step = _step(part, value, forward=forward, inclusive=inclusive and index == len(self.parts) - 1)
            if step is not None:
                terms.append(equal & step)
            equal &= Q(**{f"{part.name}__isnull": True}) if value is None else Q(**{part.name: value})
        return reduce(or_, terms) if terms else Q(pk__in=[])


def _step(part: KeyPart, value, *, forward: bool, inclusive: bool) -> Q | None:
    """The rows whose ``part`` sorts beyond ``value`` (forward: after it; else before it), or None for none."""
    if value is None:  # NULLs come last: nothing comes after them, every value before them
        return None if forward else Q(**{f"{part.name}__isnull": False})
    larger = forward != part.descending
    lookup = ("gt" if larger else "lt") + ("e" if inclusive else "")
    step = Q(**{f"{part.name}__{lookup}": value})
    if forward and part.nullable:
        step |= Q(**{f"{part.name}__isnull": True})
    return step


def _parse(part: KeyPart, value):
    if value is None:
        if not part.nullable:
            raise ValueError(f"{part.name} cannot be null")
        return None
    if isinstance(value, bool | list | dict) or (isinstance(value, str) and "\x00" in value):
        raise ValueError(f"not a value of {part.name}")
    try:
        parsed = part.field.to_python(value)
    except (ValidationError, TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"not a value of {part.name}") from error
    if (isinstance(parsed, float) and not math.isfinite(parsed)) or (
        isinstance(parsed, datetime) and parsed.tzinfo is None
    ):
        raise ValueError(f"not a value of {part.name}")
    return parsed


def keyset_slice(
    queryset: QuerySet,
    keyset: Keyset,
    *,
    after: list | None = None,
    before: list | None = None,
    limit: int,
    from_end: bool = False,
) -> list:
    """Up to ``limit`` rows of ``queryset`` (ordered as ``keyset`` reads) strictly between the keys, in order: the
    first ones, or the last ones ``from_end``. One query."""
    if after is not None:
        queryset = queryset.filter(keyset.after(after))
    if before is not None:
        queryset = queryset.filter(keyset.before(before))
    if from_end:
        return list(queryset.reverse()[:limit])[::-1]
    return list(queryset[:limit])


class QuerysetPages:
    """An ordered queryset as ``schema.core.pagination.paginate`` pages through it: its count, windows of
    (row, key) between keys, and whether rows exist up to or from a key."""

    def __init__(self, queryset: QuerySet):
        self.queryset = queryset
        self.keyset = Keyset.of(queryset)

    def count(self) -> int:
        return self.queryset.count()

    def window(self, *, after=None, before=None, limit: int, from_end: bool = False) -> list[tuple]:
        rows = keyset_slice(self.queryset, self.keyset, after=after, before=before, limit=limit, from_end=from_end)
        return [(row, self.keyset.values(row)) for row in rows]

    def any_up_to(self, key: list) -> bool:
        return self.queryset.filter(self.keyset.before(key, inclusive=True)).exists()

    def any_from(self, key: list) -> bool:
        return self.queryset.filter(self.keyset.after(key, inclusive=True)).exists()


class FirstPages:
    """The first rows of an ordered queryset, loaded beforehand (with other querysets' in one query: see
    ``users.custom_list_selectors.custom_lists_first_entries``), paging as ``QuerysetPages`` does, for a first
    page of at most ``len(rows)`` + 1 rows only: the rows it was given are all there is up to ``limit``."""

    def __init__(self, keyset: Keyset, rows: list, *, total: int, limit: int):
        self.keyset, self._rows, self._total, self._limit = keyset, rows, total, limit

    def count(self) -> int:
        return self._total

    def window(self, *, after=None, before=None, limit: int, from_end: bool = False) -> list[tuple]:
        if after is not None or before is not None or from_end or limit > self._limit:
            raise ValueError("FirstPages serves the first page only, of at most the rows it was loaded with.")
        return [(row, self.keyset.values(row)) for row in self._rows[:limit]]
