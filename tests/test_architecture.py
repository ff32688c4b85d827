"""The house rules the code keeps (docs/architecture.md): modules small enough to read; the import layers and the
absence of cycles are checked by `lint-imports` in CI (contracts in pyproject.toml)."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACKAGES = ("nexus", "datasets", "catalog", "users", "recommender", "importers", "schema", "bench")
MAX_MODULE_LINES = 500


def test_no_module_is_over_500_lines():
    too_long = {
        str(path.relative_to(PROJECT_DIR)): lines
        for package in PACKAGES
        for path in (PROJECT_DIR / package).rglob("*.py")
        if "migrations" not in path.parts and "static" not in path.parts
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"split these along their jobs: {too_long}"
