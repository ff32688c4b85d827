"""The one place where the per-domain parts of the API meet: the root Query and Mutation types."""

import graphene

from schema.catalog.queries import CatalogQueries
from schema.core.node import NodeQueries
from schema.users.mutations import UserMutations
from schema.users.queries import UserQueries


class Query(NodeQueries, UserQueries, CatalogQueries, graphene.ObjectType):
    """Everything Nexus can answer."""


class Mutation(UserMutations, graphene.ObjectType):
    """Everything Nexus can change: your account, your session tokens and your library."""


schema = graphene.Schema(query=Query, mutation=Mutation)
