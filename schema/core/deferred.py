"""Deferred values, and graphql-core's synchronous execution taught to wait for them.

graphql-core resolves a selection depth first: every field of a list's first row, nested ones included, before
its second row. A field that needs something loaded per row (a movie's genres, the viewer's rating of it) would
load it row by row. Instead its resolver asks a loader (schema/core/loaders.py), which hands out a ``Deferred``
and schedules one batch for all the keys asked for meanwhile. Execution goes on with the other rows; once the pass
has nothing left to resolve, the request's batches run, the deferred values settle and the fields that waited for
them are completed, which may schedule the next batches (the genres of every row's similar movies), until none is
left. Nothing here is shared between requests: every request has its own ``Batches``.
"""

from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial
from typing import Any

from graphql import ExecutionContext, GraphQLError, located_error
from graphql.execution.execute import assume_not_awaitable, get_field_def
from graphql.pyutils import Path, Undefined


class Deferred:
    """A value that is not loaded yet: ``then`` says what to do with it once it is (or with the error that
    stopped it). Lean on purpose: a page of movies makes thousands of them, and every object allocated makes the
    garbage collector run sooner."""

    __slots__ = ("done", "_value", "_error", "_listeners")

    def __init__(self):
        self.done = False
        self._value = None
        self._error: Exception | None = None
        # None, one listener (the usual case) or a list of them; each has ``settled(value, error)``.
        self._listeners = None

    def resolve(self, value: Any) -> None:
        if isinstance(value, Deferred):
            value._listen(_Then(self, None, None))
        else:
            self._settle(value, None)

    def reject(self, error: Exception) -> None:
        self._settle(None, error)

    def result(self) -> Any:
        """The value (raising the error that stopped it); only once ``done``."""
        if not self.done:
            raise RuntimeError("Deferred value read before it was loaded.")
        if self._error is not None:
            raise self._error
        return self._value

    def then(
        self, on_value: Callable[[Any], Any] | None, on_error: Callable[[Exception], Any] | None = None
    ) -> "Deferred":
        """The deferred result of ``on_value(value)`` (without it, the value), or of ``on_error(error)``
        (without it, the same error)."""
        chained = Deferred()
        self._listen(_Then(chained, on_value, on_error))
        return chained

    def _listen(self, listener) -> None:
        if self.done:
            listener.settled(self._value, self._error)
        elif self._listeners is None:
            self._listeners = listener
        elif isinstance(self._listeners, list):
            self._listeners.append(listener)
        else:
            self._listeners = [self._listeners, listener]

    def _settle(self, value: Any, error: Exception | None) -> None:
        if self.done:
            raise RuntimeError("Deferred value settled twice.")
        self.done, self._value, self._error = True, value, error
        listeners, self._listeners = self._listeners, None
        if isinstance(listeners, list):
            for listener in listeners:
                listener.settled(value, error)
        elif listeners is not None:
            listeners.settled(value, error)


class _Then:
    """Settles ``chained`` with what the callbacks make of a settled value (see ``Deferred.then``)."""

    __slots__ = ("chained", "on_value", "on_error")

    def __init__(self, chained: Deferred, on_value, on_error):
        self.chained, self.on_value, self.on_error = chained, on_value, on_error

    def settled(self, value: Any, error: Exception | None) -> None:
        chained = self.chained
        try:
            if error is None:
                chained.resolve(value if self.on_value is None else self.on_value(value))
            elif self.on_error is None:
                chained.reject(error)
            else:
                chained.resolve(self.on_error(error))
        except Exception as raised:  # noqa: BLE001 - handed on to whoever waits for the chained value
            chained.reject(raised)


def then(value: Any, on_value: Callable[[Any], Any]) -> Any:
    """``on_value(value)`` for a loaded value; for a ``Deferred``, the deferred result of it."""
    return value.then(on_value) if isinstance(value, Deferred) else on_value(value)


def gather(values: list) -> list | Deferred:
    """``values`` with every ``Deferred`` among them replaced by its value: the list itself when there is none,
    else a ``Deferred`` of it (stopped by the first error, like ``asyncio.gather``)."""
    waiting = [index for index, value in enumerate(values) if isinstance(value, Deferred)]
    if not waiting:
        return values
    gathering = _Gathering(values, len(waiting))
    for index in waiting:
        values[index]._listen(_GatheredItem(gathering, index))
    return gathering.deferred


class _Gathering:
    __slots__ = ("values", "remaining", "deferred")

    def __init__(self, values: list, remaining: int):
        self.values, self.remaining, self.deferred = values, remaining, Deferred()

    def item_settled(self, index: int, value: Any, error: Exception | None) -> None:
        if self.deferred.done:  # stopped by an earlier error
            return
        if error is not None:
            self.deferred.reject(error)
            return
        self.values[index] = value
        self.remaining -= 1
        if not self.remaining:
            self.deferred.resolve(self.values)


class _GatheredItem:
    __slots__ = ("gathering", "index")

    def __init__(self, gathering: _Gathering, index: int):
        self.gathering, self.index = gathering, index

    def settled(self, value: Any, error: Exception | None) -> None:
        self.gathering.item_settled(self.index, value, error)


class Batches:
    """The batch loads a request has scheduled, run when an execution pass has nothing left to resolve.

    Outside a ``DeferredExecutionContext`` (graphql-core's own execution, a shell) nothing waits for them: a
    batch runs as soon as it is scheduled, so loaders still answer, one key at a time.
    """

    def __init__(self):
        self._scheduled: deque[Callable[[], None]] = deque()
        self._deferring = 0

    @classmethod
    def of(cls, context: Any) -> "Batches":
        """The batches of the request whose context (the Django request) this is."""
        batches = getattr(context, "nexus_batches", None)
        if batches is None:
            batches = context.nexus_batches = cls()
        return batches

    def schedule(self, batch: Callable[[], None]) -> None:
        if self._deferring:
            self._scheduled.append(batch)
        else:
            batch()

    def run(self) -> None:
        """Run every scheduled batch, and those they schedule in turn."""
        while self._scheduled:
            self._scheduled.popleft()()

    @contextmanager
    def deferring(self):
        self._deferring += 1
        try:
            yield self
        finally:
            self._deferring -= 1


class DeferredExecutionContext(ExecutionContext):
    """graphql-core's execution, where any resolver may return a ``Deferred``.

    The request's batches run once a pass over the operation has nothing left to resolve; in a mutation, after
    each root field, so that every payload shows the state its own mutation left and the next one starts from
    it. Errors of deferred fields are handled as graphql-core handles those raised at once: a nullable field
    becomes null with its error reported, a non-null one nulls its parent.
    """

    # No resolver is a coroutine (Django's ORM is synchronous): graphql-core need not ask every value whether it
    # is one, as ``execute_sync`` does not.
    is_awaitable = staticmethod(assume_not_awaitable)

    def execute_operation(self, operation, root_value):
        with Batches.of(self.context_value).deferring() as batches:
            result = super().execute_operation(operation, root_value)
            batches.run()
        return result.result() if isinstance(result, Deferred) else result

    def execute_fields_serially(self, parent_type, source_value, path, fields):
        batches = Batches.of(self.context_value)
        results = {}
        for response_name, field_nodes in fields.items():
            field_path = Path(path, response_name, parent_type.name)
            result = self.execute_field(parent_type, source_value, field_nodes, field_path)
            batches.run()
            if isinstance(result, Deferred):
                result = result.result()
            if result is not Undefined:
                results[response_name] = result
        return results

    def execute_fields(self, parent_type, source_value, path, fields):
        results = super().execute_fields(parent_type, source_value, path, fields)
        waiting = [name for name, value in results.items() if isinstance(value, Deferred)]
        if not waiting:
            return results

        def completed(values):
            results.update(zip(waiting, values, strict=True))
            return results

        return gather([results[name] for name in waiting]).then(completed)

    def execute_field(self, parent_type, source, field_nodes, path):
        completed = super().execute_field(parent_type, source, field_nodes, path)
        if not isinstance(completed, Deferred):
            return completed
        return_type = get_field_def(self.schema, parent_type, field_nodes[0]).type
        return completed.then(None, partial(self._failed, field_nodes, return_type, path))

    def complete_value(self, return_type, field_nodes, info, path, result):
        if isinstance(result, Deferred):
            # Completed as a whole once it is there, non-null check included. What completing a value that is
            # there already may defer (an object's fields, a list's items) is never null.
            return result.then(partial(self.complete_value, return_type, field_nodes, info, path))
        return super().complete_value(return_type, field_nodes, info, path, result)

    def complete_list_value(self, return_type, field_nodes, info, path, result):
        completed = super().complete_list_value(return_type, field_nodes, info, path, result)
        if not isinstance(completed, list) or not any(isinstance(item, Deferred) for item in completed):
            return completed
        item_type = return_type.of_type
        for index, item in enumerate(completed):
            if isinstance(item, Deferred):
                failed = partial(self._failed, field_nodes, item_type, path.add_key(index, None))
                completed[index] = item.then(None, failed)
        return gather(completed)

    def _failed(self, field_nodes, return_type, path: Path, raw_error: Exception) -> None:
        """What graphql-core does with an error raised while resolving or completing a field (or list item)."""
        error: GraphQLError = located_error(raw_error, field_nodes, path.as_list())
        self.handle_field_error(error, return_type, path)
        return None
