"""Custom lists through the API: the `list(slug:)` query and the mutations that create, change and fill lists
(users/custom_lists.py). Each mutation answers `list` (the list as it is now; null with errors) and `errors`; a
list id that is not one of the caller's own lists is NOT_FOUND, whether or not some list has it."""

import graphene

from schema.core.ids import parse_global_id
from schema.users.list_types import ListType, list_by_slug
from schema.users.mutations import MOVIE_ID_HELP, LibraryMutation, movie_argument
from users import custom_lists as services

LIST_ID_HELP = "Global id of one of your lists (List.id)."


class ListQueries(graphene.ObjectType):
    list = graphene.Field(
        ListType,
        slug=graphene.String(required=True, description="The list's slug (List.slug)."),
        description="A list by its slug: anyone's public list, or one of your own; null otherwise (a private list "
        "of someone else's is answered exactly as a slug no list has).",
    )

    @staticmethod
    def resolve_list(root, info, slug):
        return list_by_slug(info, slug)


class ListMutation(LibraryMutation):
    """A change to one of the caller's lists; the payload's movies (Movie.inMyLists) show the result."""

    list = graphene.Field(ListType, description="The list as it is now; null when there are errors.")

    class Meta:
        abstract = True


def _list_pk(list_id: str) -> int:
    return parse_global_id(list_id, "List", field="list_id")


class CreateList(ListMutation):
    """Create a list of your own, empty and private unless you say otherwise. Its slug comes from its name and
    never changes. At most `NEXUS_LISTS_MAX_PER_USER` lists per account (LIMIT_EXCEEDED beyond)."""

    class Arguments:
        name = graphene.String(
            required=True, description=f"The list's name (at most {services.NAME_MAX_LENGTH} characters)."
        )
        description = graphene.String(
            description=f"What the list is about (at most {services.DESCRIPTION_MAX_LENGTH} characters)."
        )
        public = graphene.Boolean(default_value=False, description="Whether anyone may read it; false by default.")

    @classmethod
    def perform(cls, info, name, public=False, description=None):
        user = info.context.user
        return {"list": services.custom_list_create(user=user, name=name, description=description or "", public=public)}


class UpdateList(ListMutation):
    """Change one of your lists. Arguments left out stay as they are; the slug stays whatever the name becomes."""

    class Arguments:
        list_id = graphene.ID(required=True, description=LIST_ID_HELP)
        name = graphene.String(description=f"A new name (at most {services.NAME_MAX_LENGTH} characters).")
        description = graphene.String(description="A new description; an empty one clears it.")
        public = graphene.Boolean(description="Whether anyone may read it.")

    @classmethod
    def perform(cls, info, list_id, **changes):
        user = info.context.user
        return {"list": services.custom_list_update(user=user, list_id=_list_pk(list_id), **changes)}


class DeleteList(ListMutation):
    """Delete one of your lists for good, with its movies and notes (the movies stay in the catalog)."""

    class Arguments:
        list_id = graphene.ID(required=True, description=LIST_ID_HELP)

    @classmethod
    def perform(cls, info, list_id):
        return {"list": services.custom_list_delete(user=info.context.user, list_id=_list_pk(list_id))}


class AddToList(ListMutation):
    """Put a movie at the end of one of your lists. A movie already in it keeps its place; a `note` given
    replaces its note. At most `NEXUS_LIST_MAX_MOVIES` movies per list (LIMIT_EXCEEDED beyond)."""

    class Arguments:
        list_id = graphene.ID(required=True, description=LIST_ID_HELP)
        movie_id = graphene.ID(required=True, description=MOVIE_ID_HELP)
        note = graphene.String(description=f"Your note on the movie (at most {services.NOTE_MAX_LENGTH} characters).")

    @classmethod
    def perform(cls, info, list_id, movie_id, note=None):
        pk = _list_pk(list_id)
        custom_list = services.custom_list_add(
            user=info.context.user, list_id=pk, movie=movie_argument(movie_id), note=note
        )
        return {"list": custom_list}


class RemoveFromList(ListMutation):
    """Take a movie out of one of your lists (nothing happens if it is not in it); the movies after it move up."""

    class Arguments:
        list_id = graphene.ID(required=True, description=LIST_ID_HELP)
        movie_id = graphene.ID(required=True, description=MOVIE_ID_HELP)

    @classmethod
    def perform(cls, info, list_id, movie_id):
        pk = _list_pk(list_id)
        return {"list": services.custom_list_remove(user=info.context.user, list_id=pk, movie=movie_argument(movie_id))}


class MoveInList(ListMutation):
    """Move a movie of one of your lists to another place; the movies in between shift by one. Concurrent moves
    of one list apply one after another: no two movies ever share a place."""

    class Arguments:
        list_id = graphene.ID(required=True, description=LIST_ID_HELP)
        movie_id = graphene.ID(required=True, description=MOVIE_ID_HELP)
        position = graphene.Int(required=True, description="The new place: 1 = first, the list's size = last.")

    @classmethod
    def perform(cls, info, list_id, movie_id, position):
        pk = _list_pk(list_id)
        movie = movie_argument(movie_id)
        custom_list = services.custom_list_move(user=info.context.user, list_id=pk, movie=movie, position=position)
        return {"list": custom_list}


class ListMutations(graphene.ObjectType):
    create_list = CreateList.Field()
    update_list = UpdateList.Field()
    delete_list = DeleteList.Field()
    add_to_list = AddToList.Field()
    remove_from_list = RemoveFromList.Field()
    move_in_list = MoveInList.Field()
