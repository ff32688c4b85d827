"""Scalars of the schema where graphene's own could fail on a client's value with something other than a
GraphQL error (which the view would then report as a server error)."""

import graphene
from django.core.files.uploadedfile import UploadedFile
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


class Upload(graphene.Scalar):
    """A file, sent as a part of a GraphQL multipart request (github.com/jaydenseric/graphql-multipart-request-spec:
    `operations`, `map`, then the file parts). Input only: it cannot be written in a document or as JSON."""

    @staticmethod
    def serialize(value):
        raise GraphQLError("An Upload is input only.")

    @staticmethod
    def parse_literal(node, _variables=None):
        raise GraphQLError("A file is sent as a variable of a multipart request, not written in the document.")

    @staticmethod
    def parse_value(value):
        if isinstance(value, UploadedFile):
            return value
        raise GraphQLError(
            "Upload expects a file part of a multipart request (the `map` field puts it in the variables)."
        )
