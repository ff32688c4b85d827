"""The `List` type: a user's custom list of movies (users/custom_lists.py), its movies in their order, and the
connections that page through lists and their movies."""

import graphene
from graphene import relay
from graphene_django import DjangoObjectType
from graphql import OperationType

from nexus.answer_versions import answer_depends_on
from nexus.keyset import FirstPages, Keyset
from schema.catalog.types import MovieType
from schema.core.auth import viewer
from schema.core.deferred import then
from schema.core.loaders import loader
from schema.core.pagination import CountableConnection, connection_args, first_page_size, paginate
from schema.core.scalars import DateTime
from users import custom_list_selectors as selectors
from users.custom_lists import custom_list_slug_version_key, custom_list_version_key
from users.models import CustomList


class ListMovieConnection(CountableConnection):
    """A page of the movies of a list, in the list's order."""

    class Meta:
        node = MovieType

    class Edge:
        position = graphene.Int(required=True, description="The movie's place in the list: 1 = first.")
        note = graphene.String(required=True, description="The owner's note on the movie; may be empty.")
        added_at = DateTime(required=True, description="When the movie was put in the list.")


class ListType(DjangoObjectType):
    """A named list of movies in the order its owner chose ("Horror night", "Best of the 90s"). Readable by anyone
    while `public`, by its owner alone otherwise: to anyone else a private list is exactly as absent as one that
    does not exist (`list(slug:)` and `node(id:)` answer null)."""

    slug = graphene.String(
        required=True,
        description="Unique in the whole service, readable and fixed at creation (renaming keeps it): "
        '"horror-night-7kq2mz". `list(slug:)` finds the list by it.',
    )
    name = graphene.String(required=True, description="The list's name.")
    description = graphene.String(required=True, description="What the list is about; may be empty.")
    public = graphene.Boolean(required=True, description="Whether anyone may read the list (else only its owner).")
    created_at = DateTime(required=True, description="When the list was created.")
    updated_at = DateTime(required=True, description="When the list or its movies last changed.")
    movies = graphene.Field(
        graphene.NonNull(ListMovieConnection),
        **connection_args(),
        description="The list's movies in its order (first place first); each edge has its position and note.",
    )

    class Meta:
        model = CustomList
        name = "List"
        interfaces = (relay.Node,)
        fields = ("id", "slug", "name", "description", "public", "created_at", "updated_at")

    @classmethod
    def get_node(cls, info, id):  # noqa: A002 - graphene's name
        answer_depends_on(custom_list_version_key(id))  # read before the list: a later change moves it on
        return selectors.custom_list_visible(viewer=viewer(info), pk=id)

    @staticmethod
    def resolve_movies(custom_list, info, **page):
        entries = selectors.custom_list_entries(custom_list=custom_list)
        size = first_page_size(**page)
        if size is None or info.operation.operation is not OperationType.QUERY:
            return paginate(entries, ListMovieConnection, **page, edge_fields=_entry_edge)
        # The first page of every list of the request in two queries (a page of lists with their movies).
        keyset = Keyset.of(entries)
        first_entries = loader(
            info,
            ("list_first_entries", size),
            lambda list_ids: selectors.custom_lists_first_entries(list_ids=list_ids, limit=size + 1),
        )

        def page_of(loaded):
            total, rows = loaded
            pages = FirstPages(keyset, rows, total=total, limit=size + 1)
            return paginate(pages, ListMovieConnection, first=size, edge_fields=_entry_edge)

        return then(first_entries.load(custom_list.pk), page_of)


def list_by_slug(info, slug: str) -> CustomList | None:
    """The list with this slug when the caller may read it, else None (also for a private list of someone else's).
    The answer records the slug's version, read before the list (nexus.answer_versions): any change of the list,
    or a list created under the slug, makes a cached answer built on it stale for every caller."""
    answer_depends_on(custom_list_slug_version_key(slug))
    return selectors.custom_list_visible(viewer=viewer(info), slug=slug)


class ListConnection(CountableConnection):
    """A page of your lists, most recently created first."""

    class Meta:
        node = ListType


def lists_field() -> graphene.Field:
    return graphene.Field(
        graphene.NonNull(ListConnection), **connection_args(), description="Your lists, most recently created first."
    )


def lists_page(user, **page) -> ListConnection:
    return paginate(selectors.custom_lists_of(user=user), ListConnection, **page)


def _entry_edge(entry) -> dict:
    return {"node": entry.movie, "position": entry.position + 1, "note": entry.note, "added_at": entry.created_at}
