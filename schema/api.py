"""The one place where the per-domain parts of the API meet: the root Query and Mutation types."""

import graphene

from schema.catalog.queries import CatalogQueries


class Query(CatalogQueries, graphene.ObjectType):
    """Everything Nexus can answer."""


schema = graphene.Schema(query=Query)
