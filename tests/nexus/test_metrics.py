"""/metrics: what it counts and who may read it. Counters live for the whole test session, so each test
compares a value before and after what it does."""

import pytest
from celery import shared_task
from graphql import get_introspection_query
from prometheus_client import REGISTRY

from nexus.metrics import RECOMMENDATION_CACHE


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def operations(operation: str, outcome: str) -> float:
    return sample("nexus_graphql_operations_total", operation=operation, outcome=outcome)


def operation_series() -> set[tuple[str, str]]:
    return {
        (sample.labels["operation"], sample.labels["outcome"])
        for metric in REGISTRY.collect()
        if metric.name == "nexus_graphql_operations"
        for sample in metric.samples
        if sample.name == "nexus_graphql_operations_total"
    }


@pytest.fixture
def known_operations(settings):
    settings.NEXUS_METRICS_OPERATIONS = frozenset(
        {"MetricsPing", "MetricsA", "MetricsB", "MetricsBroken", "MetricsPage"}
    )


@pytest.mark.parametrize(
    ("document", "operation_name", "label", "outcome"),
    [
        ("query MetricsPing { __typename }", None, "MetricsPing", "success"),
        ("{ __typename }", None, "anonymous", "success"),
        ("query MetricsA { __typename } query MetricsB { __typename }", "MetricsB", "MetricsB", "success"),
        ("query MetricsBroken { noSuchField }", None, "MetricsBroken", "error"),
        ("query MetricsUnclosed { __typename", None, "invalid", "error"),
        ("query MetricsA { __typename }", "NoSuchOperation", "invalid", "error"),
    ],
)
def test_graphql_operations_by_name_and_outcome(gql, known_operations, document, operation_name, label, outcome):
    before = operations(label, outcome)
    gql.client.post(
        "/graphql",
        {"query": document, "operationName": operation_name},
        content_type="application/json",
    )
    assert operations(label, outcome) == before + 1


def test_made_up_operation_names_add_at_most_one_series(gql):
    """Clients choose operation names freely: only the configured ones get a label of their own."""
    before = operation_series()
    for index in range(60):
        gql.execute(f"query MadeUp{index} {{ __typename }}")
        gql.client.post(
            "/graphql",
            {"query": "query A { __typename } query B { __typename }", "operationName": f"Unknown{index}"},
            content_type="application/json",
        )
    added = operation_series() - before
    assert added <= {("other", "success"), ("invalid", "error")}
    assert not any(operation.startswith(("MadeUp", "Unknown")) for operation, _ in operation_series())


def test_configured_operation_names_keep_their_label(gql, settings):
    settings.NEXUS_METRICS_OPERATIONS = frozenset({"MetricsKnown"})
    known, other = operations("MetricsKnown", "success"), operations("other", "success")
    gql.execute("query MetricsKnown { __typename }")
    gql.execute("query MetricsUnknown { __typename }")
    assert operations("MetricsKnown", "success") == known + 1
    assert operations("other", "success") == other + 1


def test_graphiql_introspection_is_labelled_by_default(gql):
    before = operations("IntrospectionQuery", "success")
    gql.execute(get_introspection_query())
    assert operations("IntrospectionQuery", "success") == before + 1


def test_request_latency_by_route(client):
    count = "nexus_http_request_duration_seconds_count"
    live_before = sample(count, method="GET", route="health/live", status="200")
    unmatched_before = sample(count, method="GET", route="unmatched", status="404")
    client.get("/health/live")
    client.get("/no/such/page")
    assert sample(count, method="GET", route="health/live", status="200") == live_before + 1
    assert sample(count, method="GET", route="unmatched", status="404") == unmatched_before + 1


def test_metrics_page_is_prometheus_text(client, gql, known_operations):
    gql.execute("query MetricsPage { __typename }")
    RECOMMENDATION_CACHE.labels(outcome="fallback").inc()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert 'nexus_graphql_operations_total{operation="MetricsPage",outcome="success"}' in text
    assert "# TYPE nexus_http_request_duration_seconds histogram" in text
    for outcome in ("hit", "miss", "fallback"):
        assert f'nexus_recommendation_cache_lookups_total{{outcome="{outcome}"}}' in text
    assert "# TYPE nexus_celery_tasks_total counter" in text


def test_metrics_token_is_required_when_set(client, settings):
    settings.NEXUS_METRICS_TOKEN = "scrape-me-0123456789"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-0123456789").status_code == 200


@shared_task(name="tests.metrics.flaky", bind=True, max_retries=1, default_retry_delay=0)
def flaky(self, *, outcome: str):
    if outcome == "failure":
        raise ValueError("failing on purpose")
    if outcome == "retry" and not self.request.retries:
        raise self.retry()  # once: the retry then succeeds
    return outcome


@pytest.mark.parametrize("outcome", ["success", "failure", "retry"])
def test_celery_task_outcomes(outcome):
    before = sample("nexus_celery_tasks_total", task="tests.metrics.flaky", outcome=outcome)
    flaky.apply(kwargs={"outcome": outcome}, throw=False)  # runs in this process, as the embedded default does
    assert sample("nexus_celery_tasks_total", task="tests.metrics.flaky", outcome=outcome) == before + 1
