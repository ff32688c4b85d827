"""The web container's process as the image runs it (docker/entrypoint.sh web: gunicorn, gunicorn.conf.py),
with DEBUG off, static files collected as the image collects them, JSON logs, several worker processes sharing
their metrics, and a database that is down."""

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from tests.servers import PROJECT_DIR, PYTHON, TOOLS_PATH, free_port, http_get, running, wait_until

GRAPHQL_PINGS = 8
# The deployment serves its own host names only (not 127.0.0.1), as a real one does.
SERVED_HOST = "api.nexus.example.com"


@dataclasses.dataclass
class Web:
    base_url: str
    log_path: Path
    env: dict[str, str]

    def get(self, path: str, headers: dict[str, str] | None = None):
        return http_get(f"{self.base_url}{path}", headers={"Host": SERVED_HOST, **(headers or {})})

    def json_log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """gunicorn with two workers that are recycled every three requests, pointed at a PostgreSQL port where
    nothing listens."""
    folder = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {
        "SECRET_KEY": "gunicorn-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nexus",
        "SECURE_SSL_REDIRECT": "1",
        # The tests' requests say they came over HTTPS, as a proxy in front would.
        "NEXUS_TRUSTED_PROXIES": "1",
        "NEXUS_METRICS_OPERATIONS": "Ping",
        "ALLOWED_HOSTS": ".nexus.example.com",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_MAX_REQUESTS": "3",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        "NEXUS_VAR_DIR": str(folder),
        "STATIC_ROOT": str(folder / "static"),
    }
    # As the image's build runs it: no metrics folder there.
    build_env = {key: value for key, value in env.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    collectstatic = [PYTHON, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
    subprocess.run(collectstatic, cwd=PROJECT_DIR, env={**build_env, "PATH": TOOLS_PATH}, check=True, timeout=120)
    site = Web(base_url=f"http://127.0.0.1:{port}", log_path=folder / "gunicorn.log", env=env)
    with running(["docker/entrypoint.sh", "web"], env=env, log_path=site.log_path) as server:
        wait_until(lambda: site.get("/health/live")[0] == 200, timeout=30, what="gunicorn", log_path=site.log_path)
        yield site
        assert server.poll() is None, "gunicorn died during the tests"


def test_live_answers_over_plain_http_while_the_database_is_down(web):
    status, _, body = web.get("/health/live")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_ready_is_503_and_names_the_database(web):
    status, headers, body = web.get("/health/ready", headers={"X-Request-ID": "probe-7"})
    report = json.loads(body)
    assert status == 503 and report["status"] == "unavailable"
    assert report["checks"]["database"]["status"] == "error"
    assert report["checks"]["cache"]["status"] == "ok"
    assert report["checks"]["broker"] == {"status": "not configured"}
    assert headers["X-Request-ID"] == "probe-7"

    def lines_of_the_probe():
        lines = [
            line for line in web.json_log_lines() if line["request_id"] == "probe-7" or "probe-7" in line["message"]
        ]
        loggers = {line["logger"] for line in lines}
        return lines if {"health_check", "django.request", "gunicorn.access"} <= loggers else None

    lines = wait_until(lines_of_the_probe, timeout=5, what="the probe's log lines", log_path=web.log_path)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    access = next(line for line in lines if line["logger"] == "gunicorn.access")
    assert "/health/ready" in access["message"] and "request_id=probe-7" in access["message"]


def test_metrics_add_up_over_recycled_worker_processes(web):
    for _ in range(GRAPHQL_PINGS):
        status, _, body = web.get(
            "/graphql?query=query%20Ping%20%7B%20__typename%20%7D", headers={"X-Forwarded-Proto": "https"}
        )
        assert (status, json.loads(body)["data"]) == (200, {"__typename": "Query"})

    status, headers, text = web.get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    # Each worker served at most three requests before it was replaced: only counts kept in the shared folder
    # can add up to all of them.
    assert f'nexus_graphql_operations_total{{operation="Ping",outcome="success"}} {GRAPHQL_PINGS:.1f}' in text
    latency_count = 'nexus_http_request_duration_seconds_count{method="GET",route="graphql",status="200"}'
    assert f"{latency_count} {GRAPHQL_PINGS:.1f}" in text


def test_whitenoise_serves_collected_static_files_compressed(web):
    status, headers, _ = web.get(
        "/static/graphiql/graphiql-2.4.7/graphiql.min.js",
        headers={"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"},
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "javascript" in headers["Content-Type"]


def test_the_api_itself_still_redirects_to_https(web):
    status, headers, _ = web.get("/graphql")
    assert status == 301 and headers["Location"].startswith("https://")


def test_image_healthcheck_script(web):
    def healthcheck(**env):
        return subprocess.run(
            [PYTHON, "docker/healthcheck.py"],
            cwd=PROJECT_DIR,
            env={**web.env, **env},
            capture_output=True,
            text=True,
            timeout=30,
        )

    healthy = healthcheck()
    assert healthy.returncode == 0, healthy.stderr
    nothing_there = healthcheck(PORT=str(free_port()))
    assert nothing_there.returncode == 1 and "/health/live" in nothing_there.stderr
    host_not_served = healthcheck(ALLOWED_HOSTS="elsewhere.example.org")
    assert host_not_served.returncode == 1 and "400" in host_not_served.stderr
