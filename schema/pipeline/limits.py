"""What one GraphQL request may ask for: depth, aliases, mutations (validation rules) and cost.

The validation rules run beside graphql-core's standard ones and look only at the document, so their result is
cached with it (schema/pipeline/documents.py). Cost also depends on the variables (``first: $n``), so it is computed
per request by ``operation_cost``.

Cost model: every field costs 1; a field that takes ``first``/``last`` (connections and short lists) multiplies
the cost of its selection by the page size it asks for, or by the argument's default (the default page size
when there is none). Lists without those arguments (a movie's genres, the genre list) are small and counted
once. So ``movies(first: 100) { edges { node { title } } }`` costs 1 + 100 × 3 = 301.

Two kinds of field cost more than that count says, and are priced by what they really cost:

- a root mutation field adds ``NEXUS_GRAPHQL_PASSWORD_COST`` for each password it hashes or checks (each of its
  arguments named ``…password``: one for register, tokenAuth and deleteAccount, two for changePassword) — Argon2
  spends far more CPU than any other field;
- introspection (``__schema``, ``__type``) multiplies its lists by the schema's real sizes (``_IntrospectionSizes``):
  ``__schema { types }`` by the number of types; a list under all the types (their fields, input fields, enum
  values, interfaces, possible types), and the arguments under all the fields, by its real total over them; a list
  of one particular type (``__type(name:)``, a field's ``type``) by the largest such list in the schema. ``ofType``
  counts only as deep as the schema wraps types. GraphiQL's full introspection query then costs about 1.5 times
  the fields it returns, about as much as a catalog query of the same run time.
"""

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.conf import settings
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_wrapping_type,
    value_from_ast,
)
from graphql.execution.values import get_variable_values
from graphql.type.definition import GraphQLInterfaceType, GraphQLObjectType

from schema.core.pagination import DEFAULT_PAGE_SIZE, CountableConnection, page_size_refusal
from schema.pipeline.documents import root_fields

INTROSPECTION_ROOT_FIELDS = frozenset({"__schema", "__type"})
PAGE_SIZE_ARGUMENTS = ("first", "last")
# Nested huge page sizes multiply past any integer JSON (and JavaScript clients) can carry: costs stop here.
COST_CEILING = 2**53 - 1


@dataclass(frozen=True)
class Limits:
    """The request limits in force (settings ``NEXUS_GRAPHQL_MAX_*``)."""

    max_depth: int
    max_aliases: int
    max_cost: int
    max_document_bytes: int
    max_batch: int
    max_mutations: int

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            max_depth=settings.NEXUS_GRAPHQL_MAX_DEPTH,
            max_aliases=settings.NEXUS_GRAPHQL_MAX_ALIASES,
            max_cost=settings.NEXUS_GRAPHQL_MAX_COST,
            max_document_bytes=settings.NEXUS_GRAPHQL_MAX_DOCUMENT_BYTES,
            max_batch=settings.NEXUS_GRAPHQL_MAX_BATCH,
            max_mutations=settings.NEXUS_GRAPHQL_MAX_MUTATIONS,
        )


def limit_error(message: str, code: str, nodes=None) -> GraphQLError:
    """A refusal of a request that exceeds a limit; ``code`` goes to ``extensions.code``."""
    return GraphQLError(message, nodes=nodes, extensions={"code": code})


# --- Walking selections through fragments --------------------------------------------------------------------


class _FragmentMemo:
    """Per-fragment results of one measure, so that a fragment spread many times is measured once (a chain of
    fragments each spreading the next twice would otherwise take exponential time), and a cycle of fragments
    (refused by the standard NoFragmentCycles rule) counts as empty instead of recursing forever."""

    _IN_PROGRESS = object()

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode], measure):
        self._fragments = fragments
        self._measure = measure
        self._results: dict[str, Any] = {}

    def __call__(self, name: str, empty):
        result = self._results.get(name)
        if result is self._IN_PROGRESS:
            return empty
        if result is not None:
            return result
        fragment = self._fragments.get(name)
        if fragment is None:
            return empty  # unknown fragment: the standard KnownFragmentNames rule reports it
        self._results[name] = self._IN_PROGRESS
        self._results[name] = result = self._measure(fragment.selection_set)
        return result


def _fragments_of(document_definitions) -> dict[str, FragmentDefinitionNode]:
    return {node.name.value: node for node in document_definitions if isinstance(node, FragmentDefinitionNode)}


def _selection_depth(selection_set: SelectionSetNode | None, fragment_depth) -> int:
    """Depth of the deepest field below ``selection_set`` (a leaf field is depth 1); introspection exempt."""
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value in INTROSPECTION_ROOT_FIELDS:
                continue  # GraphiQL's own introspection query is deeper than any sensible limit
            depth = 1 + _selection_depth(selection.selection_set, fragment_depth)
        elif isinstance(selection, InlineFragmentNode):
            depth = _selection_depth(selection.selection_set, fragment_depth)
        else:
            depth = fragment_depth(selection.name.value, 0)
        deepest = max(deepest, depth)
    return deepest


def _alias_count(selection_set: SelectionSetNode | None, fragment_aliases) -> int:
    """Aliased fields below ``selection_set``, counting a fragment's once per spread (each spread executes)."""
    if selection_set is None:
        return 0
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += (selection.alias is not None) + _alias_count(selection.selection_set, fragment_aliases)
        elif isinstance(selection, InlineFragmentNode):
            count += _alias_count(selection.selection_set, fragment_aliases)
        else:
            count += fragment_aliases(selection.name.value, 0)
    return count


def _root_field_count(selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]) -> int:
    """Top-level fields of an operation, through fragments on the root type (each one a mutation to run)."""
    return sum(field.name.value != "__typename" for field in root_fields(selection_set, fragments))


# --- Validation rules -----------------------------------------------------------------------------------------


class _OperationRule(ValidationRule):
    """Measures each operation once, fragments included, and refuses it when the measure exceeds its limit
    (``limit``: a field of ``Limits``; ``refusal``: the message, naming the limit and the value)."""

    code = limit = refusal = ""

    def __init__(self, context):
        super().__init__(context)
        self.limits = Limits.from_settings()
        self.fragments = _fragments_of(context.document.definitions)

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args):
        value, maximum = self.measure(node), getattr(self.limits, self.limit)
        if value > maximum:
            label = f"Operation `{node.name.value}`" if node.name else "The operation"
            message = self.refusal.format(label=label, value=value, maximum=maximum)
            self.report_error(limit_error(message, self.code, [node]))
        return self.SKIP  # the measure has looked at everything below

    def measure(self, node: OperationDefinitionNode) -> int:
        raise NotImplementedError


class MaxDepthRule(_OperationRule):
    """Refuses operations nested deeper than ``NEXUS_GRAPHQL_MAX_DEPTH`` fields (introspection exempt)."""

    code, limit = "QUERY_TOO_DEEP", "max_depth"
    refusal = "{label} is nested {value} fields deep; at most {maximum} are allowed."

    def measure(self, node):
        memo = _FragmentMemo(self.fragments, lambda selections: _selection_depth(selections, memo))
        return _selection_depth(node.selection_set, memo)


class MaxAliasesRule(_OperationRule):
    """Refuses operations with more than ``NEXUS_GRAPHQL_MAX_ALIASES`` aliased fields."""

    code, limit = "TOO_MANY_ALIASES", "max_aliases"
    refusal = "{label} uses {value} aliases; at most {maximum} are allowed."

    def measure(self, node):
        memo = _FragmentMemo(self.fragments, lambda selections: _alias_count(selections, memo))
        return _alias_count(node.selection_set, memo)


class MaxMutationsRule(_OperationRule):
    """Refuses mutation operations that run more than ``NEXUS_GRAPHQL_MAX_MUTATIONS`` mutations."""

    code, limit = "TOO_MANY_MUTATIONS", "max_mutations"
    refusal = "{label} runs {value} mutations; at most {maximum} are allowed in one request."

    def measure(self, node):
        if node.operation != OperationType.MUTATION:
            return 0
        return _root_field_count(node.selection_set, self.fragments)


LIMIT_RULES = (MaxDepthRule, MaxAliasesRule, MaxMutationsRule)


# --- Cost ------------------------------------------------------------------------------------------------------


def operation_cost(
    *,
    schema: GraphQLSchema,
    document,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    page_size_refusals: list[GraphQLError] | None = None,
) -> int:
    """The cost of running ``operation`` of a validated ``document`` with ``variables`` (see the module doc);
    page sizes out of their field's range are added to ``page_size_refusals`` (the same BAD_USER_INPUT errors the
    resolvers would raise), so that they are refused before, and instead of, the cost."""
    fragments = _fragments_of(document.definitions)
    coerced = get_variable_values(schema, operation.variable_definitions, dict(variables or {}))
    # Coerced values include the operation's own defaults ($n: Int = 50); bad variables are refused later, by
    # execution, so they are costed as if absent here.
    variables = coerced if isinstance(coerced, dict) else {}

    def page_size(field_node: FieldNode, field_def) -> int:
        sizes = []
        for name in PAGE_SIZE_ARGUMENTS:
            argument_def = field_def.args.get(name)
            if argument_def is None:
                continue
            given = next((arg.value for arg in field_node.arguments if arg.name.value == name), None)
            if isinstance(given, VariableNode):
                value = variables.get(given.name.value, argument_def.default_value)
            elif given is not None:
                value = value_from_ast(given, argument_def.type, variables)
            else:
                value = argument_def.default_value
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.append(max(value, 0))
                refusal = page_size_refusal(name, value, connection=_is_connection(field_def))
                known = {error.message for error in page_size_refusals or ()}
                if refusal is not None and page_size_refusals is not None and refusal.message not in known:
                    page_size_refusals.append(refusal)
        if not sizes:
            has_page_arguments = any(name in field_def.args for name in PAGE_SIZE_ARGUMENTS)
            return DEFAULT_PAGE_SIZE if has_page_arguments else 1
        return min(sizes)  # first and last together return at most the smaller page

    query_type, mutation_type = schema.query_type, schema.mutation_type
    password_cost = settings.NEXUS_GRAPHQL_PASSWORD_COST
    introspection = _IntrospectionCost(schema, fragments)

    def selection_cost(selection_set: SelectionSetNode | None, parent_type) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if parent_type is query_type and selection.name.value in INTROSPECTION_ROOT_FIELDS:
                    total += introspection.root_field_cost(selection)
                    continue
                field_def = _field_definition(parent_type, selection.name.value)
                if field_def is None:  # __typename, or a field of a union member
                    total += 1 + selection_cost(selection.selection_set, None)
                    continue
                child_type = get_named_type(field_def.type)
                total += 1 + page_size(selection, field_def) * selection_cost(selection.selection_set, child_type)
                if parent_type is mutation_type:
                    total += password_cost * _password_count(field_def)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = schema.get_type(condition.name.value) if condition else parent_type
                total += selection_cost(selection.selection_set, fragment_type)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_cost(selection.name.value)
        return total

    fragment_costs: dict[str, int] = {}

    def fragment_cost(name: str) -> int:
        if name not in fragment_costs:
            fragment = fragments.get(name)
            fragment_costs[name] = 0  # a cycle (refused by validation anyway) adds nothing
            if fragment is not None:
                fragment_costs[name] = selection_cost(
                    fragment.selection_set, schema.get_type(fragment.type_condition.name.value)
                )
        return fragment_costs[name]

    return min(selection_cost(operation.selection_set, schema.get_root_type(operation.operation)), COST_CEILING)


def _field_definition(parent_type, name: str):
    if isinstance(parent_type, GraphQLObjectType | GraphQLInterfaceType):
        return parent_type.fields.get(name)
    return None


def _is_connection(field_def) -> bool:
    graphene_type = getattr(get_named_type(field_def.type), "graphene_type", None)
    return isinstance(graphene_type, type) and issubclass(graphene_type, CountableConnection)


def _password_count(field_def) -> int:
    """The passwords a root mutation field hashes or checks: one per argument named ``password``/``…Password``."""
    return sum(name.lower().endswith("password") for name in field_def.args)


@dataclass(frozen=True)
class _IntrospectionSizes:
    """How many objects each introspection list holds in one schema: ``totals`` over everything of the parent's
    kind (all types, all fields, all directives) with ``populations`` (how many of that kind there are), and the
    ``largest`` list of one object; ``wrapping``: the most wrappers (non-null, list) around any type in use."""

    totals: Mapping[tuple[str, str], int]
    largest: Mapping[tuple[str, str], int]
    populations: Mapping[str, int]
    wrapping: int

    @classmethod
    @functools.cache
    def of(cls, schema: GraphQLSchema) -> "_IntrospectionSizes":
        types = list(schema.type_map.values())
        composites = [t for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
        fields = [f for t in composites for f in t.fields.values()]
        inputs = [t for t in types if isinstance(t, GraphQLInputObjectType)]
        lists = {
            ("__Type", "fields"): [len(t.fields) for t in composites],
            ("__Type", "inputFields"): [len(t.fields) for t in inputs],
            # As clients ask for them (includeDeprecated: false): deprecated values are never returned.
            ("__Type", "enumValues"): [
                sum(not value.deprecation_reason for value in t.values.values())
                for t in types
                if isinstance(t, GraphQLEnumType)
            ],
            ("__Type", "interfaces"): [len(t.interfaces) for t in composites],
            ("__Type", "possibleTypes"): [len(schema.get_possible_types(t)) for t in types if is_abstract_type(t)],
            ("__Field", "args"): [len(f.args) for f in fields],
            ("__Directive", "args"): [len(d.args) for d in schema.directives],
            ("__Schema", "types"): [len(types)],
            ("__Schema", "directives"): [len(schema.directives)],
        }
        typed = fields + [a for f in fields for a in f.args.values()] + [f for t in inputs for f in t.fields.values()]
        typed += [a for d in schema.directives for a in d.args.values()]
        return cls(
            totals={key: sum(sizes) for key, sizes in lists.items()},
            largest={key: max(sizes, default=0) for key, sizes in lists.items()},
            populations={
                "__Schema": 1,
                "__Type": len(types),
                "__Field": len(fields),
                "__Directive": len(schema.directives),
            },
            wrapping=max((_wrappers(item.type) for item in typed), default=0),
        )


def _wrappers(type_) -> int:
    count = 0
    while is_wrapping_type(type_):
        type_, count = type_.of_type, count + 1
    return count


class _IntrospectionCost:
    """Introspection priced by what it returns (see the module doc): the cost per object of a selection, where
    the object is one of all objects of its kind (``everything``: averages over them are exact totals) or a
    particular one (the largest lists are assumed), and ``wrapping`` ``ofType`` levels may still follow."""

    _STARTS = {"__schema": ("__Schema", True, 0), "__type": ("__Type", False, 0)}
    # Lists whose items are all the objects of their kind when the parent is, so that totals stay exact below.
    _EVERYTHING_BELOW = {"types", "directives", "fields", "inputFields", "enumValues", "args"}

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]):
        self._schema = schema
        self._fragments = fragments
        self._fragment_costs: dict[tuple, Fraction] = {}

    def root_field_cost(self, field_node: FieldNode) -> int:
        state = self._STARTS[field_node.name.value]
        return 1 + math.ceil(self._cost(field_node.selection_set, state))

    def _cost(self, selection_set: SelectionSetNode | None, state: tuple[str, bool, int]) -> Fraction:
        if selection_set is None:
            return Fraction(0)
        type_name, everything, wrapping = state
        parent = self._schema.get_type(type_name)
        total = Fraction(0)
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1
                field_def = _field_definition(parent, selection.name.value)
                if selection.selection_set is None or field_def is None:
                    continue
                multiplier, child = self._step(type_name, selection.name.value, everything, wrapping, field_def)
                if multiplier:
                    total += multiplier * self._cost(selection.selection_set, child)
            elif isinstance(selection, InlineFragmentNode):
                total += self._cost(selection.selection_set, state)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment_cost(selection.name.value, state)
        return total

    def _step(self, type_name: str, name: str, everything: bool, wrapping: int, field_def):
        """How many objects a field gives per parent object, and the state of each."""
        sizes = _IntrospectionSizes.of(self._schema)
        child_type = get_named_type(field_def.type).name
        key = (type_name, name)
        if name == "ofType":
            return (1 if wrapping > 0 else 0), (child_type, False, wrapping - 1)
        if name == "type":  # a field's or argument's type: wrapped at most as deep as any in the schema
            return 1, (child_type, False, sizes.wrapping)
        if key not in sizes.totals:
            return 1, (child_type, False, 0)  # one object: queryType, mutationType, ...
        if everything:
            multiplier = Fraction(sizes.totals[key], max(sizes.populations[type_name], 1))
            return multiplier, (child_type, name in self._EVERYTHING_BELOW, 0)
        return sizes.largest[key], (child_type, False, 0)

    def _fragment_cost(self, name: str, state: tuple[str, bool, int]) -> Fraction:
        key = (name, state)
        if key not in self._fragment_costs:
            self._fragment_costs[key] = Fraction(0)  # a cycle (refused by validation anyway) adds nothing
            fragment = self._fragments.get(name)
            if fragment is not None:
                self._fragment_costs[key] = self._cost(fragment.selection_set, state)
        return self._fragment_costs[key]


def cost_refusal(*, cost: int, limits: Limits) -> GraphQLError | None:
    """The error refusing an operation of ``cost``, or None when it is within the maximum."""
    if cost <= limits.max_cost:
        return None
    return limit_error(
        f"The query would cost {cost} points; at most {limits.max_cost} are allowed. Ask for smaller pages "
        "(`first`/`last`) or fewer nested lists.",
        "QUERY_TOO_COSTLY",
    )
