"""Gunicorn settings for the Nexus web container, each one adjustable through the environment.

Run: ``gunicorn nexus.wsgi`` from the project folder (gunicorn reads ./gunicorn.conf.py on its own).
"""

import os

from prometheus_client import multiprocess

from nexus.settings import LOGGING


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = f"{os.environ.get('HOST', '0.0.0.0')}:{_env_int('PORT', 8000)}"  # noqa: S104 - a container's port
# Processes × threads = requests served at once. A Nexus request is CPU work between sub-millisecond calls to
# Redis and PostgreSQL, and one process runs one Python thread at a time: threads in a process only take turns
# holding its interpreter lock. `bench/run --threads 4` against 1 made every read slower and only database-bound
# writes faster (docs/benchmarks.md, "Sync workers, not threads"). So by default one thread per process, gunicorn's
# sync worker, and two processes per core (gunicorn's own advice): a write waits milliseconds for PostgreSQL to
# flush its commit to disk, and meanwhile the core runs the other process (docs/benchmarks.md, "Workers"). Set
# WEB_CONCURRENCY where a container's CPU quota is smaller than the cores it sees. Sync workers expect a buffering
# proxy in front (docker-compose's `proxy`): slow clients then hold the proxy's connections, not a worker.
workers = _env_int("WEB_CONCURRENCY", 2 * len(os.sched_getaffinity(0)))
threads = _env_int("GUNICORN_THREADS", 1)
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)  # with threads > 1 (sync workers close every connection)
# Recycling workers now and then bounds the damage of a slow memory leak, but a recycled worker starts cold
# (imports, document cache) and its requests wait meanwhile: rarely, then — at a few hundred requests per second
# a worker is recycled every few minutes. The jitter keeps them from all restarting at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = max_requests // 10
# Worker heartbeats go to memory: a container's /tmp may sit on a slow overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - gunicorn's own files

# Whether a request came over HTTPS is Django's to say (X-Forwarded-Proto, believed only behind
# NEXUS_TRUSTED_PROXIES): gunicorn would otherwise believe the header from any client connecting from 127.0.0.1.
secure_scheme_headers: dict[str, str] = {}

# Containers are steered with signals; gunicorn's control socket would also make two servers on one machine
# (as in the tests) fight over its default path.
control_socket_disable = True

accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
# Gunicorn's own lines (start-up, worker restarts, the access log) in the application's format (LOG_FORMAT).
logconfig_dict = {
    **LOGGING,
    "loggers": {
        **LOGGING["loggers"],
        "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
}


def child_exit(server, worker):
    # prometheus_client's documented clean-up for its multiprocess mode (see nexus/metrics.py).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
