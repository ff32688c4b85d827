"""/health/live and /health/ready through Django's full HTTP stack. (tests/nexus/test_gunicorn.py stops the
database for real; here the cache and the broker are pointed at ports where nothing listens.)"""

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from tests.conftest import need
from tests.servers import free_port

DEAD_REDIS_CACHE = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    }
}


def test_live_touches_no_dependency(client):
    # No `db` fixture: any database access here would raise.
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_ready_reports_each_dependency_by_name(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert body["checks"]["limits"]["status"] == "ok" and body["checks"]["store"]["status"] == "ok"
    # Without a broker, tasks run in the web process: nothing to wait for, and not a failure.
    assert body["checks"]["broker"] == {"status": "not configured"}


@pytest.mark.django_db
def test_ready_checks_the_real_broker(client):
    need(bool(django_settings.CELERY_BROKER_URL), "needs a broker: set CELERY_BROKER_URL=amqp://...")
    body = client.get("/health/ready").json()
    assert body["checks"]["broker"]["status"] == "ok"


@pytest.mark.django_db
def test_ready_is_degraded_but_serving_when_the_broker_is_down(client, settings):
    """Ratings still save without a broker (their refreshes wait in the outbox): the container stays in service."""
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "error"
    assert "broker" in body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_ready_is_degraded_but_serving_when_the_cache_is_down(client, settings):
    """The catalog and recommendations are served from the database without Redis."""
    settings.CELERY_BROKER_URL = ""
    # Restored before the autouse fixture's cache.clear() at teardown, which needs the real cache.
    with override_settings(CACHES=DEAD_REDIS_CACHE):
        response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize(("alias", "check"), [("limits", "limits"), ("recommendations", "store")])
def test_ready_checks_each_redis_role_on_its_own(client, settings, alias, check):
    """A role on an instance of its own can fail alone (docs/scaling.md, "Redis"): it is named, and the API still
    serves (limits fail open, recommendations fall back to popular movies)."""
    settings.CELERY_BROKER_URL = ""
    # Restored before the autouse fixture's clearing of every role at teardown.
    with override_settings(CACHES={**settings.CACHES, alias: DEAD_REDIS_CACHE["default"]}):
        response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["checks"][check]["status"] == "error"
    assert {name for name, report in body["checks"].items() if report["status"] == "error"} == {check}


def test_probes_are_not_redirected_to_https(client, settings):
    """Orchestrators probe the container over plain HTTP; the API itself is still redirected."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/live").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/graphql").status_code == 301
