"""Health endpoints for orchestrators and load balancers.

``/health/live``: the process answers (no dependency is touched, so a database outage never gets the web
containers restarted). ``/health/ready``: the database, each Redis role (the volatile cache, the limits, the
recommendation store) and the broker are each checked and named in the JSON body. Only the database is required
(503 without it): with a Redis role or the broker down the API still serves everything (fallbacks, limits failing
open, the refresh outbox), so those make the status "degraded", still 200 — taking every web container out of the
load balancer would turn a partial outage into a full one. The checks are django-health-check's, plus one for the
Celery broker.
"""

import asyncio
import dataclasses
import datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from health_check import Cache, Database, HealthCheck
from health_check.base import HealthCheckResult
from health_check.exceptions import ServiceUnavailable
from kombu import Connection
from kombu.exceptions import KombuError

from nexus.database_router import replica_aliases


@dataclasses.dataclass
class Broker(HealthCheck):
    """Opens, then closes, a connection to the Celery broker (RabbitMQ in production)."""

    url: str = dataclasses.field(repr=False)  # it holds the broker's password
    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=2), repr=False)

    def run(self):
        seconds = self.timeout.total_seconds()
        connection = Connection(self.url, connect_timeout=seconds)
        try:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=seconds)
        except (KombuError, *connection.connection_errors, *connection.channel_errors) as error:
            raise ServiceUnavailable(f"cannot connect to the broker: {error}") from error
        finally:
            connection.release()


@dataclasses.dataclass
class ReplicaLag(HealthCheck):
    """A read replica (nexus/database_router.py) answers and replays the primary's WAL: reports how far behind
    the primary it is, in bytes of WAL not yet replayed and in seconds since the last transaction it replayed
    (0 when it has replayed everything the primary wrote)."""

    alias: str
    details: dict = dataclasses.field(default_factory=dict, repr=False)

    def run(self):
        try:
            with connections[self.alias].cursor() as cursor:
                cursor.execute(
                    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
                    " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8"
                )
                in_recovery, replayed, since_last = cursor.fetchone()
            with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)::int8", [replayed])
                (behind,) = cursor.fetchone()
        except DatabaseError as error:
            raise ServiceUnavailable(f"cannot read the replica's replay position: {error}") from error
        finally:
            for alias in (self.alias, DEFAULT_DB_ALIAS):
                connections[alias].close_if_unusable_or_obsolete()
        if not in_recovery:
            raise ServiceUnavailable("not a replica: it is not replaying a primary's WAL")
        self.details.update(lag_bytes=int(behind), lag_seconds=0.0 if behind <= 0 else round(since_last or 0.0, 3))


NOT_CONFIGURED = "not configured"
# What the API cannot serve without; the other dependencies only degrade it (see the module docstring).
REQUIRED = frozenset({"database"})


def readiness_checks() -> dict[str, HealthCheck | None]:
    """What serving requests depends on, by its name in the report; None where this deployment has none."""
    broker_url = settings.CELERY_BROKER_URL
    return {
        "database": Database(),
        # Each Redis role (nexus/caches.py), which production keeps on instances of their own (docs/scaling.md).
        "cache": Cache(),
        "limits": Cache(alias="limits"),
        "store": Cache(alias="recommendations"),
        # Without a broker, tasks run inside the web process: nothing to wait for.
        "broker": Broker(url=broker_url) if broker_url else None,
        # Each read replica and its lag behind the primary (docs/scaling.md, "Read replicas").
        **{f"database_{alias}": ReplicaLag(alias=alias) for alias in replica_aliases()},
    }


@require_GET
@never_cache
def live(request):
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
async def ready(request):
    checks = readiness_checks()
    configured = {name: check for name, check in checks.items() if check is not None}
    outcomes = await asyncio.gather(*(check.get_result() for check in configured.values()))
    results = dict(zip(configured, outcomes, strict=True))
    failed = {name for name, result in results.items() if result.error is not None}
    status = "unavailable" if failed & REQUIRED else "degraded" if failed else "ok"
    body = {"status": status, "checks": {name: _check_report(results.get(name)) for name in checks}}
    return JsonResponse(body, status=503 if status == "unavailable" else 200)


def _check_report(result: HealthCheckResult | None) -> dict:
    if result is None:
        return {"status": NOT_CONFIGURED}
    if result.error:
        return {"status": "error", "error": str(result.error)}
    return {"status": "ok", "seconds": round(result.time_taken, 4), **getattr(result.check, "details", {})}
