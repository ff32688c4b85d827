"""The deployment files, checked statically: there is no Docker engine here to run them. They must agree with
the code (every setting the code reads is provided, every role the compose file starts exists, every
healthcheck names a process that answers it) and with what .ci/run checks. What runs without Docker is run for
real elsewhere: the web role with gunicorn.conf.py and docker/healthcheck.py in tests/nexus/test_gunicorn.py,
the worker and beat roles with their compose healthchecks in tests/e2e/test_celery_roles.py, the init role in
tests/e2e/test_init_role.py."""

import ast
import importlib.metadata
import json
import os
import re
import runpy
import secrets
import subprocess
import sys
import tomllib

import pytest
import yaml

from tests.servers import PROJECT_DIR, PYTHON

NEXUS_ROLES = ("init", "web", "worker", "trainer", "beat")
PROJECT_PACKAGES = ("nexus", "datasets", "catalog", "users", "recommender", "importers", "schema")
SERVICES = ("postgres", "redis", "redis-cache", "rabbitmq")
# Read by the settings, set by the test suite only.
TEST_ONLY_SETTINGS = {"NEXUS_TEST_DATABASE_NAME"}
ENV_READERS = {"os.environ.get", "os.getenv", "env_bool", "env_int", "env_list"}


def settings_environment_names() -> set[str]:
    """Every environment variable nexus/settings.py reads: os.environ[...] and .get(...), env_*(...)."""
    tree = ast.parse((PROJECT_DIR / "nexus" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        # Only literal names: the env_* helpers themselves pass theirs on in a variable.
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ENV_READERS and node.args:
            argument = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            argument = node.slice
        else:
            continue
        if isinstance(argument, ast.Constant):
            names.add(argument.value)
    return names - TEST_ONLY_SETTINGS


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (PROJECT_DIR / "Dockerfile").read_text()


def dockerfile_instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def image_environment(dockerfile: str) -> set[str]:
    names = set()
    for instruction, arguments in dockerfile_instructions(dockerfile):
        if instruction == "ENV":
            names |= set(re.findall(r"([A-Z_][A-Z0-9_]*)=", arguments))
    return names


def test_the_settings_reader_finds_the_settings():
    names = settings_environment_names()
    assert {
        "DATABASE_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "LOG_FORMAT",
        "NEXUS_METRICS_TOKEN",
    } <= names


@pytest.mark.parametrize("role", NEXUS_ROLES)
def test_every_setting_is_provided_to_each_nexus_process(compose, dockerfile, role):
    provided = set(compose["services"][role]["environment"]) | image_environment(dockerfile)
    assert settings_environment_names() - provided == set()


def test_every_setting_is_in_the_readme_configuration_table():
    readme = (PROJECT_DIR / "README.md").read_text()
    table = {
        name for row in re.findall(r"^\|(.+?)\|", readme, re.MULTILINE) for name in re.findall(r"`([A-Z_0-9]+)`", row)
    }
    missing = settings_environment_names() - table
    assert missing == set(), "add these to README.md's configuration table"


def test_services_have_healthchecks_and_start_in_order(compose):
    services = compose["services"]
    assert set(services) == {*NEXUS_ROLES, *SERVICES, "proxy"}
    for name in (*SERVICES, "web", "worker", "trainer", "beat", "proxy"):
        assert services[name]["healthcheck"]["test"], name
    assert services["init"]["restart"] == "no"
    assert all(services["init"]["depends_on"][name] == {"condition": "service_healthy"} for name in SERVICES)
    for role in ("web", "worker", "trainer", "beat"):
        depends_on = services[role]["depends_on"]
        assert depends_on["init"] == {"condition": "service_completed_successfully"}, role
        assert all(depends_on[name] == {"condition": "service_healthy"} for name in SERVICES), role


def test_web_is_reached_only_through_the_buffering_proxy(compose):
    """gunicorn's sync workers (gunicorn.conf.py) must not be held by slow clients: only nginx is published."""
    web, proxy = compose["services"]["web"], compose["services"]["proxy"]
    assert "ports" not in web
    assert proxy["ports"] == ["${NEXUS_PORT:-8000}:8080"]
    assert proxy["depends_on"] == {"web": {"condition": "service_healthy"}}
    config_mount = "./docker/nginx.conf:/etc/nginx/conf.d/default.conf:ro"
    assert proxy["volumes"] == [config_mount]
    config = (PROJECT_DIR / "docker" / "nginx.conf").read_text()
    assert "listen 8080;" in config and "proxy_pass http://web:8000;" in config
    assert "proxy_request_buffering on;" in config and "proxy_buffering on;" in config
    # One proxy: web takes the client address from the last X-Forwarded-For entry, which nginx appends.
    assert web["environment"]["NEXUS_TRUSTED_PROXIES"] == "${NEXUS_TRUSTED_PROXIES:-1}"
    assert "$proxy_add_x_forwarded_for" in config
    # Metrics are scraped from web inside the network, never through the published port.
    assert re.search(r"location = /metrics \{\s*return 404;\s*\}", config)


def test_what_clients_can_fill_is_on_a_redis_that_evicts_and_state_on_one_that_never_does(compose):
    """maxmemory-policy is per Redis instance: the volatile role needs one of its own (docs/security.md)."""
    services, environment = compose["services"], compose["services"]["web"]["environment"]
    assert "redis-cache:6379" in environment["REDIS_CACHE_URL"]
    assert "redis:6379" in environment["REDIS_LIMITS_URL"] and "redis:6379" in environment["REDIS_STORE_URL"]
    volatile, state = services["redis-cache"]["command"], services["redis"]["command"]
    assert volatile[volatile.index("--maxmemory-policy") + 1] == "allkeys-lru" and "--maxmemory" in volatile
    assert state[state.index("--maxmemory-policy") + 1] == "noeviction"


def test_nexus_containers_run_the_one_image_in_a_role_the_entrypoint_knows(compose):
    entrypoint = (PROJECT_DIR / "docker" / "entrypoint.sh").read_text()
    for role in NEXUS_ROLES:
        service = compose["services"][role]
        assert service["build"] == "." and service["image"] == "nexus:latest"
        assert service["command"] == [role]
        assert re.search(rf"^    {role}\)$", entrypoint, re.MULTILINE), f"docker/entrypoint.sh has no {role} role"
    assert os.access(PROJECT_DIR / "docker" / "entrypoint.sh", os.X_OK)


def test_celery_healthchecks_ping_the_node_names_the_entrypoint_gives(compose):
    entrypoint = (PROJECT_DIR / "docker" / "entrypoint.sh").read_text()
    for role in ("worker", "trainer", "beat"):
        command = compose["services"][role]["healthcheck"]["test"]
        assert command[0] == "CMD-SHELL"
        assert f"inspect ping --destination {role}@$$HOSTNAME" in command[1]
        assert f'--hostname "{role}@%h"' in entrypoint
    assert "--enable-remote-control" in entrypoint  # beat answers pings only when asked to


def test_named_volumes_are_declared(compose):
    used = {
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if not volume.startswith(("$", ".", "/"))
    }
    assert used == set(compose["volumes"]) == {"postgres-data", "redis-data", "rabbitmq-data", "nexus-var"}


def test_init_finds_the_datasets_where_they_are_mounted(compose):
    init = compose["services"]["init"]
    data_mount = next(volume for volume in init["volumes"] if volume.endswith(":/data:ro"))
    assert data_mount.startswith("${NEXUS_DATA_DIR")
    assert init["environment"]["NEXUS_MOVIELENS"].startswith("/data/")
    assert init["environment"]["NEXUS_TMDB"].startswith("/data/")


def test_metrics_are_shared_between_processes_in_web_and_worker(compose):
    for role in ("web", "worker", "trainer"):
        service = compose["services"][role]
        # In memory, and new with each container: no stale counts from processes of an earlier start.
        assert service["environment"]["PROMETHEUS_MULTIPROC_DIR"].startswith(tuple(service["tmpfs"]))
    assert compose["services"]["worker"]["environment"]["NEXUS_WORKER_METRICS_PORT"]


def test_image_is_multi_stage_slim_and_unprivileged(dockerfile):
    instructions = dockerfile_instructions(dockerfile)
    stages = [arguments for instruction, arguments in instructions if instruction == "FROM"]
    assert len(stages) >= 2
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim", dockerfile)
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def test_dependencies_layer_comes_from_the_lock_alone(dockerfile):
    instructions = dockerfile_instructions(dockerfile)
    first_copy = next(arguments for instruction, arguments in instructions if instruction == "COPY")
    assert first_copy.split() == ["requirements.lock", "./"]
    install = next(index for index, (instruction, arguments) in enumerate(instructions) if "pip install" in arguments)
    assert instructions[install][1] == "pip install --require-hashes --requirement requirements.lock"
    code = next(index for index, (instruction, arguments) in enumerate(instructions) if arguments == ". .")
    assert install < code


def test_image_collects_static_files_and_checks_its_health(dockerfile):
    instructions = dict(dockerfile_instructions(dockerfile))
    assert "collectstatic --noinput" in dockerfile
    assert "docker/healthcheck.py" in instructions["HEALTHCHECK"]
    assert "/health/live" in (PROJECT_DIR / "docker" / "healthcheck.py").read_text()
    assert instructions["ENTRYPOINT"] == '["docker/entrypoint.sh"]'


def test_dockerignore_keeps_data_and_local_state_out_of_the_image():
    ignored = set((PROJECT_DIR / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", "data", ".env"} <= ignored


def test_github_workflow_mirrors_ci_run():
    workflow = yaml.safe_load((PROJECT_DIR / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert job["container"].startswith("python:3.11")
    images = {name: service["image"] for name, service in job["services"].items()}
    assert images == {"postgres": "postgres:15", "redis": "redis:7", "rabbitmq": "rabbitmq:3"}
    assert job["env"]["CI"] == "true"
    assert {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "NEXUS_DATA_DIR"} <= set(job["env"])
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    for command in ("scripts/test", "ruff check .", "chromium chromium-driver", "datasets.sha256"):
        assert command in commands


def production_settings_run(tmp_path, code: str, **environment: str) -> str:
    """What ``code`` prints with Django set up on production settings (DEBUG off, a real secret key) and
    ``environment``: settings are read once per process."""
    result = subprocess.run(
        [PYTHON, "-c", f"import django\ndjango.setup()\n{code}"],
        cwd=PROJECT_DIR,
        env={
            "PATH": os.environ["PATH"],
            "SECRET_KEY": secrets.token_urlsafe(50),
            "NEXUS_VAR_DIR": str(tmp_path),
            "NEXUS_ENV_FILE": "",  # never a developer's .env
            "DJANGO_SETTINGS_MODULE": "nexus.settings",
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize(("proxies", "believed"), [("0", False), ("1", True)])
def test_x_forwarded_proto_is_believed_only_behind_a_trusted_proxy(tmp_path, proxies, believed):
    """Without a proxy a client could claim HTTPS over plain HTTP and be sent HSTS (and secure-only cookies)."""
    code = (
        "from django.test import Client\n"
        "response = Client().get('/health/live', HTTP_HOST='localhost', HTTP_X_FORWARDED_PROTO='https')\n"
        "print(response.status_code, 'Strict-Transport-Security' in response)"
    )
    assert production_settings_run(tmp_path, code, NEXUS_TRUSTED_PROXIES=proxies).split() == ["200", str(believed)]


def test_gunicorn_leaves_it_to_django_whether_a_request_came_over_https():
    """gunicorn believes X-Forwarded-Proto from 127.0.0.1 by default: only NEXUS_TRUSTED_PROXIES may decide."""
    assert runpy.run_path(str(PROJECT_DIR / "gunicorn.conf.py"))["secure_scheme_headers"] == {}


CACHE_LOCATIONS = (
    "import json\nfrom django.conf import settings\n"
    "print(json.dumps({alias: [cache['BACKEND'].rsplit('.', 1)[1], str(cache['LOCATION'])]"
    " for alias, cache in settings.CACHES.items()}))"
)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (  # one Redis for everything
            {"REDIS_URL": "redis://one:6379/0"},
            {"default": "redis://one:6379/0", "limits": "redis://one:6379/0", "recommendations": "redis://one:6379/0"},
        ),
        (  # each role its own
            {
                "REDIS_URL": "redis://one:6379/0",
                "REDIS_CACHE_URL": "redis://volatile:6379/0",
                "REDIS_LIMITS_URL": "redis://state:6379/1",
                "REDIS_STORE_URL": "redis://state:6379/0",
            },
            {
                "default": "redis://volatile:6379/0",
                "limits": "redis://state:6379/1",
                "recommendations": "redis://state:6379/0",
            },
        ),
    ],
)
def test_each_cache_role_reads_its_own_url_and_defaults_to_redis_url(tmp_path, environment, expected):
    caches = json.loads(production_settings_run(tmp_path, CACHE_LOCATIONS, **environment))
    assert {alias: location for alias, (backend, location) in caches.items()} == expected
    assert {backend for backend, _ in caches.values()} == {"RedisCache"}


def test_the_embedded_default_keeps_every_cache_role_in_process(tmp_path):
    caches = json.loads(production_settings_run(tmp_path, CACHE_LOCATIONS))
    assert caches["default"][0] == caches["limits"][0] == "LocMemCache"
    assert caches["default"][1] != caches["limits"][1]  # two stores: the volatile one is culled, limits hardly
    assert caches["recommendations"] == ["FileBasedCache", str(tmp_path / "recommendations")]


def test_check_deploy_passes_with_production_settings(tmp_path):
    """DEBUG off, a real secret key, nothing else set: Django's deployment checklist has nothing to say."""
    result = subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR,
        env={
            "PATH": os.environ["PATH"],
            "SECRET_KEY": secrets.token_urlsafe(50),
            "NEXUS_VAR_DIR": str(tmp_path),
            "NEXUS_ENV_FILE": "",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def imported_distributions(paths) -> set[str]:
    """The installed distributions that provide the third-party modules these files import, or name in a
    dotted string (settings: "whitenoise.middleware.WhiteNoiseMiddleware")."""
    providers = importlib.metadata.packages_distributions()
    modules = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                named = re.fullmatch(r"([a-z_][a-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)+", node.value)
                if named and named.group(1) in providers:
                    modules.add(named.group(1))
    # bench/ is the project's own benchmark harness (never in the image), which its tests import.
    third_party = modules - set(sys.stdlib_module_names) - {*PROJECT_PACKAGES, "tests", "bench", "__future__"}
    return {normalized(providers.get(module, [f"<not installed: {module}>"])[0]) for module in third_party}


def installed_with(requirements: list[str]) -> set[str]:
    """What pip installs for these requirements: their distributions and, recursively, what those require."""
    pending, installed = [requirement_name(requirement) for requirement in requirements], set()
    while pending:
        name = pending.pop()
        if name in installed:
            continue
        installed.add(name)
        try:
            required = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            required = []
        pending += [requirement_name(requirement) for requirement in required if "extra ==" not in requirement]
    return installed


def requirement_name(requirement: str) -> str:
    return normalized(re.match(r"[A-Za-z0-9._-]+", requirement).group())


def normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


@pytest.fixture(scope="module")
def project():
    return tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]


def test_the_image_installs_every_module_the_code_imports(project):
    """The image installs pyproject.toml's dependencies and nothing else: an import they do not bring in
    would only fail in production."""
    code = [path for package in PROJECT_PACKAGES for path in (PROJECT_DIR / package).rglob("*.py")]
    code += [PROJECT_DIR / name for name in ("manage.py", "gunicorn.conf.py", "docker/healthcheck.py")]
    missing = imported_distributions(code) - installed_with(project["dependencies"])
    assert missing == set(), "add these to [project] dependencies in pyproject.toml"


def test_the_dev_extra_installs_every_module_the_tests_import(project):
    tests = list((PROJECT_DIR / "tests").rglob("*.py"))
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    missing = imported_distributions(tests) - installed_with(declared)
    assert missing == set(), "add these to the dev extra in pyproject.toml"


def test_workers_scale_out_and_each_role_consumes_the_queues_of_its_jobs(compose):
    """`worker` takes refreshes, precompute shards and the default queue, `trainer` trainings (README,
    "Scaling"); a worker can be scaled: no fixed container name, no published port."""
    entrypoint = (PROJECT_DIR / "docker" / "entrypoint.sh").read_text()
    assert '--queues "$(queue_of refresh),$(queue_of precompute),$default_queue"' in entrypoint
    assert '--concurrency 1 --queues "$(queue_of training)"' in entrypoint
    for role in ("worker", "trainer"):
        assert "container_name" not in compose["services"][role] and "ports" not in compose["services"][role]


@pytest.mark.parametrize(
    ("default_queue", "expected"),
    [("celery", "refresh,precompute,celery"), ("nexus-x", "nexus-x.refresh,nexus-x.precompute,nexus-x")],
)
def test_the_entrypoint_names_queues_as_the_settings_do(default_queue, expected):
    """docker/entrypoint.sh's queue_of and nexus.queues.job_queue agree (the settings are read in a child
    process, where the default queue is the one given)."""
    script = (PROJECT_DIR / "docker" / "entrypoint.sh").read_text()
    function = script[script.index("default_queue=") : script.index("catalog_is_empty()")]
    shell = subprocess.run(
        ["sh", "-c", f'{function}\necho "$(queue_of refresh),$(queue_of precompute),$default_queue"'],
        env={"CELERY_TASK_DEFAULT_QUEUE": default_queue, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == expected
    code = "from django.conf import settings as s; print(s.NEXUS_QUEUES['refresh'], s.NEXUS_QUEUES['training'])"
    env = {**os.environ, "CELERY_TASK_DEFAULT_QUEUE": default_queue, "DJANGO_SETTINGS_MODULE": "nexus.settings"}
    python = subprocess.run(
        [PYTHON, "-c", f"import django; django.setup(); {code}"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert python.stdout.split() == [expected.split(",")[0], expected.split(",")[0].replace("refresh", "training")]
