"""Apollo automatic persisted queries over POST and GET, and the parsed-document cache behind every request."""

import hashlib
import json

import pytest
from django.core.cache import cache
from freezegun import freeze_time

from schema.pipeline import documents
from schema.pipeline import persisted as persisted_queries

QUERY = "query Toy { movie(movielensId: 1) { title } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()


def persisted(digest: str = HASH, version: int = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def post(client, body: dict):
    """As Apollo Client 4 sends it: documents refused come with the spec's 400."""
    return client.post(
        "/graphql",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_ACCEPT="application/graphql-response+json,application/json;q=0.9",
    )


def get(client, **params):
    encoded = {name: json.dumps(value) if isinstance(value, dict) else value for name, value in params.items()}
    return client.get("/graphql", encoded, HTTP_ACCEPT="application/json")


def test_an_unknown_hash_asks_the_client_for_the_document(client):
    response = post(client, {"extensions": persisted()})
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_the_document_sent_once_is_then_found_by_its_hash_over_post_and_get(movielens, client):
    registered = post(client, {"query": QUERY, "extensions": persisted()})
    assert registered.json()["data"] == {"movie": {"title": "Toy Story"}}

    by_post = post(client, {"extensions": persisted()})
    assert by_post.status_code == 200
    assert by_post.json()["data"] == {"movie": {"title": "Toy Story"}}
    by_get = get(client, extensions=persisted(), operationName="Toy")
    assert by_get.status_code == 200
    assert by_get.json()["data"] == {"movie": {"title": "Toy Story"}}


def test_a_document_can_be_registered_over_get(movielens, client):
    assert get(client, query=QUERY, extensions=persisted()).json()["data"]["movie"]["title"] == "Toy Story"
    assert get(client, extensions=persisted()).json()["data"]["movie"]["title"] == "Toy Story"


def test_variables_travel_with_the_hash(movielens, client):
    query = "query($id: Int) { movie(movielensId: $id) { title } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    post(client, {"query": query, "variables": {"id": 1}, "extensions": persisted(digest)})
    response = post(client, {"variables": {"id": 2}, "extensions": persisted(digest)})
    assert response.json()["data"] == {"movie": {"title": "Jumanji"}}


def test_a_hash_that_does_not_match_the_document_is_refused_and_not_stored(client):
    wrong = hashlib.sha256(b"something else").hexdigest()
    response = post(client, {"query": QUERY, "extensions": persisted(wrong)})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert "does not match" in error["message"]
    assert post(client, {"extensions": persisted(wrong)}).json()["errors"][0]["message"] == "PersistedQueryNotFound"


@pytest.mark.parametrize(
    "extensions",
    [
        persisted(version=2),
        persisted(digest="abc"),
        {"persistedQuery": "yes"},
    ],
)
def test_malformed_persisted_query_extensions_are_refused_clearly(client, extensions):
    response = post(client, {"query": QUERY, "extensions": extensions})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"].startswith("PERSISTED_QUERY_")


def test_a_stored_document_still_passes_the_limits(movielens, client, settings):
    post(client, {"query": QUERY, "extensions": persisted()})
    settings.NEXUS_GRAPHQL_MAX_DEPTH = 1
    response = post(client, {"extensions": persisted()})
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"


def test_each_distinct_document_is_parsed_and_validated_once(movielens, client, monkeypatch):
    documents.document_cache_clear()
    prepared = []
    prepare = documents._prepare
    monkeypatch.setattr(documents, "_prepare", lambda **kwargs: prepared.append(kwargs["query"]) or prepare(**kwargs))

    for _ in range(3):
        assert post(client, {"query": QUERY}).json()["data"]["movie"]["title"] == "Toy Story"
        assert post(client, {"query": "{ nope }"}).status_code == 400  # refusals are remembered too
    assert prepared == [QUERY, "{ nope }"]


def digest_of(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


@pytest.mark.parametrize(
    "query",
    [
        "query Junk { " + "!" * 90_000,  # 90 KB that does not parse
        "query Invalid { noSuchField }",  # parses, fails validation
    ],
)
def test_a_document_that_does_not_validate_is_not_stored(client, query):
    refused = post(client, {"query": query, "extensions": persisted(digest_of(query))})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] != "PersistedQueryNotFound"  # the document's own error
    lookup = post(client, {"extensions": persisted(digest_of(query))})
    assert lookup.json()["errors"][0]["message"] == "PersistedQueryNotFound"


@pytest.fixture
def registrations(settings):
    """Two new documents per client and window, and a clock that stays 10 s into a window."""
    settings.NEXUS_PERSISTED_QUERY_MAX_REGISTRATIONS = 2
    with freeze_time("2026-06-01 12:00:10"):
        yield settings


def test_registrations_beyond_the_limit_still_run_but_are_not_stored(movielens, client, registrations):
    documents_sent = [f"query Movie{index} {{ movie(movielensId: {index}) {{ title }} }}" for index in (1, 2, 3)]
    for query in documents_sent[:2]:
        assert "errors" not in post(client, {"query": query, "extensions": persisted(digest_of(query))}).json()
    # Sending a stored document again registers nothing new.
    again = post(client, {"query": documents_sent[0], "extensions": persisted(digest_of(documents_sent[0]))})
    assert "errors" not in again.json()

    third = documents_sent[2]
    response = post(client, {"query": third, "extensions": persisted(digest_of(third))})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"movie": {"title": "Grumpier Old Men"}}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_REGISTRATION_LIMITED"
    assert error["extensions"]["retryAfter"] == 50
    assert "was not stored" in error["message"] and "at most 2 new documents" in error["message"]
    assert post(client, {"extensions": persisted(digest_of(third))}).json()["errors"][0]["message"] == (
        "PersistedQueryNotFound"
    )

    # Another client has an allowance of its own.
    elsewhere = {"query": third, "extensions": persisted(digest_of(third))}
    other_client = client.post(
        "/graphql", data=json.dumps(elsewhere), content_type="application/json", REMOTE_ADDR="198.51.100.7"
    )
    assert "errors" not in other_client.json()
    assert post(client, {"extensions": persisted(digest_of(third))}).json()["data"]["movie"]["title"] == (
        "Grumpier Old Men"
    )


def test_stored_documents_expire_after_a_day(movielens, client, redis_cache):
    post(client, {"query": QUERY, "extensions": persisted()})
    assert 23 * 3600 < cache.ttl(f"apq:{HASH}") <= persisted_queries.STORE_SECONDS == 24 * 3600
