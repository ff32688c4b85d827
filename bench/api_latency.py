"""The API's cost at the size of the database it runs on: median latencies of one gunicorn worker, one request at
a time, for the writes and reads whose cost could grow with the data.

    python -m bench.api_latency [--requests 200] [--json FILE]     # DATABASE_URL, REDIS_URL as for manage.py

Run by bench/scale.py (``--api``) after the import, so that the same requests are measured at ml-latest-small, ML-1M
and ML-20M size:

- ``rateMovie`` on the most-rated movie and on a movie with about ten ratings, each request by another user (the
  statistics' update must not grow with the movie's ratings);
- ``me { ratings(first: 20) }`` of the user with the most ratings (must not grow with the library);
- ``movies(first: 20, genres, orderBy)`` with ``totalCount``, each request a response-cache miss (5 genres × 3
  orders: after the first request of each, the list's count and ids come from the cache).

The worker publishes the per-user refreshes that ratings queue to a broker queue of its own that nothing consumes
(deleted afterwards): in production a Celery worker computes them elsewhere.
"""

import argparse
import contextlib
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import django
from kombu import Connection

from bench.harness import background, free_port, wait_until
from bench.scenarios import BROWSE, BROWSE_GENRES, BROWSE_ORDERS, RATE_MOVIE, body

ME_RATINGS = "{ me { ratings(first: 20) { totalCount edges { node { score movie { title } } } } } }"
RARE_RATINGS = 10


def _subjects(requests: int) -> dict:
    """Movies, users and their access tokens, chosen in the database."""
    from django.db.models import Count
    from graphql_jwt.shortcuts import get_token
    from graphql_relay import to_global_id

    from catalog.models import Movie
    from users.models import User

    popular = Movie.objects.order_by("-rating_count", "id").first()
    rare = Movie.objects.filter(rating_count__gte=RARE_RATINGS).order_by("rating_count", "id").first()
    heaviest = User.objects.annotate(n=Count("ratings")).order_by("-n", "id").first()
    raters = list(
        User.objects.exclude(ratings__movie__in=[popular, rare]).order_by("id").values_list("pk", flat=True)[:requests]
    )
    users = {user.pk: user for user in User.objects.filter(pk__in=[*raters, heaviest.pk])}
    return {
        "popular": (to_global_id("Movie", popular.pk), popular.title, popular.rating_count),
        "rare": (to_global_id("Movie", rare.pk), rare.title, rare.rating_count),
        "heaviest": (get_token(heaviest), heaviest.ratings.count()),
        "rater_tokens": [get_token(users[pk]) for pk in raters],
    }


def _post(url: str, payload: str, token: str | None) -> float:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=payload.encode(), headers=headers)  # noqa: S310 - our own server
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        answer = json.load(response)
    elapsed = time.perf_counter() - started
    if answer.get("errors") or '"errors":[{' in json.dumps(answer, separators=(",", ":")):
        raise SystemExit(f"error answer: {json.dumps(answer)[:500]}")
    return elapsed * 1000


def measure(requests: int) -> dict:
    from nexus.database import statement_timeout_lifted

    with statement_timeout_lifted():  # choosing them scans every rating: not what is measured
        subjects = _subjects(requests)
    port, queue = free_port(), f"nexus-api-latency-{os.getpid()}"
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "NEXUS_RATE_LIMIT_USER": str(10**9),
        "NEXUS_RATE_LIMIT_ANON": str(10**9),
        "WEB_CONCURRENCY": "1",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    url = f"http://127.0.0.1:{port}/graphql"
    rng = random.Random(0)
    log = Path(tempfile.mkdtemp(prefix="nexus-api-latency-")) / "gunicorn.log"
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "nexus.wsgi"]
    try:
        with background(gunicorn, env=env, log_path=log):
            wait_until(
                lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live").status == 200,  # noqa: S310
                timeout=60,
                what="gunicorn",
                log_path=log,
            )
            kinds = {
                "rateMovie, most-rated movie": [
                    (body(RATE_MOVIE, {"movie": subjects["popular"][0], "score": rng.randint(1, 10) / 2}), token)
                    for token in subjects["rater_tokens"]
                ],
                "rateMovie, movie with ~10 ratings": [
                    (body(RATE_MOVIE, {"movie": subjects["rare"][0], "score": rng.randint(1, 10) / 2}), token)
                    for token in subjects["rater_tokens"]
                ],
                "me.ratings(first: 20), heaviest user": [
                    (body(ME_RATINGS, {"nonce": number}), subjects["heaviest"][0]) for number in range(requests)
                ],
                "movies(first: 20, genres, orderBy) + totalCount, response-cache miss": [
                    (
                        body(
                            BROWSE,
                            {"genre": rng.choice(BROWSE_GENRES), "order": rng.choice(BROWSE_ORDERS), "nonce": number},
                        ),
                        None,
                    )
                    for number in range(requests)
                ],
            }
            _post(url, kinds["movies(first: 20, genres, orderBy) + totalCount, response-cache miss"][0][0], None)
            results = {}
            for name, sent in kinds.items():
                latencies = [_post(url, payload, token) for payload, token in sent]
                results[name] = {
                    "requests": len(latencies),
                    "median_ms": round(statistics.median(latencies), 2),
                    "p90_ms": round(statistics.quantiles(latencies, n=10)[-1], 2),
                }
    finally:
        if os.environ.get("CELERY_BROKER_URL"):
            with Connection(os.environ["CELERY_BROKER_URL"]) as broker, contextlib.suppress(Exception):
                broker.default_channel.queue_delete(queue)
    return {
        "subjects": {
            "most-rated movie": f"{subjects['popular'][1]} ({subjects['popular'][2]:,} ratings)",
            "rarely rated movie": f"{subjects['rare'][1]} ({subjects['rare'][2]:,} ratings)",
            "heaviest user": f"{subjects['heaviest'][1]:,} ratings",
        },
        "latencies": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="Requests per kind (default 200).")
    parser.add_argument("--json", help="Write the figures as JSON to this file.")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
    django.setup()
    result = measure(args.requests)
    print(", ".join(f"{name}: {value}" for name, value in result["subjects"].items()))
    print("| request | median | p90 |")
    print("| --- | ---: | ---: |")
    for name, figures in result["latencies"].items():
        print(f"| {name} | {figures['median_ms']:.1f} ms | {figures['p90_ms']:.1f} ms |")
    popular, rare = (result["latencies"][name]["median_ms"] for name in list(result["latencies"])[:2])
    print(f"rateMovie median, most-rated / rarely rated movie: {popular / rare:.2f}×")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
