"""The lock files (scripts/lock, pip-compile) in step with pyproject.toml: every declared dependency pinned within
its range, nothing pinned that nothing needs, every pin with its hashes, the dev lock on the image's versions, and
the environment these tests run in installed from the lock (scripts/lib.sh ensure_venv)."""

import importlib.metadata
import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.servers import PROJECT_DIR

PROJECT_NAME = "nexus"
FIX = "run scripts/lock (README: 'Dependencies')"


def pins(lock: str) -> dict[str, dict]:
    """name -> {version, hashes, via} for each `name==version` block of a pip-compile output file."""
    text = (PROJECT_DIR / lock).read_text()
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if not match:
            continue
        # "# via kombu", or "# via" and then one "#   name" line each
        notes = block.split("# via", 1)[1].splitlines() if "# via" in block else []
        via = [note.strip().lstrip("#").strip() for note in notes]
        found[canonicalize_name(match.group(1))] = {
            "version": match.group(2),
            "hashes": re.findall(r"--hash=sha256:([0-9a-f]{64})", block),
            "via": [entry for entry in via if entry],
        }
    return found


@pytest.fixture(scope="module")
def project():
    return tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]


@pytest.fixture(scope="module")
def runtime_lock():
    return pins("requirements.lock")


@pytest.fixture(scope="module")
def dev_lock():
    return pins("requirements-dev.lock")


def assert_declared_within_ranges(declared: list[str], lock: dict[str, dict]):
    for requirement in map(Requirement, declared):
        pin = lock.get(canonicalize_name(requirement.name))
        assert pin, f"{requirement.name} is not in the lock: {FIX}"
        assert requirement.specifier.contains(pin["version"], prereleases=True), (
            f"{requirement.name}=={pin['version']} is outside pyproject.toml's {requirement.specifier}: {FIX}"
        )


def assert_nothing_stale(declared: list[str], lock: dict[str, dict]):
    """Each pin is declared or needed by another pin (pip-compile's `# via` notes say which)."""
    declared_names = {canonicalize_name(Requirement(requirement).name) for requirement in declared}
    for name, pin in lock.items():
        needed_by = {canonicalize_name(entry) for entry in pin["via"] if not entry.startswith(("-", PROJECT_NAME))}
        assert name in declared_names or needed_by & lock.keys(), f"{name} is pinned but nothing needs it: {FIX}"


def test_the_runtime_lock_pins_the_dependencies_within_their_ranges(project, runtime_lock):
    assert_declared_within_ranges(project["dependencies"], runtime_lock)
    assert_nothing_stale(project["dependencies"], runtime_lock)


def test_the_dev_lock_pins_the_dependencies_and_the_dev_extra_within_their_ranges(project, dev_lock):
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    assert_declared_within_ranges(declared, dev_lock)
    assert_nothing_stale(declared, dev_lock)


def test_tests_run_on_the_versions_the_image_ships(runtime_lock, dev_lock):
    for name, pin in runtime_lock.items():
        assert dev_lock.get(name) == {**pin, "via": dev_lock.get(name, {}).get("via")}, f"{name} differs: {FIX}"


def test_every_pin_has_its_hashes(runtime_lock, dev_lock):
    for name, pin in {**runtime_lock, **dev_lock}.items():
        assert pin["hashes"], f"{name} has no hashes: {FIX}"


def test_the_locks_name_no_index_of_this_machine():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (PROJECT_DIR / lock).read_text()
        assert not re.search(r"^\s*-(-index-url|-extra-index-url|-find-links|f |i )", text, re.MULTILINE), lock
        assert "pip-compile with Python 3.11" in text, f"{lock}: the locks are compiled on Python 3.11"


def test_this_environment_is_installed_from_the_dev_lock(dev_lock):
    """scripts/lib.sh installs .venv from requirements-dev.lock and reinstalls when it changes."""
    differing = {}
    for name, pin in dev_lock.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != pin["version"]:
            differing[name] = (installed, pin["version"])
    assert not differing, f"installed, locked: {differing}; scripts/test reinstalls .venv from the lock"
