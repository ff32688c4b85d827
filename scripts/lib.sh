# Shared by scripts/run and scripts/test: a virtual environment with the project installed, refreshed whenever
# pyproject.toml changes.
ensure_venv() {
    local python="${PYTHON:-python3.11}"
    command -v "$python" >/dev/null || python=python3
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    local stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e ".[dev]"
        rm -f .venv/.installed-* && touch "$stamp"
    fi
    export PATH="$PWD/.venv/bin:$PATH"
}
