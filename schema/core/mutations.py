"""The base every Nexus mutation builds on (after Saleor's BaseMutation, much smaller)."""

import graphene
from django.core.exceptions import ValidationError
from django.db import transaction
from graphql import FieldNode

from schema.core.errors import Error, errors_from_validation_error, unauthenticated


class BaseMutation(graphene.Mutation):
    """Checks login, runs ``perform`` in a transaction, and turns a service's ValidationError into ``errors``.

    Subclasses declare ``Arguments`` and payload fields, set ``login_required`` when they need a user, and
    implement ``perform(cls, info, **arguments) -> dict`` of payload fields. When ``errors`` is not empty the
    transaction was rolled back: nothing was written.
    """

    errors = graphene.List(
        graphene.NonNull(Error), required=True, description="Why nothing was changed; empty on success."
    )

    login_required = False

    class Meta:
        abstract = True

    @classmethod
    def mutate(cls, root, info, **arguments):
        if cls.login_required and not info.context.user.is_authenticated:
            raise unauthenticated()
        try:
            with transaction.atomic(savepoint=not _alone_in_its_operation(info)):
                payload = cls.perform(info, **arguments)
        except ValidationError as exc:
            return cls(errors=errors_from_validation_error(exc))
        return cls(errors=[], **payload)

    @classmethod
    def perform(cls, info, **arguments) -> dict:
        raise NotImplementedError


def _alone_in_its_operation(info) -> bool:
    """Whether this is the operation's one root field. The operation runs in one transaction
    (``ATOMIC_MUTATIONS``); a mutation alone in it needs no savepoint of its own: when it fails, the operation's
    whole transaction is rolled back, which is its own. Beside other fields, its savepoint undoes only its writes."""
    selections = info.operation.selection_set.selections
    return len(selections) == 1 and isinstance(selections[0], FieldNode)
