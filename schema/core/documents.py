"""Parsed and validated GraphQL documents, kept in an in-process LRU keyed by the document's text.

Clients send the same few documents over and over; parsing and validating one costs far more than executing a
cached lookup, so each distinct text is prepared once per process (and per set of validation rules: settings
can change them). Errors are kept too: a broken document is refused again without re-parsing it.
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
    print_ast,
    validate,
)

from nexus import metrics

CACHE_SIZE = 1000
# Enough for any real document within the size limit; bounds the parser's work on token floods.
MAX_TOKENS = 50_000


@dataclass(frozen=True)
class PreparedDocument:
    """A document as the server understood it: its AST and the validation errors (none = may run)."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    # sha256 of the printed AST: the same for texts that differ only in whitespace, commas or comments.
    normalized_hash: str = ""
    _operation_labels: dict = field(default_factory=dict, compare=False)

    def operation(self, operation_name: str | None) -> OperationDefinitionNode | None:
        """The operation a request runs: the named one, or the only one."""
        if self.document is None:
            return None
        return get_operation_ast(self.document, operation_name)

    def metrics_label(self, query: str, operation_name: str | None) -> str:
        """The operation label the metrics count this document under, computed once per operation name."""
        label = self._operation_labels.get(operation_name)
        if label is None:
            label = metrics.graphql_operation_label(query=query, operation_name=operation_name)
            self._operation_labels[operation_name] = label
        return label


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


def document_prepare(*, schema: GraphQLSchema, query: str, rules: Sequence, rules_key: tuple) -> PreparedDocument:
    """Parse and validate ``query`` against ``schema`` with ``rules`` (cached; ``rules_key`` names the rules'
    configuration, e.g. the limits in force)."""
    key = (id(schema), tuple(rules), rules_key, query)
    prepared = _documents.get(key)
    if prepared is None:
        prepared = _prepare(schema=schema, query=query, rules=rules)
        _documents.put(key, prepared)
    return prepared


def document_cache_clear() -> None:
    _documents.clear()


def _prepare(*, schema: GraphQLSchema, query: str, rules: Sequence) -> PreparedDocument:
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        return PreparedDocument(document=None, errors=(error,))
    except RecursionError:
        return PreparedDocument(document=None, errors=(_too_nested(),))
    try:
        errors = validate(schema, document, list(rules))
    except RecursionError:
        errors = [_too_nested()]
    normalized = hashlib.sha256(print_ast(document).encode()).hexdigest() if not errors else ""
    return PreparedDocument(document=document, errors=tuple(errors), normalized_hash=normalized)


def _too_nested() -> GraphQLError:
    return GraphQLError("The document is nested too deeply to be read.", extensions={"code": "QUERY_TOO_DEEP"})
