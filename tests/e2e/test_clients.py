"""The clients our users run, against a running deployment (tests/e2e/live.py: gunicorn, DEBUG off, the real
catalog).

1. The Node suite in clients/ (README, "Tested clients"): Apollo Client 4 (auth link, InMemoryCache after
   mutations, relay pagination, persisted queries over GET and POST, BatchHttpLink, every error code) and
   graphql-http's GraphQL-over-HTTP server audit, every result of which must be ok. ``npm ci`` installs the
   versions of clients/package-lock.json when node_modules is missing or was installed from another lock.
2. Python's gql with the schema fetched from the server (``fetch_schema_from_transport``), so that documents are
   validated on the client before they are sent, as its users run it.
"""

import asyncio
import hashlib
import os
import re
import shutil
import subprocess

import pytest
from gql import Client, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError
from graphql import GraphQLError, build_schema, print_schema
from graphql.utilities import lexicographic_sort_schema

from tests.conftest import need
from tests.e2e.live import LIVE_PASSWORD
from tests.servers import PROJECT_DIR

CLIENTS_DIR = PROJECT_DIR / "clients"
NODE_MAJOR = 20
# Stamp of the lock file node_modules was installed from: npm ci again only when it changed.
INSTALLED_LOCK = CLIENTS_DIR / "node_modules" / ".nexus-package-lock.sha256"
NPM_CI_TIMEOUT = 300
NODE_TEST_TIMEOUT = 120
OUTPUT_TAIL = 20_000


def node_version() -> int | None:
    """The major version of the node on PATH, None without node or npm."""
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    answer = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    match = re.match(r"v(\d+)\.", answer.stdout)
    return int(match.group(1)) if match else None


def npm_ci() -> None:
    """node_modules exactly as clients/package-lock.json pins it."""
    lock_hash = hashlib.sha256((CLIENTS_DIR / "package-lock.json").read_bytes()).hexdigest()
    if INSTALLED_LOCK.exists() and INSTALLED_LOCK.read_text() == lock_hash:
        return
    install = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],  # noqa: S607
        cwd=CLIENTS_DIR,
        capture_output=True,
        text=True,
        timeout=NPM_CI_TIMEOUT,
        check=False,
    )
    assert install.returncode == 0, f"npm ci failed:\n{install.stdout}\n{install.stderr}"
    INSTALLED_LOCK.write_text(lock_hash)


def test_node_clients(live_stack):
    """``node --test`` in clients/ against the live server: every test passes (the output is shown when not)."""
    major = node_version()
    need(major is not None, "needs node and npm on PATH (Debian: apt-get install nodejs npm)")
    need(major >= NODE_MAJOR, f"needs Node {NODE_MAJOR} or later, found {major}")
    npm_ci()
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "--test-timeout=30000"],  # noqa: S607
        cwd=CLIENTS_DIR,
        env={**os.environ, "NEXUS_URL": live_stack.graphql_url, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=NODE_TEST_TIMEOUT,
        check=False,
    )
    output = f"{run.stdout}\n{run.stderr}"
    print(output[-OUTPUT_TAIL:])  # shown with -s, and by pytest beside a failure
    assert run.returncode == 0, f"node --test exited {run.returncode}:\n{output[-OUTPUT_TAIL:]}"
    assert re.search(r"audit: \d+ results, \d+ ok, 0 warn, 0 error", output), output[-OUTPUT_TAIL:]
    # No test may stand aside as "todo" or "skip": a gap of the server fails the suite.
    assert re.search(r"\btodo 0\b", output) and re.search(r"\bskipped 0\b", output), output[-OUTPUT_TAIL:]


async def _gql_session(live_stack) -> None:
    """What test_gql_client checks, in one async session (gql's aiohttp transport)."""
    anonymous = Client(transport=AIOHTTPTransport(url=live_stack.graphql_url), fetch_schema_from_transport=True)
    async with anonymous as session:
        # The live schema, as introspected by the client, is the committed SDL.
        live = print_schema(lexicographic_sort_schema(anonymous.schema))
        committed = build_schema((PROJECT_DIR / "schema.graphql").read_text())
        assert live == print_schema(lexicographic_sort_schema(committed))

        answer = await session.execute(gql("{ movie(tmdbId: 862) { id title runtime genres { name } } }"))
        assert answer["movie"]["title"] == "Toy Story"
        assert answer["movie"]["runtime"] == 81
        movie_id = answer["movie"]["id"]

        # Validated against the fetched schema before anything is sent: a client-side GraphQLError, not a
        # server answer (which would be a TransportQueryError).
        with pytest.raises(GraphQLError, match="Cannot query field 'noSuchField' on type 'Movie'"):
            await session.execute(gql("{ movie(tmdbId: 862) { noSuchField } }"))

        username = f"gql-client-{os.getpid()}"
        register = gql(
            """mutation($username: String!, $email: String!, $password: String!) {
                register(username: $username, email: $email, password: $password) {
                    token user { id username } errors { field code }
                }
            }"""
        )
        register.variable_values = {"username": username, "email": f"{username}@example.com", "password": LIVE_PASSWORD}
        registered = (await session.execute(register))["register"]
        assert registered["errors"] == [], registered
        assert registered["user"]["username"] == username

        rate = gql(
            """mutation($movieId: ID!, $score: Float!) {
                rateMovie(movieId: $movieId, score: $score) { rating { id score } errors { field code } }
            }"""
        )
        rate.variable_values = {"movieId": movie_id, "score": 4.5}
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(rate)
        assert [error["extensions"]["code"] for error in refused.value.errors] == ["UNAUTHENTICATED"]

    headers = {"Authorization": f"Bearer {registered['token']}"}
    # Validates against the schema already fetched.
    signed_in = Client(transport=AIOHTTPTransport(url=live_stack.graphql_url, headers=headers), schema=anonymous.schema)
    async with signed_in as session:
        rated = (await session.execute(rate))["rateMovie"]
        assert rated["errors"] == []
        assert rated["rating"]["score"] == 4.5
        rate.variable_values = {"movieId": movie_id, "score": 3.3}
        refused_step = (await session.execute(rate))["rateMovie"]
        assert refused_step == {"rating": None, "errors": [{"field": "score", "code": "STEP_MISMATCH"}]}
        me = await session.execute(gql("{ me { id ratings(first: 5) { edges { node { id score movie { id } } } } } }"))
        nodes = [edge["node"] for edge in me["me"]["ratings"]["edges"]]
        assert nodes == [{"id": rated["rating"]["id"], "score": 4.5, "movie": {"id": movie_id}}]


def test_gql_client(live_stack):
    """Python's gql against the live server: the fetched schema is schema.graphql, an invalid document is refused
    on the client, a query and mutations (anonymous, then with a bearer token) answer as documented."""
    asyncio.run(_gql_session(live_stack))
