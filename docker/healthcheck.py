"""The image's HEALTHCHECK: does this container's web server answer /health/live?

Standard library only, and no Django: it runs every 30 seconds.
"""

import os
import sys
import urllib.request


def probe_host() -> str:
    """Django answers only the host names it serves: ask as the first one this deployment allows."""
    for entry in os.environ.get("ALLOWED_HOSTS", "localhost").split(","):
        host = entry.strip().lstrip(".")  # ".example.com" allows example.com itself too
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/live"
    request = urllib.request.Request(url, headers={"Host": probe_host()})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 - a fixed local http URL
            return 0 if response.status == 200 else 1
    except OSError as error:  # refused, timed out, or an HTTP error status
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
