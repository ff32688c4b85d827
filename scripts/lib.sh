# Shared by scripts/run and scripts/test: a virtual environment with exactly the pinned versions of
# requirements-dev.lock (hashes checked) and the project itself, reinstalled whenever the lock or pyproject.toml
# changes. The lock comes from pyproject.toml's ranges: scripts/lock regenerates it.
ensure_venv() {
    local python="${PYTHON:-python3.11}"
    command -v "$python" >/dev/null || python=python3
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    local stamp=".venv/.installed-$(cat pyproject.toml requirements-dev.lock | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet --require-hashes --requirement requirements-dev.lock
        .venv/bin/python -m pip install --quiet --no-deps --editable .
        rm -f .venv/.installed-* && touch "$stamp"
    fi
    export PATH="$PWD/.venv/bin:$PATH"
}
