"""With introspection off (NEXUS_GRAPHQL_INTROSPECTION=0) errors name no schema member the caller did not write:
graphql-core's "Did you mean …?" suggestions would otherwise list fields, arguments, types and enum values, and its
refusals of a missing required argument or input field would name it."""

import json
import re

import pytest
from graphql import GraphQLError

from schema.pipeline.documents import _error_without_schema_hints

MOVIE_ORDER = "query($order: MovieOrder) { movies(first: 1, orderBy: $order) { totalCount } }"

# (document, variables, what suggestions would name)
MISTAKES = [
    ("{ moviez { title } }", None, ["'movie'", "'movies'"]),  # field
    ("{ movie(movielensID: 1) { title } }", None, ["'movielensId'"]),  # argument
    ("query($o: MovieOrdr) { movies(orderBy: $o) { totalCount } }", None, ["'MovieOrder'"]),  # type
    ("{ movies(orderBy: {field: TITEL}) { totalCount } }", None, ["'TITLE'"]),  # enum value
    ("{ movies(orderBy: {feld: TITLE}) { totalCount } }", None, ["'field'"]),  # input field
    (MOVIE_ORDER, {"order": {"field": "TITEL"}}, ["'TITLE'"]),  # enum value in variables
    (MOVIE_ORDER, {"order": {"field": "TITLE", "directon": "ASC"}}, ["'direction'"]),  # input field in variables
    ('{ node(id: "TW92aWU6MQ==") { title } }', None, ["'Movie'"]),  # "use an inline fragment on ..."
]
# (document, variables, the member left out)
OMISSIONS = [
    ('mutation { rateMovie(movieId: "TW92aWU6MQ==") { errors { code } } }', None, "'score'"),  # argument
    ("{ movies(orderBy: {direction: ASC}) { totalCount } }", None, "'MovieOrder.field'"),  # input field
    (MOVIE_ORDER, {"order": {"direction": "ASC"}}, "'field'"),  # input field in variables
]


def error_messages(client, query: str, variables: dict | None) -> list[str]:
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        HTTP_ACCEPT="application/graphql-response+json",
    )
    assert response.status_code == 400, response.content
    return [error["message"] for error in response.json()["errors"]]


@pytest.mark.parametrize(("query", "variables", "suggested"), MISTAKES)
def test_errors_suggest_schema_members_while_introspection_is_on(client, query, variables, suggested):
    messages = " ".join(error_messages(client, query, variables))
    assert "Did you mean" in messages
    assert all(name in messages for name in suggested), messages


@pytest.mark.parametrize(("query", "variables", "suggested"), MISTAKES)
def test_errors_suggest_nothing_when_introspection_is_off(client, settings, query, variables, suggested):
    settings.NEXUS_GRAPHQL_INTROSPECTION = False
    messages = error_messages(client, query, variables)
    for message in messages:
        assert "Did you mean" not in message
        assert not any(name in message for name in suggested), message
    # What remains still says what is wrong with what the caller wrote.
    assert re.search(r"'(moviez|movielensID|MovieOrdr|TITEL|feld|directon|title)'", " ".join(messages)), messages


@pytest.mark.parametrize(("query", "variables", "omitted"), OMISSIONS)
def test_missing_required_members_are_named_only_while_introspection_is_on(client, settings, query, variables, omitted):
    assert omitted in " ".join(error_messages(client, query, variables))
    settings.NEXUS_GRAPHQL_INTROSPECTION = False
    messages = " ".join(error_messages(client, query, variables))
    assert omitted not in messages and "required" in messages, messages


@pytest.mark.parametrize(
    ("message", "stripped"),
    [
        ("Cannot query field 'x' on type 'Query'. Did you mean 'movie'?", "Cannot query field 'x' on type 'Query'."),
        ("Unknown type 'X'. Did you mean 'Movie' or 'Genre'?", "Unknown type 'X'."),
        ("Unknown argument 'a'. Did you mean 'b', 'c', or 'd'?", "Unknown argument 'a'."),
        (
            "Value 'A' does not exist in 'E' enum. Did you mean the enum value 'B'?",
            "Value 'A' does not exist in 'E' enum.",
        ),
        (
            "Field 'f' must have a selection of subfields. Did you mean 'f { ... }'?",
            "Field 'f' must have a selection of subfields.",
        ),
        # A suggestion-like text the caller sent, not at the end, stays.
        (
            "Value 'Did you mean 'x'?' does not exist in 'E' enum.",
            "Value 'Did you mean 'x'?' does not exist in 'E' enum.",
        ),
    ],
)
def test_suggestions_are_cut_from_messages(message, stripped):
    error = GraphQLError(message, extensions={"code": "X"})
    result = _error_without_schema_hints(error)
    assert result.message == stripped
    assert result.extensions == {"code": "X"}
