"""The request id: in the response, on the log records written while serving the request. (Its way into Celery
tasks is tested with a real worker in tests/e2e/test_worker_observability.py; the JSON format in
tests/nexus/test_gunicorn.py.)"""

import logging
import re

import pytest

from nexus.request_context import RequestIdLogFilter, request_id_var
from tests.servers import free_port


@pytest.fixture
def request_id_caplog(caplog):
    """caplog whose records have passed the request id filter, as those of the configured handler have."""
    caplog.handler.addFilter(RequestIdLogFilter())
    caplog.set_level(logging.INFO)
    return caplog


def test_a_request_id_is_made_when_none_is_sent(client):
    first = client.get("/health/live")["X-Request-ID"]
    second = client.get("/health/live")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_the_callers_request_id_is_kept(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="edge-proxy:1f2e.3d")
    assert response["X-Request-ID"] == "edge-proxy:1f2e.3d"


@pytest.mark.parametrize("sent", ["two words", "line\nbreak", "x" * 129, '"quoted"'])
def test_an_unusable_request_id_is_replaced(client, sent):
    response = client.get("/health/live", HTTP_X_REQUEST_ID=sent)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_log_records_of_a_request_carry_its_id(client, settings, request_id_caplog):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    client.get("/health/ready", HTTP_X_REQUEST_ID="trace-42")  # the failing broker check logs a warning (200: degraded)
    client.get("/no/such/page", HTTP_X_REQUEST_ID="trace-43")  # Django logs the 404 once the response is made

    by_logger = {(record.name, record.request_id) for record in request_id_caplog.records}
    assert ("health_check", "trace-42") in by_logger
    assert ("django.request", "trace-43") in by_logger


def test_records_outside_requests_have_no_id(request_id_caplog):
    logging.getLogger("nexus.tests").info("no request here")
    assert request_id_caplog.records[-1].request_id is None
    assert request_id_var.get() is None
