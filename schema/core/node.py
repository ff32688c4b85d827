"""The Relay ``node(id:)`` root field, refusing malformed ids and ids of types that are not nodes with a clear
error."""

import graphene
from graphene import relay

from schema.core.errors import bad_input
from schema.core.ids import global_id_parts


class NodeQueries(graphene.ObjectType):
    node = graphene.Field(
        relay.Node,
        id=graphene.ID(required=True, description="A global id, as returned in any `id` field."),
        description="Any object by its global id; null when no object has it.",
    )

    @staticmethod
    def resolve_node(root, info, id):  # noqa: A002 - the Relay argument name
        type_name, pk = global_id_parts(id) or (None, None)
        schema_type = info.schema.get_type(type_name) if type_name else None
        graphene_type = getattr(schema_type, "graphene_type", None)
        if graphene_type is None or relay.Node not in getattr(graphene_type._meta, "interfaces", ()):
            raise bad_input(f"{id!r} is not the id of any object.")
        return graphene_type.get_node(info, pk)
