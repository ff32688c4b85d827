"""Relay cursor pagination over querysets, both ways, with ``totalCount`` and a hard page-size cap.

Cursors are keysets (``nexus.keyset``), not offsets: an opaque base64 JSON ``{"v": 1, "o": <order>, "k": [<sort
key values>…, <id>]}`` naming the edge's place in the order, so that the page after (or before) it is exact however
the rows moved since (a rating that lifts a movie across a page boundary neither repeats nor skips one)."""

import base64
import binascii
from collections.abc import Callable
from typing import Any

import graphene
import orjson
from django.conf import settings
from graphene import relay
from graphql import GraphQLError

from nexus.keyset import Keyset, QuerysetPages
from schema.core.errors import bad_input

DEFAULT_PAGE_SIZE = 20
CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 2000  # a title of 500 characters, escaped, and a few numbers fit
# Plain lists (popular, trending, recommendations, similar): no cursors, a first-n cut.
SHORT_LIST_DEFAULT, SHORT_LIST_MAX = 20, 100


class CountableConnection(relay.Connection):
    """A Relay connection that also reports how many items there are across all pages."""

    class Meta:
        abstract = True

    total_count = graphene.Int(required=True, description="Number of items across all pages.")

    @staticmethod
    def resolve_total_count(root, info):
        return root.total_count


CURSORS = (
    "Cursors hold the edge's sort key and id: the page is exact however the items moved since (none repeats or is "
    "skipped); a cursor works only with the order (and arguments) that gave it."
)


def connection_args(description: str = "") -> dict:
    """The four Relay arguments, documented, for fields that paginate with ``paginate``."""
    cap = settings.NEXUS_MAX_PAGE_SIZE
    return {
        "first": graphene.Int(description=f"Return the first n items (0–{cap}; default {DEFAULT_PAGE_SIZE})."),
        "after": graphene.String(description=f"Return items after this cursor (an edge's `cursor`). {CURSORS}"),
        "last": graphene.Int(description=f"Return the last n items (0–{cap})."),
        "before": graphene.String(description=f"Return items before this cursor (an edge's `cursor`). {CURSORS}"),
    }


def page_size_refusal(name: str, value: int, *, connection: bool) -> GraphQLError | None:
    """The BAD_USER_INPUT error refusing page size ``value`` of argument ``name`` (of a connection, or of a plain
    list), or None when it is allowed. The request pipeline checks every page size with it before the cost
    (schema/pipeline/limits.py), so that a page too large is refused the same way however large it is."""
    if connection:
        cap = settings.NEXUS_MAX_PAGE_SIZE
        if not 0 <= value <= cap:
            return bad_input(f"`{name}` must be between 0 and {cap} (requested {value}); page through with cursors.")
    elif not 0 <= value <= SHORT_LIST_MAX:
        return bad_input(f"`{name}` must be between 0 and {SHORT_LIST_MAX} (requested {value}).")
    return None


def _page_size(name: str, value: int | None) -> int | None:
    refusal = page_size_refusal(name, value, connection=True) if value is not None else None
    if refusal is not None:
        raise refusal
    return value


def first_page_size(
    *, first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None
) -> int | None:
    """The size of the page these arguments ask for when it is a connection's first page (no cursor, no
    ``last``) of an allowed size; else None (``paginate`` serves it, or refuses it)."""
    if after is not None or last is not None or before is not None:
        return None
    if first is None:
        return DEFAULT_PAGE_SIZE
    return first if page_size_refusal("first", first, connection=True) is None else None


def cursor_encode(keyset: Keyset, key: list) -> str:
    document = {"v": CURSOR_VERSION, "o": keyset.signature, "k": key}
    return base64.b64encode(orjson.dumps(document, default=str)).decode("ascii")


def _cursor_key(name: str, cursor: str | None, keyset: Keyset) -> list | None:
    """The key a cursor holds, read for this order; BAD_USER_INPUT for anything else."""
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        document = orjson.loads(base64.b64decode(cursor, validate=True))
        if not isinstance(document, dict) or document.get("v") != CURSOR_VERSION:
            raise ValueError("not a cursor")
    except (ValueError, binascii.Error):
        raise bad_input(f"`{name}` is not a valid cursor.") from None
    if document.get("o") != keyset.signature:
        raise bad_input(f"`{name}` is a cursor of another order: page with the arguments that gave it.")
    try:
        return keyset.parse(document.get("k"))
    except ValueError:
        raise bad_input(f"`{name}` is not a valid cursor.") from None


def paginate(
    source,
    connection_type: type[CountableConnection],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    edge_fields: Callable[[Any], dict] = lambda item: {"node": item},
) -> CountableConnection:
    """A Relay page of an ordered queryset (or of an object paging as ``nexus.keyset.QuerysetPages`` does, such as
    ``catalog.lists.MovieList``): one COUNT query, one query for the page (``first``/``last`` + 1 rows, to know
    whether more follow) and, with a cursor, one asking whether rows lie beyond it.

    Cursors are keys (see the module); ``edge_fields`` turns a row into the edge's fields (e.g. a Favorite row into
    ``node=row.movie, added_at=row.created_at``). Page info follows the Relay Cursor Connections spec.
    """
    first, last = _page_size("first", first), _page_size("last", last)
    pages = source if hasattr(source, "window") else QuerysetPages(source)
    keyset = pages.keyset
    after_key, before_key = _cursor_key("after", after, keyset), _cursor_key("before", before, keyset)
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE

    total = pages.count()
    if first is not None:
        rows = pages.window(after=after_key, before=before_key, limit=first + 1)
        has_next, rows = len(rows) > first, rows[:first]
        if last is not None:
            has_previous, rows = len(rows) > last, rows[max(len(rows) - last, 0) :]
        else:
            has_previous = after_key is not None and pages.any_up_to(after_key)
    else:
        rows = pages.window(after=after_key, before=before_key, limit=last + 1, from_end=True)
        has_previous, rows = len(rows) > last, rows[max(len(rows) - last, 0) :]
        has_next = before_key is not None and pages.any_from(before_key)

    edges = [connection_type.Edge(cursor=cursor_encode(keyset, key), **edge_fields(row)) for row, key in rows]
    page_info = relay.PageInfo(
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
        has_previous_page=has_previous,
        has_next_page=has_next,
    )
    connection = connection_type(edges=edges, page_info=page_info)
    connection.total_count = total
    return connection


def short_list_size(first: int | None) -> int:
    """The size of a plain list: ``first`` when given (0–100), else 20."""
    first = SHORT_LIST_DEFAULT if first is None else first
    refusal = page_size_refusal("first", first, connection=False)
    if refusal is not None:
        raise refusal
    return first
