"""Scalars of the schema where graphene's own could fail on a client's value with something other than a
GraphQL error (which the view would then report as a server error)."""

import graphene
from graphql import GraphQLError


class DateTime(graphene.DateTime):
    """graphene's DateTime (same name and description), refusing every value it cannot read as a client error:
    dateutil raises OverflowError for some ("9999-12-31T24:00:00" is a day past the last one Python has)."""

    class Meta:
        name = "DateTime"
        description = graphene.DateTime._meta.description

    @staticmethod
    def parse_value(value):
        try:
            return graphene.DateTime.parse_value(value)
        except (OverflowError, ValueError):
            raise GraphQLError(f"DateTime cannot represent value: {value!r}") from None
