import graphene

from schema.core.auth import viewer
from schema.users.types import UserType


class UserQueries(graphene.ObjectType):
    me = graphene.Field(UserType, description="Your account and library; null when you are not logged in.")

    @staticmethod
    def resolve_me(root, info):
        return viewer(info)
