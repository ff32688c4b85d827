"""The benchmark harness (bench/run): a --quick run end to end against the real services, plus its error counting
and report writing on their own. Timings are never asserted: they depend on the machine and its load."""

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import urllib.parse
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from kombu import Connection

from bench import loadgen, report
from tests.conftest import movielens_small_dir, need, tmdb_csv
from tests.servers import PROJECT_DIR, PYTHON

SCENARIOS = {
    "baseline",
    "movies",
    "search",
    "movies-miss",
    "recommendations",
    "recommendations-miss",
    "mix",
    "rate",
    "rate-popular",
    "rate-rare",
}


@pytest.fixture
def wrk():
    need(shutil.which("wrk") is not None, "needs the wrk load generator (apt-get install wrk)")


def test_quick_run_measures_every_scenario_without_errors_and_cleans_up(wrk, tmp_path):
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")
    need(bool(settings.REDIS_URL), "needs Redis: set REDIS_URL=redis://...")
    need(bool(settings.CELERY_BROKER_URL), "needs a broker: set CELERY_BROKER_URL=amqp://...")
    need(movielens_small_dir() is not None and tmdb_csv() is not None, "NEXUS_DATA_DIR must hold the datasets")
    server = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    database = f"nexus_bench_test_{os.getpid()}"
    output, measurements = tmp_path / "benchmarks.md", tmp_path / "bench.json"
    command = [
        "bench/run",
        "--quick",
        f"--output={output}",
        f"--json={measurements}",
        f"--database-url={urllib.parse.urlunsplit(server._replace(path='/' + database))}",
        # The session's own Redis database: every test starts by flushing it anyway.
        f"--redis-url={settings.REDIS_URL}",
        f"--broker-url={settings.CELERY_BROKER_URL}",
        f"--data-dir={movielens_small_dir().parents[1]}",
    ]
    environment = {**os.environ, "NEXUS_PYTHON": PYTHON}  # bench/run with this test run's interpreter
    completed = subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=900)

    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    results = json.loads(measurements.read_text())
    assert set(results["scenarios"]) == SCENARIOS
    for name, scenario in results["scenarios"].items():
        assert scenario["requests"] > 0, name
        assert scenario["errors"] == 0, (name, scenario["error_samples"])
        # Every GraphQL scenario is judged against a baseline measured just before it.
        assert (scenario["baseline_beside_requests_per_second"] is None) == (name == "baseline"), name
        assert scenario["times_baseline"] > 0, name
    # What each scenario measured: the warm cache, or (the miss scenario, the baseline) no cache at all.
    hits = {name: scenario["cache_hits"] / scenario["requests"] for name, scenario in results["scenarios"].items()}
    misses = ("baseline", "movies-miss", "recommendations-miss", "rate", "rate-popular", "rate-rare")
    assert {hits[name] for name in misses} == {0}, hits
    assert min(hits["movies"], hits["search"], hits["recommendations"]) > 0.9, hits
    assert 0 < hits["mix"] < 1, hits
    # The authenticated scenario measured personalized lists, not the anonymous fallback.
    assert set(results["notes"]["recommendation sources"]) <= {"COLLABORATIVE", "CONTENT"}
    assert {target["target"].split()[0] for target in results["targets"]} == {
        "movies",
        "recommendations",
        "mix",
        "recommendations-miss",
        "movies-miss",
        "rate",
        "p99",
    }

    document = output.read_text()
    header = "| scenario | requests/s | p50 ms | p99 ms | errors | baseline beside it | × baseline | × first |"
    for text in (header, "PostgreSQL", "RabbitMQ"):
        assert text in document
    assert "bench/run --quick" in document
    assert "requests/s" in completed.stdout and "× baseline" in completed.stdout

    # Nothing is left behind: no server, no work folder, no database, no queue.
    port = int(completed.stdout.split("gunicorn on http://127.0.0.1:", 1)[1].split()[0])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    work = completed.stdout.split("work folder (logs, models) ", 1)[1].split()[0]
    assert not Path(work).exists()
    connection = psycopg2.connect(urllib.parse.urlunsplit(server._replace(path="/postgres")))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [database])
            assert cursor.fetchone()[0] == 0
    finally:
        connection.close()
    queue = completed.stdout.split("on queue ", 1)[1].split()[0]
    with Connection(settings.CELERY_BROKER_URL) as broker, pytest.raises(broker.channel_errors):
        broker.default_channel.queue_declare(queue, passive=True)


class _GraphQLLikeHandler(http.server.BaseHTTPRequestHandler):
    """Answers like a GraphQL server: 200 with top-level errors for a body saying "broken", with payload errors
    for "payload", a 429 for "refused", clean data otherwise. Records (Authorization, body) in ``server.seen``."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.headers["Authorization"], body.decode()))
        status, answer = 200, {"data": {"rateMovie": {"rating": {"score": 4.5}, "errors": []}}}
        if b"broken" in body:
            answer = {"data": None, "errors": [{"message": "boom"}]}
        elif b"payload" in body:
            answer = {"data": {"rateMovie": {"rating": None, "errors": [{"code": "invalid"}]}}}
        elif b"refused" in body:
            status, answer = 429, {"errors": [{"message": "slow down"}]}
        encoded = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # wrk drops its connections when its time is up: resets are expected here


@pytest.fixture
def graphql_like_server():
    server = _QuietServer(("127.0.0.1", 0), _GraphQLLikeHandler)
    server.seen = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("body", "counted_as_error"),
    [('{"query": "fine"}', False), ('{"query": "broken"}', True), ('{"query": "payload"}', True), ("refused", True)],
)
def test_the_load_generator_counts_graphql_errors_and_refusals(
    wrk, graphql_like_server, tmp_path, body, counted_as_error
):
    result = loadgen.run_scenario(
        "/graphql",
        [(None, body)],
        base_url=graphql_like_server.url,
        connections=2,
        seconds=1,
        requests_file=tmp_path / "requests.tsv",
    )

    assert result.requests > 0
    assert result.socket_errors == 0
    assert result.answer_errors == (result.requests if counted_as_error else 0)
    assert bool(result.error_samples) == counted_as_error


def test_each_request_is_sent_with_its_token_and_threads_share_none(wrk, graphql_like_server, tmp_path):
    requests = [(f"token-{number % 3}", json.dumps({"query": "q", "variables": {"n": number}})) for number in range(50)]
    requests.append((None, json.dumps({"query": "q", "variables": {"n": "anonymous"}})))

    result = loadgen.run_scenario(
        "/graphql",
        requests,
        # The fake server runs in this process: its CPU time is what the result reports as the server's.
        base_url=graphql_like_server.url,
        connections=2,
        seconds=1,
        requests_file=tmp_path / "requests.tsv",
        server_pids=lambda: [os.getpid()],
    )

    assert result.server_cpu_seconds > 0 and result.loadgen_cpu_seconds > 0
    seen = [(authorization, json.loads(body)["variables"]["n"]) for authorization, body in graphql_like_server.seen]
    assert result.errors == 0 and seen
    sent = {(None, "anonymous"), *((f"Bearer token-{number % 3}", number) for number in range(50))}
    assert set(seen) <= sent
    # Thread N of 2 takes lines N, N + 2, ... and sends them in turn: within a thread's share, every request goes
    # out once before any goes out twice. (Across threads there is no such order: one can start its second round
    # while the other is finishing its first.)
    line_of = {value: line for line, value in enumerate([*range(50), "anonymous"])}
    for thread in range(2):
        share = [value for _, value in seen if line_of[value] % 2 == thread]
        share_size = len([line for line in line_of.values() if line % 2 == thread])
        assert len(set(share[:share_size])) == len(share[:share_size])


def test_scenarios_build_fresh_requests_for_every_run():
    from bench import scenarios

    data = scenarios.BenchData(
        tokens=[f"t{number}" for number in range(16)],
        movie_ids=["m1", "m2", "m3"],
        popular_movie_ids=["m1"],
        rare_movie_ids=["m3"],
    )
    by_key = {scenario.key: scenario for scenario in scenarios.SCENARIOS}
    warm_up = scenarios.requests_for(by_key["movies-miss"], data, seconds=1, run_id="a")
    measured = scenarios.requests_for(by_key["movies-miss"], data, seconds=1, run_id="b")
    assert len({body for _, body in warm_up + measured}) == len(warm_up) + len(measured)  # no two share an entry

    mix = scenarios.requests_for(by_key["mix"], data, seconds=4, run_id="c")
    kinds = [json.loads(body)["query"].split()[1] for _, body in mix]
    shares = {kind: kinds.count(kind) / len(kinds) for kind in set(kinds)}
    assert abs(shares["Browse($genre:"] - 0.40) < 0.03 and abs(shares["Rate($movie:"] - 0.10) < 0.03
    assert {token for token, body in mix if "query Browse" in body or "query Movie(" in body} == {None}
    assert {token for token, _ in mix if token} == set(data.tokens)

    rare = scenarios.requests_for(by_key["rate-rare"], data, seconds=1, run_id="d")
    assert {json.loads(body)["variables"]["movie"] for _, body in rare} == {"m3"}


def test_the_report_rewrites_only_its_block(tmp_path):
    document = tmp_path / "benchmarks.md"
    document.write_text(
        f"# Intro by hand\n\n{report.RESULTS_START}\nold table\n{report.RESULTS_END}\n\n## Scale\nkept\n"
    )

    report.write_markdown(document, "new table")

    assert document.read_text() == (
        f"# Intro by hand\n\n{report.RESULTS_START}\nnew table\n{report.RESULTS_END}\n\n## Scale\nkept\n"
    )
    fresh = tmp_path / "fresh.md"
    report.write_markdown(fresh, "first table")
    assert "first table" in fresh.read_text()


def _result(requests_per_second: float, p99_ms: float) -> loadgen.LoadResult:
    return loadgen.LoadResult(
        requests=int(requests_per_second * 10),
        seconds=10,
        p50_ms=1,
        p90_ms=1,
        p99_ms=p99_ms,
        max_ms=p99_ms,
        answer_errors=0,
        socket_errors=0,
        error_samples=[],
        cache_hits=0,
        loadgen_cpu_seconds=1,
        server_cpu_seconds=15,
        machine_busy=0.5,
    )


def test_targets_compare_with_the_baseline_beside_each_scenario_and_the_p99_limit():
    results = {
        "baseline": _result(100, 80),
        "movies": _result(250, 20),
        "search": _result(90, 30),
        "recommendations": _result(90, 49),
        "rate": _result(50, 60),
        "mix": _result(160, 40),
    }
    # The machine slowed down after the first baseline: the mix is judged against the one measured beside it.
    beside = {key: _result(100, 80) for key in results if key != "baseline"} | {"mix": _result(80, 80)}

    targets = {target: (met, measured) for target, met, measured in report.targets(results, beside)}

    assert targets["movies ≥ 2× baseline requests/s"] == (True, "2.50×")
    assert targets["recommendations ≥ 1× baseline requests/s"] == (False, "0.90×")
    assert targets["p99 < 50 ms on every read"] == (True, "movies 20.0 ms, search 30.0 ms, recommendations 49.0 ms")
    assert targets["p99 < 50 ms on rateMovie"] == (False, "rate 60.0 ms")
    assert targets["mix ≥ 1.5× baseline requests/s"] == (True, "2.00×")
    assert "movies-miss ≥ 0.8× baseline requests/s" not in targets  # not measured: not judged

    results["mix"] = _result(110, 40)
    results["search"] = _result(90, 50)
    targets = {target: (met, measured) for target, met, measured in report.targets(results, beside)}
    assert targets["p99 < 50 ms on every read"][0] is False
    assert targets["mix ≥ 1.5× baseline requests/s"] == (False, "1.38×")


def test_bench_code_is_never_routed_in_production():
    from nexus import urls

    assert not any("bench" in str(pattern.pattern) for pattern in urls.urlpatterns)
    assert "bench" in set((PROJECT_DIR / ".dockerignore").read_text().split())
    assert Path(PROJECT_DIR / "bench" / "run").stat().st_mode & 0o111


def test_server_cpu_counts_a_process_that_starts_and_exits_during_the_run():
    # Like a gunicorn worker recycled mid-run: born after the sampler started, gone before it stopped.
    burn = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass"
    with loadgen.ServerCpuSampler(lambda: loadgen.child_pids(os.getpid())) as sampler:
        subprocess.run([PYTHON, "-c", burn], check=True)

    assert sampler.seconds >= 0.4
