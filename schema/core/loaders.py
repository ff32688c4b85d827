"""Per-request loaders keyed by id (DataLoader style), so that a field resolved on every row of a list costs one
load per request, not one per row.

A resolver asks ``loader(info, kind, batch_load).load(key)`` for its row's key and returns what it gets: the
value, when the request has loaded it already, else a ``Deferred`` (schema/core/deferred.py). The execution
collects every key asked for during a pass and loads them with one call of ``batch_load(keys)``. No resolver has
to announce its rows to anyone: a list field, however it was written, batches the per-row fields below it.

Loaders live on the request, one per kind: a name, with the arguments that change what it loads
(``("similar_movies", 5)``). A mutation that changes what a loader has loaded ``forget``s it.
"""

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from schema.core.deferred import Batches, Deferred, gather

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


class Loader(Generic[K, V]):
    """Values by key, loaded in batches: ``batch_load(keys)`` returns them by key; a key it leaves out (no such
    row) gets ``default``. Each key is loaded at most once per request, until ``clear``."""

    def __init__(self, batch_load: Callable[[list[K]], Mapping[K, V]], *, batches: Batches, default: V = None):
        self._batch_load = batch_load
        self._batches = batches
        self._default = default
        self._loaded: dict[K, V] = {}
        self._waiting: dict[K, Deferred] = {}

    def load(self, key: K) -> V | Deferred:
        """The value for ``key`` when it is loaded, else a ``Deferred`` of it, loaded with the next batch."""
        if key in self._loaded:
            return self._loaded[key]
        deferred = self._waiting.get(key)
        if deferred is None:
            deferred = self._waiting[key] = Deferred()
            if len(self._waiting) == 1:
                self._batches.schedule(self._dispatch)
        # Outside a deferred execution the batch has run already.
        return deferred.result() if deferred.done else deferred

    def load_many(self, keys: Iterable[K]) -> list[V] | Deferred:
        return gather([self.load(key) for key in keys])

    def prime(self, key: K, value: V) -> None:
        """Keep a value that was loaded on the way to something else (unless the key is loaded already)."""
        self._loaded.setdefault(key, value)

    def clear(self) -> None:
        """Forget what was loaded: the next ``load`` of any key loads it again."""
        self._loaded.clear()

    def _dispatch(self) -> None:
        waiting, self._waiting = self._waiting, {}
        try:
            values = self._batch_load(list(waiting))
        except Exception as error:  # noqa: BLE001 - every field that waited reports it
            for deferred in waiting.values():
                deferred.reject(error)
            return
        loaded = {key: values.get(key, self._default) for key in waiting}
        # All stored before any field goes on: what they ask for next may be among them.
        self._loaded.update(loaded)
        for key, deferred in waiting.items():
            deferred.resolve(loaded[key])


class _RequestState:
    def __init__(self, batches: Batches):
        self.batches = batches
        self.loaders: dict[Hashable, Loader] = {}
        self.memo: dict[str, Any] = {}


def loader(info, kind: Hashable, batch_load: Callable[[list], Mapping], *, default: Any = None) -> Loader:
    """The request's loader of ``kind``, created with ``batch_load`` by the first field that asks for it."""
    state = _state(info)
    found = state.loaders.get(kind)
    if found is None:
        found = state.loaders[kind] = Loader(batch_load, batches=state.batches, default=default)
    return found


def loader_forget(info, kind: Hashable) -> None:
    """After a mutation changed what the loader of ``kind`` loads: later fields of the request load it again."""
    found = _state(info).loaders.get(kind)
    if found is not None:
        found.clear()


def request_memo(info, key: str, load: Callable[[], T]) -> T:
    """Return ``load()``, computed at most once per HTTP request: for values that are not per row."""
    memo = _state(info).memo
    if key not in memo:
        memo[key] = load()
    return memo[key]


def request_memo_forget(info, prefix: str) -> None:
    """After a mutation changed what memos whose keys start with ``prefix`` hold: later fields compute them again."""
    memo = _state(info).memo
    for key in [key for key in memo if key.startswith(prefix)]:
        del memo[key]


def _state(info) -> _RequestState:
    context = info.context
    state = getattr(context, "nexus_loaders", None)
    if state is None:
        state = context.nexus_loaders = _RequestState(Batches.of(context))
    return state
