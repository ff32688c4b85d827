"""Per-request memoisation, so that a field resolved on every row of a list costs one query per request."""

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def request_memo(info, key: str, load: Callable[[], T]) -> T:
    """Return ``load()``, computed at most once per HTTP request (stored on the request object)."""
    memo = _memo(info)
    if key not in memo:
        memo[key] = load()
    return memo[key]


def request_memo_forget(info, key: str) -> None:
    """Drop a memoised value after a mutation changed what it was computed from."""
    _memo(info).pop(key, None)


def _memo(info) -> dict:
    return info.context.__dict__.setdefault("_nexus_memo", {})
