"""A client of TMDb's API v3 (https://developer.themoviedb.org/reference): one HTTP session, timeouts, a
client-side rate limit below TMDb's, and retries with exponential backoff on 5xx, connection errors and 429 (which
waits as long as its Retry-After says).

Authenticates with ``TMDB_READ_ACCESS_TOKEN`` (a v4 bearer token) or else ``TMDB_API_KEY`` (a v3 key, sent as
``api_key``); without either, ``tmdb_client()`` raises ``TmdbOff``. No Django model here.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

# Longest wait a Retry-After may impose: a longer one is an outage, not throttling.
MAX_RETRY_AFTER_SECONDS = 120.0


class TmdbError(Exception):
    """TMDb could not answer (after the retries), or answered something that is not what its API documents."""


class TmdbNotFound(TmdbError):
    """TMDb has no such resource (404: a movie id it removed or never had)."""


class TmdbOff(TmdbError):
    """No TMDb key is configured: the sync is off."""


class RateLimiter:
    """At most ``per_second`` calls per second, evenly spaced, across the threads of this process."""

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic, sleep=time.sleep):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


@dataclass
class TmdbClient:
    base_url: str
    api_key: str = ""
    read_access_token: str = ""
    timeout: float = 10.0
    retries: int = 4
    backoff: float = 1.0
    requests_per_second: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        if not (self.api_key or self.read_access_token):
            raise TmdbOff("TMDb sync is off: set TMDB_API_KEY or TMDB_READ_ACCESS_TOKEN.")
        self.base_url = self.base_url.rstrip("/")
        self.session.headers["Accept"] = "application/json"
        if self.read_access_token:
            self.session.headers["Authorization"] = f"Bearer {self.read_access_token}"
        self.limiter = RateLimiter(self.requests_per_second, sleep=self.sleep)
        self.requests_made = 0

    def get(self, path: str, **params) -> dict:
        """The JSON object at ``path``; 404 raises TmdbNotFound, other failures TmdbError once retries are spent."""
        if self.api_key and not self.read_access_token:
            params["api_key"] = self.api_key
        url = f"{self.base_url}/{path.lstrip('/')}"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            self.limiter.wait()
            self.requests_made += 1
            try:
                response = self.session.get(url, params=params, timeout=self.timeout)
            except requests.RequestException as error:
                if last:
                    raise TmdbError(f"GET {path}: {error.__class__.__name__}: {error}") from error
                self._pause(attempt, None, f"GET {path}: {error.__class__.__name__}")
                continue
            if response.status_code == 404:
                raise TmdbNotFound(f"GET {path}: 404 not found")
            if response.status_code == 429 or response.status_code >= 500:
                if last:
                    raise TmdbError(f"GET {path}: HTTP {response.status_code} after {attempt + 1} attempts")
                self._pause(attempt, response.headers.get("Retry-After"), f"GET {path}: HTTP {response.status_code}")
                continue
            if response.status_code != 200:
                raise TmdbError(f"GET {path}: HTTP {response.status_code}: {response.text[:200]}")
            try:
                body = response.json()
            except ValueError as error:
                raise TmdbError(f"GET {path}: not JSON") from error
            if not isinstance(body, dict):
                raise TmdbError(f"GET {path}: expected a JSON object")
            return body
        raise AssertionError("unreachable")

    def _pause(self, attempt: int, retry_after: str | None, what: str) -> None:
        delay = self.backoff * 2**attempt
        if retry_after is not None:
            with contextlib.suppress(ValueError):  # an HTTP date: the backoff is as good
                delay = min(max(float(retry_after), 0.0), MAX_RETRY_AFTER_SECONDS)
        logger.warning("%s; retrying in %.1f s", what, delay)
        self.sleep(delay)

    # The endpoints the sync reads.

    def configuration(self) -> dict:
        return self.get("configuration")

    def movie(self, tmdb_id: int) -> dict:
        return self.get(f"movie/{int(tmdb_id)}", append_to_response="credits,keywords,videos,release_dates")

    def movie_list_page(self, which: str, page: int) -> dict:
        """A page of /movie/now_playing or /movie/upcoming."""
        assert which in ("now_playing", "upcoming")
        return self.get(f"movie/{which}", page=page)

    def changes_page(self, *, start: date, end: date, page: int) -> dict:
        return self.get("movie/changes", start_date=start.isoformat(), end_date=end.isoformat(), page=page)


def tmdb_enabled() -> bool:
    return bool(settings.TMDB_API_KEY or settings.TMDB_READ_ACCESS_TOKEN)


def tmdb_client(**overrides) -> TmdbClient:
    """A client configured by the TMDB_* settings; raises TmdbOff without a key."""
    options = {
        "base_url": settings.TMDB_API_BASE_URL,
        "api_key": settings.TMDB_API_KEY,
        "read_access_token": settings.TMDB_READ_ACCESS_TOKEN,
        "timeout": settings.TMDB_TIMEOUT_SECONDS,
        "retries": settings.TMDB_RETRIES,
        "backoff": settings.TMDB_BACKOFF_SECONDS,
        "requests_per_second": settings.TMDB_REQUESTS_PER_SECOND,
    }
    return TmdbClient(**(options | overrides))
