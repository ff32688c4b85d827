"""The one place where the per-domain parts of the API meet: the root Query and Mutation types."""

import graphene

from schema.catalog.queries import CatalogQueries
from schema.core.node import NodeQueries
from schema.recommender.mutations import RecommenderMutations
from schema.recommender.onboarding import OnboardingQueries
from schema.recommender.queries import RecommenderQueries
from schema.users.library import LibraryMutations, LibraryQueries
from schema.users.lists import ListMutations, ListQueries
from schema.users.mutations import UserMutations
from schema.users.queries import UserQueries


class Query(
    NodeQueries,
    UserQueries,
    LibraryQueries,
    ListQueries,
    CatalogQueries,
    RecommenderQueries,
    OnboardingQueries,
    graphene.ObjectType,
):
    """Everything Nexus can answer."""


class Mutation(UserMutations, LibraryMutations, ListMutations, RecommenderMutations, graphene.ObjectType):
    """Everything Nexus can change: your account, your session tokens, your library (and its import), your lists
    and, for staff, the recommender."""


schema = graphene.Schema(query=Query, mutation=Mutation)
