"""Rendered subtrees of shared objects, kept with the object's cached copy.

A page of movies spends most of its execution completing the same cards field by field: 20 movies with their
genres are about 150 field resolutions, identical for everyone who asks for the same fields of the same cards. A
GraphQL type lists its *shared* fields (``shared_fields`` on its graphene class): those whose values come from the
object's card alone and are the same for every viewer. When every field a selection asks for, nested ones
included, is shared, the completed subtree is kept in the object's ``card_memo`` (catalog/cards.py: it lives as
long as this process' copy of the card has the same content) under the selection's shape, and the next request
asking for the same fields of the same card takes it as it is. A selection with any other field (``myRating``,
``similar``, ``movieCount``...) is completed as before: nothing that depends on the viewer or on other data is
ever kept. A subtree completed with an error is not kept either, nor anything a mutation answers.
"""

from graphene.utils.str_converters import to_camel_case
from graphql import GraphQLObjectType, OperationType, get_named_type, is_leaf_type, is_object_type
from graphql.execution.values import get_argument_values

from schema.core.deferred import Deferred, DeferredExecutionContext

# Shapes kept per card: a few are asked for in practice (a list's fields, a page's, a recommendation's); a client
# varying its selection on every request must not grow the memo without bound. With catalog.cards.RECENT_CARDS
# copies of about a kilobyte a render, at most about 20 MB a process.
MAX_SHAPES_PER_CARD = 4
# Under this key of ``card_memo``: {shape: rendered subtree}.
MEMO_KEY = "graphql-renders"
# A selection that is not entirely shared (memoized as such per request).
_NOT_SHARED = ()


def shared_field_names(object_type: GraphQLObjectType) -> frozenset[str]:
    """The GraphQL names of the type's shared fields (none for a type that declares none)."""
    names = getattr(object_type, "_nexus_shared_fields", None)
    if names is None:
        declared = getattr(getattr(object_type, "graphene_type", None), "shared_fields", ())
        names = object_type._nexus_shared_fields = frozenset(map(to_camel_case, declared)) | {"__typename"}
    return names


class SharedRenderExecutionContext(DeferredExecutionContext):
    """Execution that takes an object's subtree from its card's memo when the selection allows it (see above)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shapes: dict[tuple, tuple] = {}
        # A mutation's payload shows what it just wrote, before its commit drops the cards it changed: it is
        # always completed in full, and never kept.
        self._sharing = self.operation.operation is not OperationType.MUTATION

    def complete_object_value(self, return_type, field_nodes, info, path, result):
        card_memo = getattr(result, "card_memo", None) if self._sharing else None
        shape = self._shape(return_type, field_nodes) if card_memo is not None else _NOT_SHARED
        if shape is _NOT_SHARED:
            return super().complete_object_value(return_type, field_nodes, info, path, result)
        renders = card_memo.setdefault(MEMO_KEY, {})
        rendered = renders.get(shape)
        if rendered is not None:
            return rendered
        errors_before = len(self.collected_errors.errors)

        def keep(completed):
            # Any error meanwhile, in this subtree or another, and nothing is kept: what is kept is always clean.
            clean = completed is not None and len(self.collected_errors.errors) == errors_before
            if clean and len(renders) < MAX_SHAPES_PER_CARD:
                renders[shape] = completed
            return completed

        completed = super().complete_object_value(return_type, field_nodes, info, path, result)
        return completed.then(keep) if isinstance(completed, Deferred) else keep(completed)

    def _shape(self, object_type: GraphQLObjectType, field_nodes) -> tuple:
        """What the selection asks of an object of this type, as a value (response keys, fields, arguments, nested
        shapes), or ``_NOT_SHARED``. The same field nodes always have the same shape within a request."""
        key = (object_type.name, *map(id, field_nodes))
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = self._shape_of(object_type, field_nodes)
        return shape

    def _shape_of(self, object_type: GraphQLObjectType, field_nodes) -> tuple:
        shared = shared_field_names(object_type)
        shape = [object_type.name]
        for response_key, nodes in self.collect_subfields(object_type, field_nodes).items():
            name = nodes[0].name.value
            if name not in shared:
                return _NOT_SHARED
            if name == "__typename":
                shape.append((response_key, name))
                continue
            field = object_type.fields[name]
            arguments = get_argument_values(field, nodes[0], self.variable_values)
            named = get_named_type(field.type)
            if is_object_type(named):
                nested = self._shape(named, nodes)
                if nested is _NOT_SHARED:
                    return _NOT_SHARED
            elif is_leaf_type(named):
                nested = None
            else:  # an interface or union: which type each value has is not the card's to say
                return _NOT_SHARED
            shape.append((response_key, name, repr(sorted(arguments.items())), nested))
        return tuple(shape)
