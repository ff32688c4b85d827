"""Per-request memoisation and batching, so that a field resolved on every row of a list costs one load per
request, not one per row.

GraphQL resolves a list depth first: every field of row 1, nested ones included, before row 2. A field that
loads something per row (``Movie.similar``) therefore cannot wait for its siblings; instead, the field that
returns the list announces its rows with ``rows_listed``, and the per-row field loads its value for all of
them the first time any of them asks (``batch_load``).
"""

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def request_memo(info, key: str, load: Callable[[], T]) -> T:
    """Return ``load()``, computed at most once per HTTP request (stored on the request object)."""
    memo = _memo(info)
    if key not in memo:
        memo[key] = load()
    return memo[key]


def request_memo_forget(info, key: str) -> None:
    """Drop a memoised value after a mutation changed what it was computed from."""
    _memo(info).pop(key, None)


def rows_listed(info, rows: Iterable[Any]) -> None:
    """Announce the model instances that the field being resolved returns as a list (or page): a per-row field
    of theirs batches its loads over all of them (``batch_load``)."""
    groups = request_memo(info, "listed_rows", dict)
    group = groups.setdefault(_field_path(info), {})
    for row in rows:
        group.setdefault(row.pk, row)


def batch_load(info, key: Hashable, row: Any, load: Callable[[Sequence[Any]], dict[Any, T]]) -> T:
    """The value of a per-row field (``key`` names it with its arguments) for ``row``.

    The first row that asks loads the value for every row listed with it that has none yet, with one call of
    ``load(rows)`` (which returns values by ``row.pk``); the others find theirs memoised. A row that no list
    announced is loaded on its own.
    """
    loaded = request_memo(info, f"batch:{key!r}", dict)
    if row.pk not in loaded:
        siblings = _listed_with(info, row)
        pending = [sibling for pk, sibling in siblings.items() if pk not in loaded]
        if row.pk not in siblings:
            pending.append(row)
        loaded.update(load(pending))
    return loaded[row.pk]


def _listed_with(info, row: Any) -> dict:
    """The rows announced by the closest list field above this field whose rows include ``row``."""
    groups = _memo(info).get("listed_rows", {})
    owner_path = _field_path(info)[:-1]
    for length in range(len(owner_path), 0, -1):
        group = groups.get(owner_path[:length])
        if group is not None and row.pk in group:
            return group
    return {}


def _field_path(info) -> tuple[str, ...]:
    """The field's place in the response, without list indices: ``trending.similar`` for every row's
    ``similar``, ``movies.edges.node`` for every node of a page."""
    return tuple(key for key in info.path.as_list() if isinstance(key, str))


def _memo(info) -> dict:
    return info.context.__dict__.setdefault("_nexus_memo", {})
