"""The .env file that scripts/run writes: development settings for every later command, never a way around
production's secret key. Settings are read once per process, so each case runs in a process of its own."""

import os
import subprocess
import sys

from tests.servers import PROJECT_DIR

SHOW_SETTINGS = (
    "import django\ndjango.setup()\nfrom django.conf import settings\nprint(settings.DEBUG, settings.SECRET_KEY)"
)


def settings_run(tmp_path, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS],
        cwd=PROJECT_DIR,
        env={
            "PATH": os.environ["PATH"],
            "NEXUS_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "nexus.settings",
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_env_file_or_secret_key_refuses_to_start(tmp_path):
    result = settings_run(tmp_path, NEXUS_ENV_FILE=str(tmp_path / "absent.env"))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_env_file_supplies_development_settings(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# written by scripts/run\nDEBUG=1\nSECRET_KEY=from-the-env-file\n")
    result = settings_run(tmp_path, NEXUS_ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "from-the-env-file"]


def test_the_environment_wins_over_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\nSECRET_KEY=from-the-env-file\n")
    result = settings_run(tmp_path, NEXUS_ENV_FILE=str(env_file), DEBUG="0", SECRET_KEY="from-the-environment")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "from-the-environment"]


def test_an_empty_name_reads_no_env_file(tmp_path):
    (tmp_path / ".env").write_text("DEBUG=1\n")
    result = settings_run(tmp_path, NEXUS_ENV_FILE="")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
