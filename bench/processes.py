"""Stopping a child process: politely (SIGTERM), then for sure (SIGKILL). Shared by the benchmark harness and the
tests' servers (tests/servers.py)."""

import subprocess


def process_stop(process: subprocess.Popen, *, timeout: float = 20) -> None:
    """SIGTERM, up to ``timeout`` seconds for the process to exit, then SIGKILL; returns once it is gone."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
