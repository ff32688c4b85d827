"""Versions that one answer depends on beyond those that key every answer (``nexus.versions``): data of someone
else that the answer shows, such as another user's public list.

A cached answer is keyed by the shared versions and by its viewer's own version; neither moves when another user
changes what this answer shows. So while an answer is computed (``answer_versions_collected``), a resolver that
reads such data first calls ``answer_depends_on(key)``: the counter's current value is read then — before the
data, so that a change committed after this read bumps it past what is recorded — and stored beside the cached
answer, which is served again only while every such counter still has its recorded value
(schema/pipeline/response_cache.py). A counter that cannot be read makes the answer uncacheable.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from nexus.versions import versions_get

_collected: ContextVar[dict[str, int | None] | None] = ContextVar("answer_versions", default=None)


@contextmanager
def answer_versions_collected() -> Iterator[dict[str, int | None]]:
    """Inside: the versions the answer being computed depends on, by key (None: unreadable, do not cache)."""
    token = _collected.set({})
    try:
        yield _collected.get()
    finally:
        _collected.reset(token)


def answer_depends_on(key: str) -> None:
    """The answer being computed shows data that bumping ``key`` invalidates (nothing outside a collection)."""
    collected = _collected.get()
    if collected is None or key in collected:
        return
    values = versions_get([key])
    collected[key] = values[0] if values is not None else None


def answer_versions_current(recorded: dict[str, int | None]) -> bool:
    """Whether every counter still has the value recorded with an answer (one round trip)."""
    if not recorded:
        return True
    if None in recorded.values():
        return False
    keys = list(recorded)
    values = versions_get(keys)
    return values is not None and values == [recorded[key] for key in keys]
