"""Parsed and validated GraphQL documents, kept in an in-process LRU keyed by the document's text.

Clients send the same few documents over and over; parsing and validating one costs far more than executing a
cached lookup, so each distinct text is prepared once per process (and per set of validation rules: settings
can change them). Errors are kept too: a broken document is refused again without re-parsing it.

With introspection switched off (``hide_schema``), errors name no field, argument, enum value or input field the
caller did not write: graphql-core's "Did you mean …?" suggestions, which would list them one by one, are cut, and
so are the names of required arguments and input fields left out — in validation errors and in errors in the
variables, which are checked here too, before anything runs. Type names stay: an object's is what ``__typename``
answers anyway, and a type's name alone reaches nothing.
"""

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_operation_ast,
    parse,
    print_ast,
    validate,
)
from graphql.execution.values import get_variable_values

from nexus import metrics

CACHE_SIZE = 1000
# extensions.code of errors in the document and in the variables sent for it (Apollo Server's names); the limit
# rules (schema/pipeline/limits.py) give their own.
PARSE_FAILED, VALIDATION_FAILED, BAD_USER_INPUT = "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"
# Enough for any real document within the size limit; bounds the parser's work on token floods.
MAX_TOKENS = 50_000


@dataclass(frozen=True)
class PreparedDocument:
    """A document as the server understood it: its AST and the validation errors (none = may run)."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    # sha256 of the printed AST: the same for texts that differ only in whitespace, commas or comments.
    normalized_hash: str = ""

    def operation(self, operation_name: str | None) -> OperationDefinitionNode | None:
        """The operation a request runs: the named one, or the only one."""
        if self.document is None:
            return None
        return get_operation_ast(self.document, operation_name)

    def metrics_label(self, operation_name: str | None) -> str:
        """The label the metrics count the operation a request runs under (nexus/metrics.py: a bounded set)."""
        return metrics.graphql_operation_label(self.operation(operation_name))


class _LRU:
    def __init__(self, size: int):
        self._size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()  # gunicorn threads share the process

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key, value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_documents = _LRU(CACHE_SIZE)


def document_prepare(
    *, schema: GraphQLSchema, query: str, rules: Sequence, rules_key: tuple, hide_schema: bool
) -> PreparedDocument:
    """Parse and validate ``query`` against ``schema`` with ``rules`` (cached; ``rules_key`` names the rules'
    configuration, e.g. the limits in force); with ``hide_schema``, errors name no schema member the caller did
    not (see the module doc)."""
    key = (id(schema), tuple(rules), rules_key, hide_schema, query)
    prepared = _documents.get(key)
    if prepared is None:
        prepared = _prepare(schema=schema, query=query, rules=rules)
        if hide_schema:
            prepared = PreparedDocument(
                document=prepared.document,
                errors=tuple(_without_schema_hints(prepared.errors)),
                normalized_hash=prepared.normalized_hash,
            )
        _documents.put(key, prepared)
    return prepared


def variables_errors(
    *, schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Mapping | None, hide_schema: bool
) -> list[GraphQLError]:
    """What is wrong with the variables sent for ``operation`` (execution would refuse them with the same errors);
    with ``hide_schema``, errors name no schema member the caller did not."""
    coerced = get_variable_values(schema, operation.variable_definitions, dict(variables or {}))
    errors = [_coded(error, BAD_USER_INPUT) for error in coerced] if isinstance(coerced, list) else []
    return _without_schema_hints(errors) if hide_schema else errors


def document_cache_clear() -> None:
    _documents.clear()


def _prepare(*, schema: GraphQLSchema, query: str, rules: Sequence) -> PreparedDocument:
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        return PreparedDocument(document=None, errors=(_coded(error, PARSE_FAILED),))
    except RecursionError:
        return PreparedDocument(document=None, errors=(_too_nested(),))
    try:
        errors = [_coded(error, VALIDATION_FAILED) for error in validate(schema, document, list(rules))]
    except RecursionError:
        errors = [_too_nested()]
    normalized = hashlib.sha256(print_ast(document).encode()).hexdigest() if not errors else ""
    return PreparedDocument(document=document, errors=tuple(errors), normalized_hash=normalized)


# graphql-core's messages that name schema members the document does not, and what they say instead (the
# hide_suggestions switch of its newest 3.2 releases covers only the first).
_SCHEMA_HINTS = (
    # did_you_mean(): " Did you mean 'a', 'b', or 'c'?", optionally "the enum value" or "to use an inline fragment
    # on" before the names; always at the end.
    (re.compile(r" Did you mean (?:[a-z ]+ )?'[^']*'(?:(?:, |,? or )'[^']*')*\?$"), ""),
    # ProvidedRequiredArgumentsRule
    (
        re.compile(
            r"^(Field|Directive) ('[^']+') argument '[^']+' of type '[^']+' is required, but it was not provided\.$"
        ),
        r"\1 \2 is missing a required argument.",
    ),
    # ValuesOfCorrectTypeRule and variables' coercion: a required input field left out
    (re.compile(r"Field '[^']+' of required type '[^']+' was not provided\.$"), "A required input field is missing."),
)


def _without_schema_hints(errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    return [_error_without_schema_hints(error) for error in errors]


def _error_without_schema_hints(error: GraphQLError) -> GraphQLError:
    message = error.message
    for pattern, replacement in _SCHEMA_HINTS:
        message = pattern.sub(replacement, message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


def _coded(error: GraphQLError, code: str) -> GraphQLError:
    """``error`` with ``extensions.code`` = ``code``, unless it already has a code of its own."""
    if (error.extensions or {}).get("code"):
        return error
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code},
    )


def _too_nested() -> GraphQLError:
    return GraphQLError("The document is nested too deeply to be read.", extensions={"code": "QUERY_TOO_DEEP"})


def root_fields(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """The top-level fields of an operation's ``selection_set``, through its inline fragments and the named
    ``fragments`` it spreads (each spread once)."""
    pending, seen = [selection_set], set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif selection.name.value in fragments and selection.name.value not in seen:
                seen.add(selection.name.value)
                pending.append(fragments[selection.name.value].selection_set)
