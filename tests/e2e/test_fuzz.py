"""Hostile input against a running server (tests/e2e/live.py: gunicorn, DEBUG off, the real catalog).

1. schemathesis generates GraphQL documents from the server's own introspected schema for every query and
   mutation field, valid ones and ones that break the schema's types, and sends each one anonymously and as a
   real user: at least MIN_FUZZED_OPERATIONS requests each way, none of which may answer 5xx, report
   INTERNAL_SERVER_ERROR or leak internals.
2. Hand-written cases over plain HTTP: NUL bytes and a 1 MB string in `search`, malformed and foreign global
   ids, bodies that are not JSON, wrong content types, deep, aliased and batched documents. Each must get a clear
   client error (or a plain answer where the input is merely odd), never a 500, and leak nothing.

Reproduce: ``pytest tests/e2e/test_fuzz.py -s`` prints the figures; NEXUS_FUZZ_EXAMPLES and NEXUS_FUZZ_SEED
change how many documents are drawn per field and which.
"""

import base64
import collections
import concurrent.futures
import dataclasses
import json
import os
import time
import urllib.error
import urllib.request

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.graphql import nodes

from tests.servers import PROJECT_DIR

# Documents drawn per root field: valid ones and ones that break the schema's types. A field whose arguments
# allow fewer distinct documents than this (`me`, `genres`) is exhausted early, hence the count check below.
POSITIVE_EXAMPLES = int(os.environ.get("NEXUS_FUZZ_EXAMPLES", "40"))
NEGATIVE_EXAMPLES = max(POSITIVE_EXAMPLES // 3, 1)
FUZZ_SEED = int(os.environ.get("NEXUS_FUZZ_SEED", "20261129"))
MIN_FUZZED_OPERATIONS = 1000  # anonymous, and as many again signed in
# CI's bound for the whole generated run (the hand-written cases come on top).
FUZZ_TIME_BUDGET = 180.0
REQUEST_TIMEOUT = 30
SENDERS = 8

# What must never reach a client: stack traces, driver and framework names, file paths, SQL.
LEAK_MARKERS_ANY_CASE = ("traceback", "psycopg", "django", 'file "', "site-packages", "/work/")
LEAK_MARKERS_ANY_CASE += (str(PROJECT_DIR).lower(),)  # where CI's clone is
LEAK_MARKERS_EXACT = ("SELECT ", " FROM ")


def leaks(response_text: str, request_text: str = "") -> list[str]:
    """Markers of internals in a response's errors (or in all of it, when it is not GraphQL's JSON), other than
    those the client itself sent: echoed input is no leak, and neither is a movie called "Django Unchained"."""
    try:
        body = json.loads(response_text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        response_text = json.dumps(body.get("errors") or [], ensure_ascii=False)
    found = [
        marker
        for marker in LEAK_MARKERS_ANY_CASE
        if marker in response_text.lower() and marker not in request_text.lower()
    ]
    found += [marker for marker in LEAK_MARKERS_EXACT if marker in response_text and marker not in request_text]
    return found


def error_codes(body) -> list[str | None]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [(error.get("extensions") or {}).get("code") for error in errors or [] if isinstance(error, dict)]


# --- 1. schemathesis -------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FuzzTally:
    """What the fuzzer sent and what came back."""

    requests: int = 0
    by_root: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    by_mode: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    authenticated: int = 0
    anonymous: int = 0
    statuses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    codes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    answered_with_data: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)

    def record(self, *, root: str, mode: str, authenticated: bool, status: int, body_text: str, sent: str):
        self.requests += 1
        self.by_root[root] += 1
        self.by_mode[mode] += 1
        self.authenticated += authenticated
        self.anonymous += not authenticated
        self.statuses[status] += 1
        try:
            body = json.loads(body_text)
        except ValueError:
            body = None
        codes = error_codes(body)
        self.codes.update(code or "(no code)" for code in codes)
        if isinstance(body, dict) and any(value is not None for value in (body.get("data") or {}).values()):
            self.answered_with_data += 1
        problems = []
        if status >= 500:
            problems.append(f"HTTP {status}")
        if body is None:
            problems.append("a body that is not JSON")
        if "INTERNAL_SERVER_ERROR" in codes:
            problems.append("INTERNAL_SERVER_ERROR")
        if found := leaks(body_text, sent):
            problems.append(f"leaks {found}")
        if problems:
            self.failures.append(f"{', '.join(problems)} for {sent[:600]}\n  -> {body_text[:600]}")

    def summary(self, elapsed: float) -> str:
        return (
            f"fuzzed {self.requests} operations in {elapsed:.1f} s "
            f"({dict(self.by_root)}, {dict(self.by_mode)}, {self.anonymous} anonymous, "
            f"{self.authenticated} authenticated); "
            f"{self.answered_with_data} answered with data; HTTP statuses {dict(self.statuses)}; "
            f"error codes {dict(self.codes.most_common())}; server errors and leaks: {len(self.failures)}"
        )


@dataclasses.dataclass(frozen=True)
class FuzzCase:
    root: str
    mode: str
    case: object  # schemathesis.Case
    as_user: bool


def draw_cases(operation, *, mode: GenerationMode, examples: int) -> list[FuzzCase]:
    """Up to ``examples`` documents for one root field, each to be sent anonymously and as the user."""
    root = "mutation" if operation.definition.is_mutation else "query"
    drawn = []

    @hypothesis.seed(FUZZ_SEED)
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.generate],  # nothing fails inside: every answer is judged afterwards
        suppress_health_check=list(hypothesis.HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def collect(case):
        # Each document goes both ways: authenticated resolvers are fuzzed as much as the anonymous paths.
        drawn.extend(FuzzCase(root=root, mode=mode.value, case=case, as_user=as_user) for as_user in (False, True))

    collect()
    return drawn


def send(fuzz_case: FuzzCase, token: str) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if fuzz_case.as_user else None
    response = fuzz_case.case.call(headers=headers, timeout=REQUEST_TIMEOUT)
    sent = response.request.body or b""
    return {
        "root": fuzz_case.root,
        "mode": fuzz_case.mode,
        "authenticated": fuzz_case.as_user,
        "status": response.status_code,
        "body_text": response.content.decode(errors="replace"),
        "sent": sent.decode(errors="replace") if isinstance(sent, bytes) else sent,
    }


def test_schemathesis_finds_no_server_error(live_stack):
    token = live_stack.register("fuzzer")
    # A file arrives only in a multipart request (tests/schema/test_uploads.py): in a JSON document any literal
    # sent for it must be refused cleanly, which strings of all kinds test.
    schemathesis.graphql.scalar("Upload", hypothesis.strategies.text(max_size=20).map(nodes.String))
    schema = schemathesis.graphql.from_url(live_stack.graphql_url, timeout=REQUEST_TIMEOUT)
    operations = [result.ok() for result in schema.get_all_operations()]
    fields = {operation.definition.field_name for operation in operations}
    assert {"movies", "movie", "me", "recommendations", "rateMovie", "deleteAccount"} <= fields, fields

    started = time.monotonic()
    plan = ((GenerationMode.POSITIVE, POSITIVE_EXAMPLES), (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES))
    cases = [
        fuzz_case
        for operation in operations
        for mode, examples in plan
        for fuzz_case in draw_cases(operation, mode=mode, examples=examples)
    ]
    generated = time.monotonic() - started
    tally = FuzzTally()
    # As many requests in flight as the server has threads (2 processes × 4): its CPU, not the round trips,
    # bounds the run.
    with concurrent.futures.ThreadPoolExecutor(max_workers=SENDERS) as senders:
        for answer in senders.map(lambda fuzz_case: send(fuzz_case, token), cases):
            tally.record(**answer)
    elapsed = time.monotonic() - started
    print(f"\n{tally.summary(elapsed)} (drawing the documents took {generated:.1f} s)")

    assert not tally.failures, f"{len(tally.failures)} server errors or leaks:\n" + "\n".join(tally.failures[:20])
    assert tally.anonymous >= MIN_FUZZED_OPERATIONS, tally.summary(elapsed)
    assert tally.authenticated >= MIN_FUZZED_OPERATIONS, tally.summary(elapsed)
    assert tally.by_root["mutation"] >= MIN_FUZZED_OPERATIONS * 2 // 3, tally.summary(elapsed)
    # A fuzzer refused at the door tests nothing: many documents must have been executed.
    assert tally.answered_with_data >= tally.requests // 5, tally.summary(elapsed)
    assert elapsed <= FUZZ_TIME_BUDGET, tally.summary(elapsed)
    # The server is still healthy afterwards.
    assert live_stack.graphql("{ movie(movielensId: 1) { title } }")["data"]["movie"]["title"] == "Toy Story"


# --- 2. hand-written hostile requests --------------------------------------------------------------------------


@dataclasses.dataclass
class Answer:
    status: int
    text: str
    sent: str

    @property
    def body(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def post(url: str, body: bytes | str, content_type: str | None = "application/json", token: str | None = None):
    """A raw POST; the answer whatever its status."""
    data = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": content_type} if content_type else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - our server
    sent = data[:2000].decode(errors="replace")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
            return Answer(response.status, response.read().decode(errors="replace"), sent)
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode(errors="replace"), sent)


def post_graphql(url: str, query: str, variables: dict | None = None, token: str | None = None) -> Answer:
    return post(url, json.dumps({"query": query, "variables": variables or {}}), token=token)


def assert_no_server_error(answer: Answer) -> None:
    """No 5xx, a JSON body, no masked crash, nothing leaked."""
    assert answer.status < 500, (answer.status, answer.text[:500])
    assert answer.body is not None, (answer.status, answer.text[:500])
    assert "INTERNAL_SERVER_ERROR" not in error_codes(answer.body), answer.text[:1000]
    assert not leaks(answer.text, answer.sent), (leaks(answer.text, answer.sent), answer.text[:1000])


def assert_clear_client_error(answer: Answer) -> None:
    """Refused as the client's fault (a 4xx, or GraphQL errors that are no masked crash) with a message saying why."""
    assert_no_server_error(answer)
    # A refused batch answers each of its entries with the refusal.
    results = answer.body if isinstance(answer.body, list) else [answer.body]
    errors = [error for result in results if isinstance(result, dict) for error in result.get("errors") or []]
    assert errors and all(isinstance(result, dict) and result.get("errors") for result in results), (
        answer.status,
        answer.text[:500],
    )
    assert all(isinstance(error.get("message"), str) and error["message"].strip() for error in errors), errors
    # A 200 carries GraphQL errors, which assert_no_server_error has checked are not a masked crash.
    assert answer.status == 200 or 400 <= answer.status < 500, answer.status


def global_id(type_name: str, key: str) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


SEARCH = "query($q: String) { movies(search: $q, first: 5) { totalCount edges { node { title } } } }"
MOVIE_BY_ID = "query($id: ID) { movie(id: $id) { title } }"
RATE = "mutation($id: ID!) { rateMovie(movieId: $id, score: 4.5) { rating { score } errors { field message code } } }"
HOSTILE_SEARCHES = {
    "nul byte": "toy\x00story",
    "only nul bytes": "\x00" * 64,
    "1 MB": "a" * 1_000_000,
    "1 MB of words": "godfather " * 100_000,
    "sql": "'; DROP TABLE catalog_movie; --",
    "like wildcards": "%_%\\",
    "lone surrogate escape": "\ud800",
}
MALFORMED_IDS = {
    "not base64": "%%%not-base64%%%",
    "empty": "",
    "base64 without a colon": base64.b64encode(b"Movie").decode(),
    "foreign type": global_id("User", "1"),
    "unknown type": global_id("Spaceship", "1"),
    "non-numeric key": global_id("Movie", "one"),
    "negative key": global_id("Movie", "-1"),
    "key beyond bigint": global_id("Movie", "9" * 30),
    "nul in key": global_id("Movie", "1\x00"),
    "huge": "A" * 200_000,
}


@pytest.fixture(scope="module")
def graphql_url(live_stack):
    return live_stack.graphql_url


@pytest.fixture(scope="module")
def hostile_token(live_stack):
    return live_stack.register("hostile")


@pytest.mark.parametrize("search", HOSTILE_SEARCHES.values(), ids=HOSTILE_SEARCHES.keys())
def test_hostile_search_strings_are_answered_or_refused_cleanly(graphql_url, search):
    answer = post_graphql(graphql_url, SEARCH, {"q": search})
    assert_no_server_error(answer)
    if answer.body.get("errors"):
        assert_clear_client_error(answer)
    else:
        assert isinstance(answer.body["data"]["movies"]["totalCount"], int)


def test_a_nul_byte_inside_the_document_itself_is_no_server_error(graphql_url):
    answer = post_graphql(graphql_url, '{ movies(search: "toy\\u0000story", first: 5) { totalCount } }')
    assert_no_server_error(answer)


@pytest.mark.parametrize("movie_id", MALFORMED_IDS.values(), ids=MALFORMED_IDS.keys())
def test_malformed_and_foreign_ids_in_movie_are_refused_cleanly(graphql_url, movie_id):
    answer = post_graphql(graphql_url, MOVIE_BY_ID, {"id": movie_id})
    assert_no_server_error(answer)
    if answer.body.get("errors"):
        assert_clear_client_error(answer)
    else:
        assert answer.body["data"]["movie"] is None


@pytest.mark.parametrize("movie_id", MALFORMED_IDS.values(), ids=MALFORMED_IDS.keys())
def test_malformed_and_foreign_ids_in_rate_movie_are_refused_cleanly(graphql_url, hostile_token, movie_id):
    answer = post_graphql(graphql_url, RATE, {"id": movie_id}, token=hostile_token)
    assert_no_server_error(answer)
    if answer.body.get("errors"):
        assert_clear_client_error(answer)
    else:
        payload = answer.body["data"]["rateMovie"]
        assert payload["rating"] is None and payload["errors"], payload
        assert all(error["field"] and error["message"] and error["code"] for error in payload["errors"]), payload


NOT_JSON = {
    "truncated object": '{"query": "{ genres { name } }"',
    "bare words": "query please",
    "number": "42",
    "string": '"{ genres { name } }"',
    "null": "null",
    "empty": "",
    "binary": bytes(range(256)) * 4,
    "utf-16": '{"query": "{ genres { name } }"}'.encode("utf-16"),
    "query not a string": '{"query": {"nested": true}}',
    "variables not an object": '{"query": "{ genres { name } }", "variables": [1, 2]}',
    "operationName not a string": '{"query": "{ genres { name } }", "operationName": 7}',
}


@pytest.mark.parametrize("body", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_bodies_that_are_not_a_graphql_request_get_a_client_error(graphql_url, body):
    assert_clear_client_error(post(graphql_url, body))


WRONG_CONTENT_TYPES = ["text/plain", "application/xml", "image/png", "multipart/form-data; boundary=x", None]


@pytest.mark.parametrize("content_type", WRONG_CONTENT_TYPES)
def test_wrong_content_types_get_a_client_error(graphql_url, content_type):
    answer = post(graphql_url, "<query>{ genres { name } }</query>", content_type=content_type)
    assert_clear_client_error(answer)


def nested_similar(depth: int) -> str:
    """`movie { similar { similar { ... } } }`, ``depth`` levels of fields in all; one movie per level, so that a
    server without a depth limit still answers quickly and the test fails on its assertion, not a timeout."""
    inner = "title"
    for _ in range(depth - 2):
        inner = f"similar(first: 1) {{ {inner} }}"
    return f"{{ movie(movielensId: 1) {{ {inner} }} }}"


@pytest.mark.parametrize("depth", [16, 64])
def test_deep_documents_are_refused(graphql_url, depth):
    assert_clear_client_error(post_graphql(graphql_url, nested_similar(depth)))


@pytest.mark.parametrize("aliases", [500, 5000])
def test_heavily_aliased_documents_are_refused(graphql_url, aliases):
    selections = " ".join(f"m{index}: movie(movielensId: {index % 50 + 1}) {{ title }}" for index in range(aliases))
    assert_clear_client_error(post_graphql(graphql_url, f"{{ {selections} }}"))


def test_a_batch_of_fifty_operations_is_refused(graphql_url):
    batch = [{"query": "{ movies(first: 100) { edges { node { title } } } }"}] * 50
    assert_clear_client_error(post(graphql_url, json.dumps(batch)))


def test_a_document_of_a_megabyte_is_refused(graphql_url):
    literal = "x" * 1_000_000
    document = f'{{ movies(search: "{literal}", first: 1) {{ totalCount }} }}'
    assert_clear_client_error(post_graphql(graphql_url, document))


def test_a_document_whose_cost_overflows_64_bits_is_refused(graphql_url, hostile_token):
    # What the fuzzer found: three nested pages of two billion movies each cost more than a 64-bit integer holds.
    nested = "similar(first: 2000000000) { " * 3 + "title" + " }" * 3
    for document in (
        f"{{ movie(movielensId: 1) {{ {nested} }} }}",
        f'mutation {{ addFavorite(movieId: "{global_id("Movie", "1")}") {{ movie {{ {nested} }} }} }}',
    ):
        assert_clear_client_error(post_graphql(graphql_url, document, token=hostile_token))


def test_leak_detection_reads_errors_and_non_json_bodies_but_not_data_or_echoed_input():
    assert leaks('{"errors": [{"message": "psycopg2.errors.UndefinedTable"}]}') == ["psycopg"]
    assert leaks("<h1>Traceback (most recent call last)</h1>") == ["traceback"]
    assert leaks('{"errors": [{"message": "near SELECT * FROM x"}]}') == ["SELECT ", " FROM "]
    assert leaks('{"data": {"movie": {"title": "Django Unchained"}}}') == []
    assert leaks('{"errors": [{"message": "no movie called django"}]}', request_text='{"query": "django"}') == []
