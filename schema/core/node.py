"""The Relay ``node(id:)`` root field, refusing ids of types that are not nodes with a clear error."""

import binascii

import graphene
from graphene import relay
from graphql_relay import from_global_id

from schema.core.errors import bad_input


class NodeQueries(graphene.ObjectType):
    node = graphene.Field(
        relay.Node,
        id=graphene.ID(required=True, description="A global id, as returned in any `id` field."),
        description="Any object by its global id; null when no object has it.",
    )

    @staticmethod
    def resolve_node(root, info, id):  # noqa: A002 - the Relay argument name
        try:
            type_name, _ = from_global_id(id)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            type_name = None
        schema_type = info.schema.get_type(type_name) if type_name else None
        graphene_type = getattr(schema_type, "graphene_type", None)
        if graphene_type is None or relay.Node not in getattr(graphene_type._meta, "interfaces", ()):
            raise bad_input(f"{id!r} is not the id of any object.")
        return relay.Node.get_node_from_global_id(info, id)
