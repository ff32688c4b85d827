"""Login throttling: failed password checks counted per account and per client address in the cache.

Counters are atomic cache increments (Redis INCRBY, or the in-process cache on the embedded default), so parallel
guesses cannot slip past the limit. A counter lives for one window, starting at its first failure. Attempts count
against the account they reach, whichever spelling of its name reached it; names of no account are counted too
(``login_account``), so a refusal says nothing about which accounts exist.
"""

import hashlib

from django.conf import settings

from nexus.caches import limits_cache

_KEY_PREFIX = "login-failures"


def login_account(*, user_id: int | None, username_key: str) -> str:
    """Whom a login attempt counts against: the account it reached, by id (one budget for every spelling that
    reaches it); for a name of no account, the name in its one normalized form (users.models.username_key)."""
    return f"user:{user_id}" if user_id is not None else f"name:{username_key}"


def login_is_throttled(*, account: str, client_address: str | None) -> bool:
    """Whether the account (``login_account``) or the client address has used up its failed attempts for this
    window."""
    counts = limits_cache.get_many(_keys(account=account, client_address=client_address))
    return any(count >= settings.NEXUS_LOGIN_MAX_FAILURES for count in counts.values())


def login_failure_record(*, account: str, client_address: str | None) -> None:
    window = int(settings.NEXUS_LOGIN_FAILURE_WINDOW.total_seconds())
    for key in _keys(account=account, client_address=client_address):
        limits_cache.add(key, 0, timeout=window)
        try:
            limits_cache.incr(key)
        except ValueError:  # the window ran out between add() and incr(): this failure opens a new one
            limits_cache.set(key, 1, timeout=window)


def login_success_record(*, account: str) -> None:
    """The account's owner got in: forget the account's failures (never the address's, which an attacker could
    otherwise reset by logging in to an account of their own between guesses)."""
    limits_cache.delete(_account_key(account))


def _keys(*, account: str, client_address: str | None) -> list[str]:
    keys = [_account_key(account)]
    if client_address:
        keys.append(f"{_KEY_PREFIX}:address:{client_address}")
    return keys


def _account_key(account: str) -> str:
    # Hashed: names may hold any character, and need not sit in the cache in clear.
    digest = hashlib.sha256(account.encode()).hexdigest()
    return f"{_KEY_PREFIX}:account:{digest}"
