"""MovieLens releases fetched from GroupLens, checked against the published MD5, cached in var/downloads/."""

import hashlib
import os
import re
import shutil
import urllib.request
from pathlib import Path

from django.conf import settings

MOVIELENS_RELEASES = ("ml-latest-small", "ml-latest", "ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m")
# NEXUS_MOVIELENS_BASE_URL points the download at a mirror (or, in tests, at a local server).
DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"
TIMEOUT_SECONDS = 10
_MD5 = re.compile(r"\b[0-9a-f]{32}\b", re.IGNORECASE)


class DownloadError(Exception):
    """A release could not be fetched or failed its checksum."""


def movielens_download(*, name: str) -> Path:
    """The zip of the release `name`, from the cache when a verified copy is there, else from GroupLens."""
    if name not in MOVIELENS_RELEASES:
        raise DownloadError(f"unknown MovieLens release {name!r}; choose one of {', '.join(MOVIELENS_RELEASES)}")
    cache = Path(settings.VAR_DIR) / "downloads"
    archive, checksum = cache / f"{name}.zip", cache / f"{name}.zip.md5"
    if archive.exists() and checksum.exists() and _md5_of(archive) == checksum.read_text():
        return archive

    url = f"{os.environ.get('NEXUS_MOVIELENS_BASE_URL', DEFAULT_BASE_URL).rstrip('/')}/{name}.zip"
    if not url.startswith(("https://", "http://")):
        raise DownloadError(f"could not download {url}: only http(s) URLs are fetched")
    partial = cache / f"{name}.zip.part"
    try:
        expected = _published_md5(f"{url}.md5")
        cache.mkdir(parents=True, exist_ok=True)
        _fetch(url, partial)
    except (OSError, ValueError) as error:  # URLError, timeouts and refused connections are OSErrors
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)  # URLError wraps the socket's error
        raise DownloadError(f"could not download {url} ({reason}); pass a local folder or zip instead") from error
    actual = _md5_of(partial)
    if actual != expected:
        partial.unlink()
        raise DownloadError(
            f"{url} has MD5 {actual}, not the published {expected}: the download is damaged; "
            "try again or pass a local folder or zip instead"
        )
    partial.replace(archive)
    checksum.write_text(expected)
    return archive


def _fetch(url: str, destination: Path) -> None:
    with (
        urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response,  # noqa: S310 - http(s) checked
        destination.open("wb") as file,
    ):
        shutil.copyfileobj(response, file, 1 << 20)


def _published_md5(url: str) -> str:
    """GroupLens publishes "MD5 (ml-latest-small.zip) = <hex>"; md5sum's "<hex>  name" is accepted too."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s) checked
        match = _MD5.search(response.read(4096).decode("ascii", errors="replace"))
    if not match:
        raise ValueError(f"{url} holds no MD5 checksum")
    return match.group().lower()


def _md5_of(path: Path) -> str:
    # GroupLens publishes MD5: it catches a damaged download, not a forged one.
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
