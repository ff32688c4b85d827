"""The image's worker and beat roles, started through docker/entrypoint.sh with the settings that
docker-compose.yml gives them (prefork pool, metrics shared through PROMETHEUS_MULTIPROC_DIR, JSON logs), on
the real broker: the request id of the code that enqueued a task reaches the task's log lines, the worker's
metrics port counts task outcomes, and both answer the healthchecks compose runs on them."""

import json
import os
import socket
import subprocess
import uuid

import pytest
import yaml
from django.conf import settings

from nexus.celery import app
from nexus.request_context import request_id_var
from tests.conftest import need
from tests.servers import PROJECT_DIR, TOOLS_PATH, free_port, http_get, running, wait_until

ENTRYPOINT = "docker/entrypoint.sh"


def role_environment(folder) -> dict[str, str]:
    """What a Nexus container gets from compose, pointed at this machine's services."""
    env = {
        key: os.environ[key]
        for key in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "JWT_SECRET_KEY")
        if key in os.environ
    }
    return env | {
        "SECRET_KEY": settings.SECRET_KEY,
        "LOG_FORMAT": "json",
        "NEXUS_VAR_DIR": str(folder),
        "NEXUS_ENV_FILE": "",
    }


def compose_healthcheck(role: str) -> str:
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())
    kind, command = compose["services"][role]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    return command.replace("$$", "$")  # compose's escape for a literal $


def run_healthcheck(role: str) -> subprocess.CompletedProcess:
    # In a container $HOSTNAME is the host name that celery's %h expands to.
    env = {**os.environ, "PATH": TOOLS_PATH, "HOSTNAME": socket.gethostname()}
    return subprocess.run(
        ["sh", "-c", compose_healthcheck(role)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def broker():
    need(bool(settings.CELERY_BROKER_URL), "needs a broker: set CELERY_BROKER_URL=amqp://...")


@pytest.fixture(scope="module")
def worker(broker, tmp_path_factory):
    """The worker role on a queue of its own, so that no other worker on the same broker takes these tasks."""
    folder = tmp_path_factory.mktemp("worker")
    queue = f"nexus-ops-test-{os.getpid()}"
    metrics_port = free_port()
    env = role_environment(folder) | {
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        "NEXUS_WORKER_METRICS_PORT": str(metrics_port),
        "CELERY_WORKER_CONCURRENCY": "1",
    }
    log_path = folder / "worker.log"
    with running([ENTRYPOINT, "worker", "--queues", queue], env=env, log_path=log_path):
        wait_until(lambda: "ready." in log_path.read_text(), timeout=60, what="the worker", log_path=log_path)
        yield queue, f"http://127.0.0.1:{metrics_port}/metrics", log_path
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)


@pytest.fixture(scope="module")
def beat(broker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("beat")
    log_path = folder / "beat.log"
    with running([ENTRYPOINT, "beat"], env=role_environment(folder), log_path=log_path):
        wait_until(lambda: "beat: Starting" in log_path.read_text(), timeout=60, what="beat", log_path=log_path)
        yield


def task_run_log_lines(log_path, task_id):
    """The lines the pool process wrote while running the task (not the main process's "received")."""
    lines = (json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{"))
    return [line for line in lines if task_id in line["message"] and line["logger"] == "celery.app.trace"]


def test_request_id_and_outcomes_reach_the_worker(worker):
    queue, metrics_url, log_path = worker
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    token = request_id_var.set(request_id)  # as RequestIdMiddleware binds it while a request is served
    try:
        # celery.accumulate is built into Celery: it returns its arguments, or args[index] when given one.
        succeeding = app.send_task("celery.accumulate", args=(1, 2), queue=queue)
        failing = app.send_task("celery.accumulate", kwargs={"index": 3}, queue=queue)  # IndexError
    finally:
        request_id_var.reset(token)
    unrelated = app.send_task("celery.accumulate", args=(3,), queue=queue)  # sent outside any request

    def counted():
        status, _, text = http_get(metrics_url)
        return status == 200 and all(
            f'nexus_celery_tasks_total{{outcome="{outcome}",task="celery.accumulate"}} {count}' in text
            for outcome, count in (("success", "2.0"), ("failure", "1.0"))
        )

    # The pool process counted; the worker's main process serves the sum over its pool.
    wait_until(counted, timeout=30, what="both outcomes in the worker's metrics", log_path=log_path)

    for task_id, outcome in ((succeeding.id, "succeeded"), (failing.id, "raised unexpected")):
        lines = wait_until(
            lambda task_id=task_id: task_run_log_lines(log_path, task_id), timeout=5, what=f"log of {task_id}"
        )
        assert any(outcome in line["message"] for line in lines)
        assert {line["request_id"] for line in lines} == {request_id}
    assert {line["request_id"] for line in task_run_log_lines(log_path, unrelated.id)} == {None}


def test_worker_answers_its_compose_healthcheck(worker):
    result = run_healthcheck("worker")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pong" in result.stdout


def test_beat_answers_its_compose_healthcheck(beat):
    result = run_healthcheck("beat")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pong" in result.stdout
