"""GraphQL over HTTP as real clients speak it (issue 20, items 1–3 and 6; issue 15, items 6 and 7): GET requests
whatever their Content-Type, content negotiation with the spec's status codes, 401 for access tokens that do not
verify, page sizes refused before cost, and one error vocabulary — all through Django's HTTP stack."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time
from graphql_jwt.shortcuts import get_token
from graphql_relay import to_global_id

from tests.users.factories import person_create
from users.models import User

GRAPHQL_RESPONSE = "application/graphql-response+json"
APOLLO_ACCEPT = "application/graphql-response+json,application/json;q=0.9"  # Apollo Client 4's HttpLink
TOY_STORY = "query Toy { movie(movielensId: 1) { title } }"


def post(client, body, *, accept: str | None = None, **headers):
    if accept is not None:
        headers["HTTP_ACCEPT"] = accept
    payload = body if isinstance(body, str) else json.dumps(body)
    return client.post("/graphql", data=payload, content_type="application/json", **headers)


def codes(response) -> list[str]:
    """The codes of the answer's errors (of every result, for a batch)."""
    body = response.json()
    results = body if isinstance(body, list) else [body]
    return [error["extensions"]["code"] for result in results for error in result.get("errors", [])]


# --- Item 1: a GET has no body -------------------------------------------------------------------------------------


def test_a_get_with_a_json_content_type_reads_the_query_string(movielens, client):
    # What Apollo's HttpLink sends with useGETForQueries: Content-Type application/json on a GET.
    response = client.get("/graphql", {"query": TOY_STORY}, content_type="application/json", HTTP_ACCEPT=APOLLO_ACCEPT)
    assert response.status_code == 200, response.content
    assert response.json()["data"] == {"movie": {"title": "Toy Story"}}


def test_persisted_queries_over_get_with_a_json_content_type(movielens, client):
    extensions = json.dumps(
        {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(TOY_STORY.encode()).hexdigest()}}
    )
    get = {"content_type": "application/json", "HTTP_ACCEPT": APOLLO_ACCEPT}
    missing = client.get("/graphql", {"extensions": extensions, "operationName": "Toy"}, **get)
    assert codes(missing) == ["PERSISTED_QUERY_NOT_FOUND"]  # Apollo then sends the document
    registered = client.get("/graphql", {"query": TOY_STORY, "extensions": extensions}, **get)
    assert registered.json()["data"] == {"movie": {"title": "Toy Story"}}
    by_hash = client.get("/graphql", {"extensions": extensions, "operationName": "Toy"}, **get)
    assert by_hash.status_code == 200
    assert by_hash.json()["data"] == {"movie": {"title": "Toy Story"}}


# --- Item 2: content negotiation and status codes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (APOLLO_ACCEPT, GRAPHQL_RESPONSE),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        (None, "application/json"),
        ("application/json, application/graphql-response+json;q=0.5", "application/json"),
        ("application/graphql-response+json;q=0", "application/json"),
        ("text/plain", "application/json"),
    ],
)
def test_the_accept_header_picks_the_media_type(client, accept, media_type):
    response = post(client, {"query": "{ __typename }"}, accept=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == media_type
    assert "Accept" in response["Vary"]


# (body, the code of its first error)
REQUEST_ERRORS = {
    "parse": ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
    "validation": ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
    "variables": ({"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": None}}, "BAD_USER_INPUT"),
    "unknown operation": ({"query": "query A { __typename }", "operationName": "B"}, "BAD_REQUEST"),
    "depth": ({"query": "{ movie(movielensId: 1) { " + "similar { " * 12 + "title" + " }" * 14}, "QUERY_TOO_DEEP"),
    "cost": (
        {"query": "{ movies(first: 100) { edges { node { similar(first: 100) { title } } } } }"},
        "QUERY_TOO_COSTLY",
    ),
    "page size": ({"query": "{ movies(first: 5000) { totalCount } }"}, "BAD_USER_INPUT"),
}


@pytest.mark.parametrize("kind", REQUEST_ERRORS)
def test_request_errors_are_400_as_graphql_response_json_and_200_as_json(db, client, kind):
    body, code = REQUEST_ERRORS[kind]
    spec = post(client, body, accept=APOLLO_ACCEPT)
    assert spec.status_code == 400
    assert spec["Content-Type"] == GRAPHQL_RESPONSE
    assert "data" not in spec.json()
    assert codes(spec)[0] == code

    for accept in ("application/json", None):
        classic = post(client, body, accept=accept)
        assert classic.status_code == 200
        assert classic["Content-Type"] == "application/json"
        assert codes(classic)[0] == code


@pytest.mark.parametrize(
    ("body", "status"),
    [("{ not json", 400), ("{}", 400), ('{"query": 5}', 400), (json.dumps([{"query": "{ __typename }"}] * 11), 400)],
)
def test_requests_that_are_not_graphql_requests_keep_their_status_in_both_media_types(db, client, body, status):
    for accept in (APOLLO_ACCEPT, "application/json"):
        response = post(client, body, accept=accept)
        assert response.status_code == status
        assert codes(response) and all(codes(response))


def test_every_error_carries_a_code(db, client):
    bodies = [body for body, _ in REQUEST_ERRORS.values()] + [
        {"query": "{ movie(movielensId: 1) { title } } { genres { name } }"},  # anonymous operations, two
        {"query": "query($n: Int) { movies(first: $n) { totalCount } }", "variables": {"n": "five"}},
        {"query": 'mutation { rateMovie(movieId: 1, score: "five") { errors { code } } }'},
    ]
    for body in bodies:
        for error in post(client, body, accept=APOLLO_ACCEPT).json()["errors"]:
            assert error["extensions"]["code"], error


def test_a_bad_score_is_bad_user_input_as_a_variable_and_a_validation_error_as_a_literal(db, client):
    mutation = 'mutation($s: Float!) { rateMovie(movieId: "TW92aWU6MQ==", score: $s) { errors { code } } }'
    assert codes(post(client, {"query": mutation, "variables": {"s": "five"}})) == ["BAD_USER_INPUT"]
    literal = 'mutation { rateMovie(movieId: "TW92aWU6MQ==", score: "five") { errors { code } } }'
    assert codes(post(client, {"query": literal})) == ["GRAPHQL_VALIDATION_FAILED"]


# --- Item 3: access tokens that do not verify ------------------------------------------------------------------------


@pytest.fixture
def ada(db):
    return person_create("ada")


def test_an_expired_token_answers_401_with_the_bearer_challenge_even_for_public_data(movielens, client, ada):
    token = get_token(ada)
    with freeze_time(timezone.now() + timedelta(minutes=16)):
        response = post(
            client, {"query": "{ genres { name } }"}, accept=APOLLO_ACCEPT, HTTP_AUTHORIZATION=f"Bearer {token}"
        )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token", error_description="The access token expired"'
    assert response["Content-Type"] == GRAPHQL_RESPONSE
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert "data" not in body
    assert codes(response) == ["TOKEN_EXPIRED"]
    assert token not in response.content.decode()


def test_a_forged_token_answers_401_and_leaks_nothing(movielens, client, ada, settings):
    settings.NEXUS_RATE_LIMIT_ANON = 1000
    forged = get_token(ada)[:-4] + "AAAA"
    response = post(client, {"query": "{ me { username email } }"}, HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response["Content-Type"] == "application/json"  # the status does not depend on the media type
    text = response.content.decode()
    assert codes(response) == ["INVALID_TOKEN"]
    assert "ada" not in text and forged not in text
    # Refused before it ran: nothing spent, nothing cached, the same answer again.
    assert response["RateLimit-Remaining"] == "1000"
    assert response["X-Cache"] == "MISS"
    assert (
        post(client, {"query": "{ me { username email } }"}, HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401
    )
    assert post(client, {"query": "{ me { username } }"}).json()["data"] == {"me": None}  # anonymous still works


def test_a_token_of_a_deleted_account_answers_401(movielens, client, ada):
    token = get_token(ada)
    User.objects.filter(pk=ada.pk).delete()
    response = post(client, {"query": "{ genres { name } }"}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert codes(response) == ["INVALID_TOKEN"]
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_the_token_mutations_still_run_with_an_expired_token(movielens, client, ada):
    token = get_token(ada)
    verify = {"query": "mutation($t: String) { verifyToken(token: $t) { payload } }", "variables": {"t": "garbage"}}
    with freeze_time(timezone.now() + timedelta(minutes=16)):
        response = post(client, verify, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert codes(response) == ["INVALID_TOKEN"]  # about the token argument, answered in band


# --- Item 6 (issue 20) and item 7 (issue 15): page sizes before cost, refusals spend nothing -------------------------


@pytest.mark.parametrize("size", [101, 1000, 5000, 2**31 - 1, -1])
def test_every_page_too_large_is_the_same_bad_user_input(db, client, settings, size):
    settings.NEXUS_RATE_LIMIT_ANON = 1000
    for query in (f"{{ movies(first: {size}) {{ totalCount }} }}", f"{{ popular(first: {size}) {{ title }} }}"):
        response = post(client, {"query": query})
        assert codes(response) == ["BAD_USER_INPUT"]
        assert f"(requested {size})" in response.json()["errors"][0]["message"]
        assert response["RateLimit-Remaining"] == "1000"
    with_variable = {"query": "query($n: Int) { movies(last: $n) { totalCount } }", "variables": {"n": size}}
    assert codes(post(client, with_variable)) == ["BAD_USER_INPUT"]


def test_cost_and_rate_limit_are_reported_apart(movielens, client, settings):
    settings.NEXUS_RATE_LIMIT_ANON = 1000
    extensions = post(client, {"query": "{ movies(first: 2) { edges { node { title } } } }"}).json()["extensions"]
    assert extensions["cost"] == {"requested": 7, "maximum": settings.NEXUS_GRAPHQL_MAX_COST}
    assert set(extensions["rateLimit"]) == {"limit", "remaining", "resetAt"}
    assert (extensions["rateLimit"]["limit"], extensions["rateLimit"]["remaining"]) == (1000, 993)
    assert extensions["rateLimit"]["resetAt"].endswith("Z")


# --- Item 6 (issue 15): one vocabulary ------------------------------------------------------------------------------


@pytest.mark.parametrize("movie_id", ["not-an-id", to_global_id("Genre", 1), to_global_id("Movie", "x")])
def test_a_malformed_id_has_the_same_code_in_a_query_and_in_a_mutation_payload(movielens, client, ada, movie_id):
    in_query = post(client, {"query": "query($id: ID) { movie(id: $id) { title } }", "variables": {"id": movie_id}})
    rate = "mutation($id: ID!) { rateMovie(movieId: $id, score: 4) { errors { field code } } }"
    in_payload = post(
        client, {"query": rate, "variables": {"id": movie_id}}, HTTP_AUTHORIZATION=f"Bearer {get_token(ada)}"
    )
    assert codes(in_query) == ["BAD_USER_INPUT"]
    assert in_payload.json()["data"]["rateMovie"]["errors"] == [{"field": "movieId", "code": "BAD_USER_INPUT"}]
