"""TMDb image URLs: the image base URL TMDb's ``/configuration`` gives (stored by sync_tmdb), else the one
derived from ``TMDB_IMAGE_BASE_URL``; a URL is that base, a size ("w342") and the image's path.

The base is read from the database at most once per ``BASE_SECONDS`` per process: a request that shows many
posters reads it from memory."""

import re
import time

from django.conf import settings
from django.utils import timezone

from catalog.models import TmdbSyncState

CONFIGURATION = "configuration"
BASE_SECONDS = 60.0
# TMDB_IMAGE_BASE_URL may name a size ("…/t/p/w500", the old default): the base is what comes before it.
_SIZE_SUFFIX = re.compile(r"/(?:w\d+|h\d+|original)/?$")

_base: tuple[float, str] | None = None


def image_base() -> str:
    """The base URL of TMDb images, ending with "/"."""
    global _base
    now = time.monotonic()
    if _base is not None and now - _base[0] < BASE_SECONDS:
        return _base[1]
    stored = TmdbSyncState.objects.filter(name=CONFIGURATION).values_list("value", flat=True).first()
    base = (stored or {}).get("secure_base_url") or _SIZE_SUFFIX.sub("", settings.TMDB_IMAGE_BASE_URL)
    base = base if base.endswith("/") else f"{base}/"
    _base = (now, base)
    return base


def image_url(path: str, size: str) -> str | None:
    """The URL of the image at ``path`` (TMDb's "/abc.jpg") in ``size``; None without a path."""
    return f"{image_base()}{size}{path}" if path else None


def image_configuration_store(configuration: dict) -> None:
    """Keep TMDb's ``/configuration`` images (base URL and sizes); this process reads them at once."""
    global _base
    images = configuration.get("images") or {}
    value = {
        key: images[key]
        for key in ("secure_base_url", "base_url", "poster_sizes", "backdrop_sizes", "profile_sizes")
        if key in images
    }
    TmdbSyncState.objects.update_or_create(name=CONFIGURATION, defaults={"value": value})
    _base = None


def image_configuration_age_seconds() -> float | None:
    """How old the stored configuration is; None when there is none."""
    updated = TmdbSyncState.objects.filter(name=CONFIGURATION).values_list("updated_at", flat=True).first()
    if updated is None:
        return None
    return (timezone.now() - updated).total_seconds()
