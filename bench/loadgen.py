"""The load generator: wrk (https://github.com/wg/wrk) driven by bench/load.lua, one scenario at a time.

wrk is written in C and keeps latencies in a histogram, so it costs far less CPU than a Python client would; it
still shares the machine's cores with the server, so every run also records the CPU time wrk used.
"""

import contextlib
import dataclasses
import os
import re
import resource
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

LUA_SCRIPT = Path(__file__).resolve().parent / "load.lua"
# Two wrk threads (one per core) share the connections; generous timeouts so that a slow answer is measured as
# slow rather than dropped as a timeout.
WRK_THREADS = 2
WRK_TIMEOUT_SECONDS = 10

_RESULT = re.compile(r"^bench-result (.*)$", re.MULTILINE)
_SAMPLE = re.compile(r"^bench-sample (.*)$", re.MULTILINE)


class LoadError(RuntimeError):
    """wrk did not run or did not report."""


@dataclasses.dataclass
class LoadResult:
    """What wrk measured for one scenario."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    answer_errors: int  # non-200 answers and answers with GraphQL or payload errors
    socket_errors: int  # connect/read/write errors and timeouts
    error_samples: list[str]
    cache_hits: int  # answers served from the response cache (X-Cache: HIT)
    loadgen_cpu_seconds: float
    server_cpu_seconds: float  # gunicorn's workers and the Celery worker (a recycled worker's share is lost)
    machine_busy: float  # share of all cores busy during the run (everything on the machine), 0-1

    @property
    def errors(self) -> int:
        return self.answer_errors + self.socket_errors

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def loadgen_cores(self) -> float:
        """wrk's CPU use in cores (1.0 = one core busy for the whole run)."""
        return self.loadgen_cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def server_cores(self) -> float:
        """The Nexus processes' CPU use in cores."""
        return self.server_cpu_seconds / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    """Where wrk is installed, or None."""
    return shutil.which("wrk")


def wrk_version() -> str:
    """wrk's version line, for the report."""
    # `wrk -v` prints its version and exits with status 1.
    output = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout  # noqa: S607
    # "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer": keep what precedes the copyright.
    return output.split("Copyright")[0].strip() if output else "unknown"


def run_scenario(
    path: str,
    requests: list[tuple[str | None, str]] | None,
    *,
    base_url: str,
    connections: int,
    seconds: float,
    requests_file: Path,
    server_pids: Callable[[], list[int]] = list,
) -> LoadResult:
    """Runs wrk against ``base_url + path`` for ``seconds`` with ``connections`` connections: a plain GET when
    ``requests`` is None, else POSTs of these (token or None, JSON body) requests, written to ``requests_file``
    for load.lua. ``server_pids`` names the processes whose CPU time the result reports as the server's."""
    threads = min(WRK_THREADS, connections)
    arguments = ["get"]
    if requests is not None:
        with requests_file.open("w") as lines:
            for token, body in requests:
                lines.write(f"{token or '-'}\t{body}\n")
        arguments = ["lines", str(requests_file), str(threads)]
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={WRK_TIMEOUT_SECONDS}s",
        f"--script={LUA_SCRIPT}",
        base_url + path,
        "--",
        *arguments,
    ]
    cpu_before, machine_before = _children_cpu_seconds(), _machine_cpu_ticks()
    with ServerCpuSampler(server_pids) as server_cpu:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    cpu_after, machine_after = _children_cpu_seconds(), _machine_cpu_ticks()
    match = _RESULT.search(completed.stdout)
    if completed.returncode != 0 or match is None:
        raise LoadError(f"wrk failed ({completed.returncode}): {completed.stdout[-2000:]}{completed.stderr[-2000:]}")
    values = {key: int(value) for key, value in (pair.split("=") for pair in match.group(1).split())}
    busy = machine_after[0] - machine_before[0]
    total = machine_after[1] - machine_before[1]
    return LoadResult(
        requests=values["requests"],
        seconds=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1000,
        p90_ms=values["p90_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        max_ms=values["max_us"] / 1000,
        answer_errors=values["answer_errors"],
        socket_errors=sum(values[key] for key in ("connect_errors", "read_errors", "write_errors", "timeouts")),
        error_samples=_SAMPLE.findall(completed.stdout),
        cache_hits=values["cache_hits"],
        loadgen_cpu_seconds=cpu_after - cpu_before,
        server_cpu_seconds=server_cpu.seconds,
        machine_busy=busy / total if total else 0.0,
    )


class ServerCpuSampler:
    """Adds up the CPU time of the server processes while the block runs, sampling them every
    ``SAMPLE_SECONDS``: gunicorn replaces workers after max_requests, and a process that exits takes its CPU time
    with it, so only what was sampled before it went is counted. A process that appears during the block (a
    replacement worker) counts from its start, its start-up included."""

    SAMPLE_SECONDS = 0.25

    def __init__(self, pids: Callable[[], list[int]]):
        self._pids = pids
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def __enter__(self) -> "ServerCpuSampler":
        self._first = processes_cpu_seconds(self._pids())
        self._last = dict(self._first)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(seconds - self._first.get(pid, 0.0) for pid, seconds in self._last.items())

    def _sample(self) -> None:
        self._last.update(processes_cpu_seconds(self._pids()))

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.SAMPLE_SECONDS):
            self._sample()


def _children_cpu_seconds() -> float:
    # Only waited-for children count, and the servers outlive the runs: the difference around one wrk run is
    # wrk's own CPU time.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (gunicorn's workers, a Celery pool), from /proc."""
    try:
        # Children of the main thread: where gunicorn and Celery fork their workers.
        return [int(pid) for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
    except OSError:
        return []


def processes_cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each running process in ``pids``."""
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks_per_second  # utime, stime
    return seconds


def _machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    return total - idle, total
