"""The bench's report: the results table, the targets of the performance issue, and the machine they ran on,
printed on the terminal and written into the results block of docs/benchmarks.md."""

import dataclasses
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import redis
from kombu import Connection

from bench.loadgen import LoadResult, wrk_version
from bench.scenarios import Scenario

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS_START = "<!-- bench:results:start (bench/run rewrites everything up to the end marker) -->"
RESULTS_END = "<!-- bench:results:end -->"
P99_LIMIT_MS = 50.0
# (scenario, minimum requests/s as a multiple of the baseline's) from the performance issues: hot reads, reads
# that miss the response cache, the mix of real traffic and the write.
THROUGHPUT_TARGETS = (
    ("movies", 2.0),
    ("recommendations", 1.0),
    ("mix", 1.5),
    ("recommendations-miss", 1.0),
    ("movies-miss", 0.8),
    ("rate", 0.5),
)
READ_SCENARIOS = ("movies", "search", "recommendations")
NEW_DOCUMENT = f"""# Benchmarks

Written by `bench/run`; see bench/harness.py for the method.

{RESULTS_START}
{RESULTS_END}
"""


@dataclasses.dataclass(frozen=True)
class Rendered:
    terminal: str
    markdown: str


def machine_description(*, database_url: str, redis_url: str, broker_url: str) -> dict[str, str]:
    """Hardware, software versions and the code's commit, as named in the report."""
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    parts = urllib.parse.urlsplit(database_url)
    connection = psycopg2.connect(urllib.parse.urlunsplit(parts._replace(path="/postgres")))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgres_version = cursor.fetchone()[0]
    finally:
        connection.close()
    with Connection(broker_url) as broker:
        broker.connect()
        rabbitmq_version = broker.connection.server_properties.get("version", "unknown")
    rabbitmq_version = rabbitmq_version.decode() if isinstance(rabbitmq_version, bytes) else str(rabbitmq_version)
    return {
        "CPU": f"{os.cpu_count()} × {cpu_model}",
        "RAM": f"{memory_kib / 1024**2:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Django": importlib.metadata.version("django"),
        "graphene-django": importlib.metadata.version("graphene-django"),
        "gunicorn": importlib.metadata.version("gunicorn"),
        "PostgreSQL": postgres_version,
        "Redis": redis.Redis.from_url(redis_url).info("server")["redis_version"],
        "RabbitMQ": rabbitmq_version,
        "load generator": wrk_version(),
        "commit": _git_commit(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load average before the run": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def _git_commit() -> str:
    def git(*arguments: str) -> str:
        command = ["git", *arguments]
        return subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603, S607

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit} with uncommitted changes" if git("status", "--porcelain") else commit


def command_line(argv: list[str]) -> str:
    """The command as typed, for the report (``argv`` of the harness, whose first item is its own path)."""
    return shlex.join(["bench/run", *argv[1:]])


def ratio(results: dict[str, LoadResult], beside: dict[str, LoadResult], key: str) -> float | None:
    """The scenario's requests/s as a multiple of the baseline's measured just before it (the run's first baseline
    for a scenario without one of its own); None when that baseline served nothing."""
    baseline = (beside.get(key) or results["baseline"]).requests_per_second
    return results[key].requests_per_second / baseline if baseline else None


def targets(results: dict[str, LoadResult], beside: dict[str, LoadResult]) -> list[tuple[str, bool, str]]:
    """(target, met, what was measured) for each target of the issue that these results can judge: throughput
    against the baseline measured beside each scenario."""
    checks = []
    for key, multiple in THROUGHPUT_TARGETS:
        if key not in results:
            continue
        measured = ratio(results, beside, key) or 0.0
        checks.append((f"{key} ≥ {multiple:g}× baseline requests/s", measured >= multiple, f"{measured:.2f}×"))
    # Hot reads, reads that miss the response cache and the write are judged apart: a rating is a transaction
    # with a row lock and queues a refresh that the worker computes on the same cores.
    for label, keys in (
        ("every read", READ_SCENARIOS),
        ("recommendations missing the cache", ("recommendations-miss",)),
        ("rateMovie", ("rate", "rate-popular", "rate-rare")),
    ):
        measured = {key: results[key] for key in keys if key in results}
        met = all(result.p99_ms < P99_LIMIT_MS for result in measured.values())
        p99s = ", ".join(f"{key} {result.p99_ms:.1f} ms" for key, result in measured.items())
        checks.append((f"p99 < {P99_LIMIT_MS:g} ms on {label}", met, p99s))
    return checks


def render(
    *,
    results: dict[str, LoadResult],
    beside: dict[str, LoadResult],
    scenarios: tuple[Scenario, ...],
    machine: dict[str, str],
    options,
    timings: dict[str, float],
    notes: dict,
    command: str,
    restarts: dict[str, int],
) -> Rendered:
    """The table, targets, error samples and context, as terminal text and as the markdown results block."""
    first_baseline = results["baseline"].requests_per_second
    titles = {scenario.key: scenario.title for scenario in scenarios}
    header = ("scenario", "requests/s", "p50 ms", "p99 ms", "errors", "baseline beside it", "× baseline", "× first")
    rows = [
        (
            titles[key],
            f"{result.requests_per_second:,.0f}",
            f"{result.p50_ms:.1f}",
            f"{result.p99_ms:.1f}",
            f"{result.errors:,}",
            f"{beside[key].requests_per_second:,.0f}" if key in beside else "—",
            f"{measured:.2f}" if (measured := ratio(results, beside, key)) is not None else "—",
            f"{result.requests_per_second / first_baseline:.2f}" if first_baseline else "—",
        )
        for key, result in results.items()
    ]
    detail_header = (
        "scenario",
        "requests",
        "cache hits",
        "p90 ms",
        "max ms",
        "Nexus CPU",
        "wrk CPU",
        "machine busy",
        "recycled",
    )
    details = [
        (
            titles[key],
            f"{result.requests:,}",
            f"{result.cache_hits / result.requests:.0%}" if result.requests else "—",
            f"{result.p90_ms:.1f}",
            f"{result.max_ms:.1f}",
            f"{result.server_cores:.2f}",
            f"{result.loadgen_cores:.2f}",
            f"{result.machine_busy:.0%}",
            str(restarts.get(key, 0)),
        )
        for key, result in results.items()
    ]
    checks = targets(results, beside)
    samples = [f"{titles[key]}: {sample}" for key, result in results.items() for sample in result.error_samples[:5]]
    setup = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    threads = f"{options.threads} threads each" if options.threads else "gunicorn.conf.py's threads (1: sync workers)"
    workers = f"{options.workers} gunicorn workers" if options.workers else "gunicorn.conf.py's workers (2 per CPU)"
    settings = (
        f"{options.connections} connections, {workers} with {threads}, "
        f"{options.warmup:g} s warm-up then "
        f"{options.duration:g} s per scenario; {options.users} bench users with {options.ratings_per_user} ratings each"
    )

    warning = _busy_machine_warning(machine)
    terminal = [_text_table(header, rows), "", _text_table(detail_header, details), ""]
    terminal += [f"{'PASS' if met else 'FAIL'}  {target}: {measured}" for target, met, measured in checks]
    if warning:
        terminal += ["", f"Note: {warning}"]
    if samples:
        terminal += ["", "Errors (first samples):", *samples]
    terminal += ["", f"Setup: {setup}", f"Load: {settings}", *(f"{name}: {value}" for name, value in notes.items())]

    markdown = [
        f"Measured {machine['date']} with `{command}` at commit {machine['commit']}.",
        "",
        _markdown_table(header, rows, numeric_from=1),
        "",
        '× baseline: against the baseline measured just before the scenario (its requests/s in "baseline beside'
        " it\"); × first: against the run's first baseline, the first row.",
        "",
        *([f"**Note:** {warning}", ""] if warning else []),
        "| target | result | measured |",
        "|---|---|---|",
        *(f"| {target} | {'PASS' if met else 'FAIL'} | {measured} |" for target, met, measured in checks),
        "",
        "Per scenario (cache hits = share of answers served from the response cache; CPU in cores, 1.00 = one core"
        " for the whole run; machine busy = share of all cores used by anything; recycled = gunicorn workers"
        " replaced after max_requests during the run):",
        "",
        _markdown_table(detail_header, details, numeric_from=1),
        "",
    ]
    if samples:
        markdown += ["Errors (first samples):", "", "```", *samples, "```", ""]
    markdown += [
        "Machine and software:",
        "",
        *(f"- {name}: {value}" for name, value in machine.items()),
        "",
        f"Load: {settings}.",
        "",
        f"Preparation: {setup}.",
        "",
        *(f"- {name}: {_note(value)}" for name, value in notes.items()),
    ]
    return Rendered(terminal="\n".join(terminal), markdown="\n".join(markdown))


def _busy_machine_warning(machine: dict[str, str]) -> str | None:
    """A warning when other work kept the machine busy as the run started (1-minute load above half the cores)."""
    load = float(machine["load average before the run"].split()[0])
    cores = os.cpu_count() or 1
    if load <= cores / 2:
        return None
    return (
        f"the machine was already busy when the run started (load average {load:.1f} on {cores} cores): other "
        "processes shared the CPU with the server, so these figures are low and noisy, ratios included."
    )


def _note(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key} {count}" for key, count in value.items()) or "none"
    return str(value)


def _text_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(cells))
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]], *, numeric_from: int) -> str:
    alignment = ["---" if column < numeric_from else "---:" for column in range(len(header))]
    return "\n".join(f"| {' | '.join(row)} |" for row in [header, tuple(alignment), *rows])


def write_markdown(path: Path, results_block: str) -> None:
    """Replaces the results block of ``path`` (between the markers), leaving the hand-written rest as it is;
    creates the file with only a title and the block when it does not exist."""
    document = path.read_text() if path.exists() else NEW_DOCUMENT
    if RESULTS_START not in document or RESULTS_END not in document:
        raise ValueError(f"{path} has no results markers ({RESULTS_START} ... {RESULTS_END})")
    before, rest = document.split(RESULTS_START, 1)
    _, after = rest.split(RESULTS_END, 1)
    path.write_text(f"{before}{RESULTS_START}\n{results_block}\n{RESULTS_END}{after}")


def as_json(
    *,
    results: dict[str, LoadResult],
    beside: dict[str, LoadResult],
    machine: dict[str, str],
    timings: dict[str, float],
    notes: dict,
    restarts: dict[str, int],
) -> str:
    """Everything the report shows, as JSON (``bench/run --json``)."""
    scenarios = {
        key: {
            **dataclasses.asdict(result),
            "requests_per_second": result.requests_per_second,
            "errors": result.errors,
            "loadgen_cores": result.loadgen_cores,
            "server_cores": result.server_cores,
            "baseline_beside_requests_per_second": beside[key].requests_per_second if key in beside else None,
            "times_baseline": ratio(results, beside, key),
        }
        for key, result in results.items()
    }
    checks = [
        {"target": target, "met": met, "measured": measured} for target, met, measured in targets(results, beside)
    ]
    return json.dumps(
        {
            "scenarios": scenarios,
            "targets": checks,
            "machine": machine,
            "preparation_seconds": timings,
            "notes": notes,
            "gunicorn_workers_recycled": restarts,
        },
        indent=2,
    )
