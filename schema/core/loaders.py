"""Per-request memoisation, so that a field resolved on every row of a list costs one query per request."""

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def request_memo(info, key: str, load: Callable[[], T]) -> T:
    """Return ``load()``, computed at most once per HTTP request (stored on the request object)."""
    memo = info.context.__dict__.setdefault("_nexus_memo", {})
    if key not in memo:
        memo[key] = load()
    return memo[key]
