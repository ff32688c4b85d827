"""Relay cursor pagination over querysets, both ways, with ``totalCount`` and a hard page-size cap."""

from collections.abc import Callable
from typing import Any

import graphene
from django.conf import settings
from graphene import relay
from graphql import GraphQLError
from graphql_relay import cursor_to_offset, offset_to_cursor

from schema.core.errors import bad_input

DEFAULT_PAGE_SIZE = 20
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


def connection_args(description: str = "") -> dict:
    """The four Relay arguments, documented, for fields that paginate with ``paginate``."""
    cap = settings.NEXUS_MAX_PAGE_SIZE
    return {
        "first": graphene.Int(description=f"Return the first n items (0–{cap}; default {DEFAULT_PAGE_SIZE})."),
        "after": graphene.String(description="Return items after this cursor."),
        "last": graphene.Int(description=f"Return the last n items (0–{cap})."),
        "before": graphene.String(description="Return items before this cursor."),
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


def _offset(name: str, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    offset = cursor_to_offset(cursor)
    if offset is None or offset < 0:
        raise bad_input(f"`{name}` is not a valid cursor.")
    return offset


def paginate(
    queryset,
    connection_type: type[CountableConnection],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    edge_fields: Callable[[Any], dict] = lambda item: {"node": item},
) -> CountableConnection:
    """Slice an ordered queryset into a Relay page: one COUNT query and one query for the page itself.

    Cursors are offsets into the ordered result; ``edge_fields`` turns a row into the edge's fields (e.g. a
    Favorite row into ``node=row.movie, added_at=row.created_at``).
    """
    first, last = _page_size("first", first), _page_size("last", last)
    after_offset, before_offset = _offset("after", after), _offset("before", before)
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE

    total = queryset.count()
    start, end = 0, total
    if after_offset is not None:
        start = min(after_offset + 1, total)
    if before_offset is not None:
        end = max(min(before_offset, end), start)
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)

    rows = list(queryset[start:end]) if end > start else []
    edges = [
        connection_type.Edge(cursor=offset_to_cursor(start + index), **edge_fields(row))
        for index, row in enumerate(rows)
    ]
    page_info = relay.PageInfo(
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
        has_previous_page=start > 0,
        has_next_page=end < total,
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
