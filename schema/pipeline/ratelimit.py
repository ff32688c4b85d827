"""Rate limiting counted in query cost: points per fixed window, per user or per client address.

Each request that runs spends its cost (at least 1 point) from its subject's budget: an authenticated user's
(``NEXUS_RATE_LIMIT_USER``) or, for anonymous requests, the client address's (``NEXUS_RATE_LIMIT_ANON``), over
windows of ``NEXUS_RATE_LIMIT_WINDOW`` seconds. Counters are atomic increments in the ``limits`` cache (Redis in
production, never evicted: nexus/caches.py), so every web process shares them. A request the budget cannot cover
is refused and spends nothing, and so does a request refused before it runs (validation, limits, credentials).
An unreachable cache lets requests through (logged): limiting must never take the API down.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import caches
from django_redis.cache import RedisCache
from graphql import GraphQLError

from nexus.caches import LIMITS, limits_cache
from nexus.request_context import client_address
from nexus.versions import request_reads_record, viewer_version_keys
from schema.pipeline.identity import request_identity

logger = logging.getLogger(__name__)

_KEY_PREFIX = "ratelimit"


@dataclass(frozen=True)
class RateLimitState:
    """A subject's budget after a request: refused or not, and what the standard headers report."""

    limit: int
    remaining: int
    reset_seconds: int
    refused: bool = False
    reset_at: int = 0  # when the window ends, in Unix seconds

    def extension(self) -> dict:
        """``extensions.rateLimit`` of an answer: the budget, what is left of it, when it is renewed (UTC)."""
        reset_at = datetime.fromtimestamp(self.reset_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"limit": self.limit, "remaining": self.remaining, "resetAt": reset_at}

    def headers(self) -> dict[str, str]:
        """IETF draft names (draft-ietf-httpapi-ratelimit-headers), plus Retry-After on a refusal."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if self.refused:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers

    def error(self, *, cost: int) -> GraphQLError:
        return GraphQLError(
            f"Rate limit exceeded: this request costs {cost} points and {self.remaining} of {self.limit} are left "
            f"in this {settings.NEXUS_RATE_LIMIT_WINDOW}-second window; retry in {self.reset_seconds} seconds.",
            extensions={"code": "RATE_LIMITED", "retryAfter": self.reset_seconds},
        )


def rate_limit_subject(request) -> tuple[str, int] | None:
    """The budget a request spends from, as (subject key, points per window); None when limiting is off.

    A request with a valid access token counts against its account (read from the token alone: no database
    query), any other against its client address. A request with a bad token is refused later on, and is
    counted by address meanwhile, so that bad tokens cannot be used to dodge the limit.
    """
    subject = request_subject(request)
    limit = settings.NEXUS_RATE_LIMIT_USER if subject.startswith("user:") else settings.NEXUS_RATE_LIMIT_ANON
    return (subject, limit) if limit > 0 else None


def request_subject(request) -> str:
    """Who a request counts against: ``user:<account>`` for a valid access token, else ``address:<client>``."""
    account = request_identity(request).subject
    if account is not None:
        return f"user:{account}"
    return f"address:{client_address(request) or 'unknown'}"


def budget_spend(budget: tuple[str, int] | None, cost: int, *, viewer: str | None = None) -> RateLimitState | None:
    """Spends ``cost`` points of a request's ``budget`` (``rate_limit_subject``; 0: nothing runs, nothing is
    spent); the budget's state, None when not limited. For a signed-in ``viewer`` (an account id), the same round
    trip reads their data version, which their cached answers and their account copy are keyed by, for the rest of
    the request (nexus.versions)."""
    if budget is None:
        return None
    subject, limit = budget
    if cost <= 0:
        return rate_limit_state(subject=subject, limit=limit)
    counters = viewer_version_keys(viewer) if viewer is not None else []
    state, read = rate_limit_spend(subject=subject, limit=limit, cost=cost, also_read=counters)
    if state is not None:
        request_reads_record(read, keys=counters)
    return state


def rate_limit_spend(
    *, subject: str, limit: int, cost: int, also_read: Sequence[str] = ()
) -> tuple[RateLimitState | None, dict[str, object]]:
    """Spend ``cost`` points (at least 1) of ``subject``'s budget in the current window, and read the ``limits``
    keys ``also_read`` in the same round trip (the request's data versions: nexus.versions).

    Returns the budget's state (``refused`` when the cost does not fit; then nothing is spent), or None when the
    cache cannot be reached, and what was read (keys that are not there left out).
    """
    key, window, window_start, reset_seconds = _window(subject)
    points = max(cost, 1)
    try:
        used, read = _spend_and_read(key, points, window + 1, also_read)
        if used > limit:
            used = _give_back(key, points)
            return RateLimitState(
                limit=limit,
                remaining=max(limit - used, 0),
                reset_seconds=reset_seconds,
                refused=True,
                reset_at=window_start + window,
            ), read
    except Exception:  # noqa: BLE001 - fail open: an outage of the cache must not refuse every request
        logger.warning("Rate limit not applied: the cache is unreachable", exc_info=True)
        return None, {}
    state = RateLimitState(
        limit=limit, remaining=max(limit - used, 0), reset_seconds=reset_seconds, reset_at=window_start + window
    )
    return state, read


def _spend_and_read(key: str, points: int, timeout: int, also_read: Sequence[str]) -> tuple[int, dict[str, object]]:
    """Adds ``points`` to the counter ``key`` (created for ``timeout`` seconds) and reads ``also_read``: on Redis
    one pipelined round trip, where every request used to make two. The points used, and what was read."""
    cache = caches[LIMITS]
    if not isinstance(cache, RedisCache):  # the embedded default's in-process cache
        try:
            used = cache.incr(key, points)
        except ValueError:  # the first request of the window opens its counter (or a parallel one just did)
            used = points if cache.add(key, points, timeout=timeout) else cache.incr(key, points)
        return used, dict(cache.get_many(also_read)) if also_read else {}
    client, make_key = cache.client.get_client(write=True), cache.client.make_key
    pipeline = client.pipeline(transaction=False)
    pipeline.set(make_key(key), 0, ex=timeout, nx=True)  # the window's counter, unless it is open already
    pipeline.incrby(make_key(key), points)
    if also_read:
        pipeline.mget([make_key(name) for name in also_read])
    _, used, *values = pipeline.execute()
    found = zip(also_read, values[0], strict=True) if also_read else ()
    return used, {name: cache.client.decode(value) for name, value in found if value is not None}


def rate_limit_state(*, subject: str, limit: int) -> RateLimitState | None:
    """``subject``'s budget in the current window, spending nothing (for requests refused before they run); None
    when the cache cannot be reached."""
    key, window, window_start, reset_seconds = _window(subject)
    try:
        used = int(limits_cache.get(key) or 0)
    except Exception:  # noqa: BLE001 - fail open, as rate_limit_spend
        logger.warning("Rate limit not read: the cache is unreachable", exc_info=True)
        return None
    return RateLimitState(
        limit=limit, remaining=max(limit - used, 0), reset_seconds=reset_seconds, reset_at=window_start + window
    )


def _window(subject: str) -> tuple[str, int, int, int]:
    """The counter key of ``subject``'s current window, the window's length and start, and the seconds left."""
    window = max(settings.NEXUS_RATE_LIMIT_WINDOW, 1)
    now = time.time()
    window_start = int(now // window) * window
    reset_seconds = max(int(window_start + window - now + 0.999), 1)
    return f"{_KEY_PREFIX}:{subject}:{window_start}", window, window_start, reset_seconds


def _give_back(key: str, points: int) -> int:
    """Returns a refused request's points (refused requests spend nothing); the points used after that."""
    try:
        return limits_cache.decr(key, points)
    except ValueError:  # the window just ended: its counter is gone with it
        return 0
