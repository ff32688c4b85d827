"""Prometheus metrics: defined here, counted where things happen, served at ``/metrics`` (text format).

Processes count on their own. Where one container runs several (gunicorn workers, Celery's prefork pool),
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder that the container wipes at start: prometheus_client then
shares the counts through files there, and ``/metrics`` reports the sum over all processes. Celery workers
serve the same text on ``NEXUS_WORKER_METRICS_PORT`` when it is set; tasks that run inline (the embedded
default) are counted by the web process itself.
"""

import hmac
import os
import time

from celery.signals import task_failure, task_retry, task_success, worker_init
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from graphql import OperationDefinitionNode
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

REQUEST_LATENCY = Histogram(
    "nexus_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, URL pattern and status code.",
    ["method", "route", "status"],
)
GRAPHQL_OPERATIONS = Counter(
    "nexus_graphql_operations",
    "GraphQL operations executed, by operation name and outcome (success; error when any error came back).",
    ["operation", "outcome"],
)
RECOMMENDATION_CACHE = Counter(
    "nexus_recommendation_cache_lookups",
    "Recommendation lists served: hit = the precomputed list, miss = no precomputed list for the viewer, "
    "fallback = the score store or model was unavailable and a fallback ranking was served.",
    ["outcome"],
)
CELERY_TASKS = Counter(
    "nexus_celery_tasks",
    "Celery tasks finished, by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)

# Dashboards then show these series at zero instead of "no data" before the first lookup.
for _outcome in ("hit", "miss", "fallback"):
    RECOMMENDATION_CACHE.labels(outcome=_outcome)

# Any other method string a client sends is counted as one, so that it cannot create series at will.
_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class RequestLatencyMiddleware:
    """Times every request, labelled by URL pattern ("graphql", "admin/<app>/..."), not by path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        REQUEST_LATENCY.labels(
            method=request.method if request.method in _HTTP_METHODS else "other",
            # The landing page's route is "", which Prometheus could not tell from a missing label.
            route=(match.route or "/") if match else "unmatched",
            status=response.status_code,
        ).observe(time.perf_counter() - started)
        return response


def graphql_operation_label(operation: OperationDefinitionNode | None) -> str:
    """The operation's name when it is one of ``NEXUS_METRICS_OPERATIONS``, "other" for any other name,
    "anonymous" for an unnamed operation, "invalid" when there is none (a syntax error, an unknown operationName).
    Clients choose names freely: counted each under its own, they would add series without end."""
    if operation is None:
        return "invalid"
    if operation.name is None:
        return "anonymous"
    name = operation.name.value
    return name if name in settings.NEXUS_METRICS_OPERATIONS else "other"


def connect_celery_signals() -> None:
    task_success.connect(_count_task_success, weak=False)
    task_failure.connect(_count_task_failure, weak=False)
    task_retry.connect(_count_task_retry, weak=False)
    worker_init.connect(_serve_worker_metrics, weak=False)


def _count_task_success(sender=None, **kwargs):
    CELERY_TASKS.labels(task=sender.name, outcome="success").inc()


def _count_task_failure(sender=None, **kwargs):
    CELERY_TASKS.labels(task=sender.name, outcome="failure").inc()


def _count_task_retry(sender=None, **kwargs):
    CELERY_TASKS.labels(task=sender.name, outcome="retry").inc()


def _serve_worker_metrics(**kwargs):
    # worker_init runs in the worker's main process, before the pool starts: one server per worker.
    if settings.NEXUS_WORKER_METRICS_PORT:
        start_http_server(settings.NEXUS_WORKER_METRICS_PORT, registry=_registry())


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@require_GET
@never_cache
def metrics_view(request):
    """Open by default, for a scraper on the internal network; NEXUS_METRICS_TOKEN makes it ask for it."""
    token = settings.NEXUS_METRICS_TOKEN
    if token and not _carries_bearer_token(request, token):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def _carries_bearer_token(request, token: str) -> bool:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())
