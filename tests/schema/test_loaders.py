"""Per-request loaders (schema/core/loaders.py) on the deferred execution (schema/core/deferred.py), on a small
schema of their own: keys of a pass load in one batch, errors land where graphql-core puts them, and mutations
see each other's changes in order."""

from types import SimpleNamespace

import pytest
from django.urls import resolve
from graphql import (
    ExecutionContext,
    GraphQLArgument,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    execute,
    parse,
)

from schema.core.deferred import DeferredExecutionContext
from schema.core.loaders import loader, loader_forget


class Library:
    """A tiny store that records every batch it is asked for."""

    def __init__(self):
        self.names = {number: f"item {number}" for number in range(1, 200)}
        self.marked: set[int] = set()
        self.batches: list[tuple[str, list[int]]] = []

    def names_of(self, keys):
        self.batches.append(("names", sorted(keys)))
        return {key: self.names[key] for key in keys if key in self.names}

    def marks_of(self, keys):
        self.batches.append(("marks", sorted(keys)))
        return {key: key in self.marked for key in keys}

    def related_of(self, keys):
        self.batches.append(("related", sorted(keys)))
        return {key: [key + 100] for key in keys if key in self.names}

    def broken(self, keys):
        self.batches.append(("broken", sorted(keys)))
        raise RuntimeError("the store is down")


def build_schema(library: Library) -> GraphQLSchema:
    item = GraphQLObjectType(
        "Item",
        lambda: {
            "number": GraphQLField(GraphQLNonNull(GraphQLInt), resolve=lambda number, info: number),
            "name": GraphQLField(
                GraphQLString, resolve=lambda number, info: loader(info, "names", library.names_of).load(number)
            ),
            "marked": GraphQLField(
                GraphQLNonNull(GraphQLString),
                resolve=lambda number, info: loader(info, "marks", library.marks_of, default=False).load(number),
            ),
            "broken": GraphQLField(
                GraphQLString, resolve=lambda number, info: loader(info, "broken", library.broken).load(number)
            ),
            "brokenRequired": GraphQLField(
                GraphQLNonNull(GraphQLString),
                resolve=lambda number, info: loader(info, "broken", library.broken).load(number),
            ),
            "related": GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(item))),
                resolve=lambda number, info: loader(info, "related", library.related_of, default=()).load(number),
            ),
            # A plain list resolver: nothing in it knows about loaders.
            "neighbours": GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(item))), resolve=lambda number, info: [number + 1, number + 2]
            ),
        },
    )
    query = GraphQLObjectType(
        "Query",
        {
            "items": GraphQLField(
                GraphQLList(item),
                args={"n": GraphQLArgument(GraphQLNonNull(GraphQLInt))},
                resolve=lambda root, info, n: list(range(1, n + 1)),
            )
        },
    )

    def mark(root, info, number):
        library.marked.add(number)
        loader_forget(info, "marks")
        return number

    def unmark(root, info, number):
        library.marked.discard(number)
        loader_forget(info, "marks")
        return number

    mutation = GraphQLObjectType(
        "Mutation",
        {
            name: GraphQLField(item, args={"number": GraphQLArgument(GraphQLNonNull(GraphQLInt))}, resolve=change)
            for name, change in (("mark", mark), ("unmark", unmark))
        },
    )
    return GraphQLSchema(query=query, mutation=mutation)


def run(library: Library, document: str, execution_context_class=DeferredExecutionContext):
    context = SimpleNamespace()
    return execute(
        build_schema(library), parse(document), context_value=context, execution_context_class=execution_context_class
    )


def test_the_endpoint_executes_with_deferred_values():
    """/graphql's execution (which also sets every root field's identity) waits for loaders."""
    assert issubclass(resolve("/graphql").func.view_class.execution_context_class, DeferredExecutionContext)


@pytest.mark.parametrize("size", [3, 40])
def test_a_whole_pass_loads_its_keys_in_one_batch_per_loader(size):
    library = Library()
    result = run(library, f"{{ items(n: {size}) {{ name marked neighbours {{ name neighbours {{ name }} }} }} }}")
    assert result.errors is None
    items = result.data["items"]
    assert [item["name"] for item in items] == [f"item {number}" for number in range(1, size + 1)]
    assert items[0]["neighbours"][1] == {"name": "item 3", "neighbours": [{"name": "item 4"}, {"name": "item 5"}]}
    # The plain list resolvers below the rows ran in the same pass: every name is loaded at once, each once.
    assert library.batches == [("names", list(range(1, size + 5))), ("marks", list(range(1, size + 1)))]


@pytest.mark.parametrize("size", [3, 40])
def test_lists_that_are_loaded_themselves_cost_one_batch_per_level(size):
    library = Library()
    result = run(library, f"{{ items(n: {size}) {{ name related {{ name related {{ name }} }} }} }}")
    assert result.errors is None
    assert result.data["items"][0] == {
        "name": "item 1",
        "related": [{"name": "item 101", "related": [{"name": None}]}],
    }
    assert library.batches == [
        ("names", list(range(1, size + 1))),
        ("related", list(range(1, size + 1))),
        ("names", list(range(101, size + 101))),
        ("related", list(range(101, size + 101))),
        ("names", list(range(201, size + 201))),
    ]


def test_a_failed_batch_nulls_each_nullable_field_with_its_error():
    library = Library()
    result = run(library, "{ items(n: 3) { number broken } }")
    assert result.data == {"items": [{"number": n, "broken": None} for n in (1, 2, 3)]}
    assert [error.path for error in result.errors] == [["items", index, "broken"] for index in range(3)]
    assert {error.message for error in result.errors} == {"the store is down"}
    assert library.batches == [("broken", [1, 2, 3])]


def test_a_failed_non_null_field_nulls_its_parent_as_graphql_core_does():
    library = Library()
    result = run(library, "{ items(n: 2) { number brokenRequired } }")
    expected = execute(
        build_schema(Library()),
        parse("{ items(n: 2) { number brokenRequired } }"),
        context_value=SimpleNamespace(),
        execution_context_class=ExecutionContext,
    )
    assert result.data == expected.data == {"items": [None, None]}
    assert [error.path for error in result.errors] == [error.path for error in expected.errors]


def test_missing_keys_get_the_default_and_null_stays_null():
    library = Library()
    library.names.pop(2)
    result = run(library, "{ items(n: 3) { name marked } }")
    assert result.data == {
        "items": [
            {"name": "item 1", "marked": "false"},
            {"name": None, "marked": "false"},
            {"name": "item 3", "marked": "false"},
        ]
    }


def test_each_mutation_payload_shows_the_state_its_own_mutation_left():
    library = Library()
    result = run(
        library,
        "mutation { first: mark(number: 7) { marked } second: unmark(number: 7) { marked } "
        "third: mark(number: 7) { marked } }",
    )
    assert result.errors is None
    assert result.data == {"first": {"marked": "true"}, "second": {"marked": "false"}, "third": {"marked": "true"}}


def test_loaders_still_answer_without_the_deferred_execution():
    """graphql-core's own execution (a shell, a test calling ``execute``) gets the values, loaded one by one."""
    library = Library()
    result = run(library, "{ items(n: 3) { name } }", execution_context_class=ExecutionContext)
    assert result.errors is None
    assert result.data == {"items": [{"name": f"item {number}"} for number in (1, 2, 3)]}
    assert library.batches == [("names", [1]), ("names", [2]), ("names", [3])]
