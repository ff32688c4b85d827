"""Request limits: depth, aliases, cost, mutations per request, document size and batches — each refused with a
clear error naming the limit and the value, never a server error; ordinary and introspection queries still run."""

import json

import pytest
from freezegun import freeze_time
from graphql import get_introspection_query, parse
from graphql_relay import to_global_id

from catalog.models import Movie
from schema.api import schema
from schema.pipeline.limits import operation_cost

REALISTIC = "{ movies(first: 100) { edges { node { genres { name } similar(first: 10) { title } } } } }"
# 100 × 100 × 100 movies: a million nodes.
MILLION_NODES = """{ movies(first: 100) { edges { node {
    similar(first: 100) { similar(first: 100) { title } } } } } }"""


def post(client, body, **headers):
    """As Apollo Client 4 sends it: refusals then come with the GraphQL over HTTP spec's 400 (as application/json
    they come with 200: tests/schema/test_graphql_over_http.py)."""
    payload = body if isinstance(body, str | bytes) else json.dumps(body)
    headers.setdefault("HTTP_ACCEPT", "application/graphql-response+json, application/json;q=0.9")
    return client.post("/graphql", data=payload, content_type="application/json", **headers)


def nested(depth: int) -> str:
    """A query ``depth`` fields deep: movie → similar → similar … → title."""
    inner = "title"
    for _ in range(depth - 2):
        inner = f"similar(first: 1) {{ {inner} }}"
    return f"{{ movie(movielensId: 1) {{ {inner} }} }}"


def batch_refusal(response, entries: int) -> dict:
    """The error of a refused batch: answered once per entry, so that a batching client gives each its error."""
    body = response.json()
    assert isinstance(body, list) and len(body) == entries, body
    assert all(result == body[0] for result in body), body
    assert len(body[0]["errors"]) == 1, body
    return body[0]["errors"][0]


def only_error(response) -> dict:
    body = response.json()
    assert "data" not in body or body["data"] is None, body
    assert len(body["errors"]) == 1, body["errors"]
    return body["errors"][0]


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        ("{ __typename }", None, 1),
        ("{ movies { edges { node { title } } } }", None, 1 + 20 * 3),  # default page size
        ("{ movies(first: 5) { totalCount edges { node { title } } } }", None, 1 + 5 * 4),
        ("query($n: Int) { movies(last: $n) { edges { node { title } } } }", {"n": 7}, 1 + 7 * 3),
        ("query($n: Int = 9) { movies(first: $n) { edges { cursor } } }", None, 1 + 9 * 2),
        ("{ recommendations { score } }", None, 1 + 20),  # the argument's own default, 20
        ("{ genres { name slug } }", None, 3),  # lists without page arguments count once
        (REALISTIC, None, 1 + 100 * (4 + 1 + 10)),
        (MILLION_NODES, None, 1 + 100 * (3 + 100 * (1 + 100))),
        (
            "{ movies(first: 10) { ...Page } } fragment Page on MovieConnection { edges { node { ...Card } } }"
            " fragment Card on Movie { title year }",
            None,
            1 + 10 * 4,
        ),
    ],
)
def test_operation_cost(query, variables, expected):
    document = parse(query)
    operation = next(definition for definition in document.definitions if hasattr(definition, "operation"))
    assert operation_cost(
        schema=schema.graphql_schema, document=document, operation=operation, variables=variables
    ) == (expected)


def test_a_realistic_catalog_query_runs_and_reports_its_cost(movielens, client, settings):
    response = post(client, {"query": REALISTIC})
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body.get("errors")
    assert len(body["data"]["movies"]["edges"]) == 100
    assert body["extensions"]["cost"]["requested"] == 1501
    assert body["extensions"]["cost"]["maximum"] == settings.NEXUS_GRAPHQL_MAX_COST


def test_a_million_node_query_is_refused_before_it_runs(movielens, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = post(client, {"query": MILLION_NODES})
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "1010301 points" in error["message"] and "at most 10000" in error["message"]
    assert response.json()["extensions"]["cost"]["requested"] == 1010301


def test_absurd_page_sizes_are_refused_as_page_sizes_with_a_cost_clients_can_read(client):
    huge = "similar(first: 2147483647) { " * 4 + "title" + " }" * 4
    response = post(client, {"query": f"{{ movie(movielensId: 1) {{ {huge} }} }}"})
    assert response.status_code == 400
    error = only_error(response)  # page sizes are checked before the cost (issue 20, item 6)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "`first` must be between 0 and 100 (requested 2147483647)" in error["message"]
    assert response.json()["extensions"]["cost"]["requested"] == 2**53 - 1


def test_cost_follows_the_variables(movielens, client):
    query = "query($n: Int) { movies(first: $n) { edges { node { similar(first: 100) { title } } } } }"
    assert post(client, {"query": query, "variables": {"n": 5}}).status_code == 200
    refused = post(client, {"query": query, "variables": {"n": 100}})
    assert only_error(refused)["extensions"]["code"] == "QUERY_TOO_COSTLY"


def test_depth_sixteen_is_refused_and_ten_runs(movielens, client):
    refused = post(client, {"query": nested(16)})
    assert refused.status_code == 400
    error = only_error(refused)
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert "nested 16 fields deep; at most 10" in error["message"]

    allowed = post(client, {"query": nested(10)})
    assert allowed.status_code == 200, allowed.json()
    assert allowed.json()["data"]["movie"]["similar"]


def test_depth_counts_through_fragments(client):
    query = (
        "query Deep { movie(movielensId: 1) { ...A } }"
        " fragment A on Movie { similar { ...B } }"
        " fragment B on Movie { similar { ... on Movie { similar { similar { similar { similar { similar {"
        " similar { similar { title } } } } } } } } } }"
    )
    error = only_error(post(client, {"query": query}))
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert "`Deep` is nested 11 fields deep" in error["message"]


def test_fragment_cycles_are_refused_without_hanging(client):
    query = "{ movie(movielensId: 1) { ...A } } fragment A on Movie { similar { ...B } } fragment B on Movie { ...A }"
    response = post(client, {"query": query})
    assert response.status_code == 400
    messages = [error["message"] for error in response.json()["errors"]]
    assert any("Cannot spread fragment 'A' within itself" in message for message in messages), messages


def test_fragments_spread_exponentially_are_measured_once_each(client):
    # Each fragment spreads the next one twice under aliases: 2^20 aliased fields if expanded.
    levels = 20
    fragments = " ".join(
        f"fragment F{i} on Movie {{ a{i}: similar(first: 1) {{ ...F{i + 1} }}"
        f" b{i}: similar(first: 1) {{ ...F{i + 1} }} }}"
        for i in range(levels)
    )
    query = f"{{ movie(movielensId: 1) {{ ...F0 }} }} {fragments} fragment F{levels} on Movie {{ title }}"
    response = post(client, {"query": query})
    assert response.status_code == 400
    codes = {error.get("extensions", {}).get("code") for error in response.json()["errors"]}
    assert {"QUERY_TOO_DEEP", "TOO_MANY_ALIASES"} <= codes


def test_five_hundred_aliases_are_refused_and_fifty_run(movielens, client):
    def aliased(count: int) -> str:
        return "{ " + " ".join(f"m{i}: movie(movielensId: {i + 1}) {{ title }}" for i in range(count)) + " }"

    error = only_error(post(client, {"query": aliased(500)}))
    assert error["extensions"]["code"] == "TOO_MANY_ALIASES"
    assert "uses 500 aliases; at most 50" in error["message"]
    allowed = post(client, {"query": aliased(50)})
    assert allowed.status_code == 200
    assert len(allowed.json()["data"]) == 50


def test_introspection_as_graphiql_sends_it_runs(client):
    response = post(client, {"query": get_introspection_query(descriptions=True)})
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_introspection_switched_off_is_refused_clearly(client, settings):
    settings.NEXUS_GRAPHQL_INTROSPECTION = False
    response = post(client, {"query": "{ __schema { queryType { name } } }"})
    assert response.status_code == 400
    assert "introspection has been disabled" in response.json()["errors"][0]["message"]
    assert post(client, {"query": "{ __typename }"}).status_code == 200  # clients rely on __typename


def test_too_many_mutations_in_one_request_are_refused(movielens, client):
    movie_id = to_global_id("Movie", Movie.objects.get(movielens_id=1).pk)
    mutations = " ".join(f'f{i}: addFavorite(movieId: "{movie_id}") {{ errors {{ code }} }}' for i in range(6))
    error = only_error(post(client, {"query": f"mutation {{ {mutations} }}"}))
    assert error["extensions"]["code"] == "TOO_MANY_MUTATIONS"
    assert "runs 6 mutations; at most 5" in error["message"]


def test_a_200_kb_document_is_refused_before_parsing(client):
    query = "{ __typename " + "#" * 200 * 1024 + "\n}"
    response = post(client, {"query": query})
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "DOCUMENT_TOO_LARGE"
    assert "at most 102400 bytes" in error["message"]


def test_a_large_get_query_string_is_refused(client):
    response = client.get(
        "/graphql", {"query": "{ __typename " + " " * 150 * 1024 + "}"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_TOO_LARGE"


def test_limits_come_from_settings(client, settings):
    settings.NEXUS_GRAPHQL_MAX_DEPTH = 2
    settings.NEXUS_GRAPHQL_MAX_COST = 50
    assert "at most 2 are allowed" in only_error(post(client, {"query": nested(3)}))["message"]
    error = only_error(post(client, {"query": "{ movies(first: 20) { edges { node { title } } } }"}))
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"  # validation first, then cost
    settings.NEXUS_GRAPHQL_MAX_DEPTH = 10
    error = only_error(post(client, {"query": "{ movies(first: 20) { edges { node { title } } } }"}))
    assert "would cost 61 points; at most 50 are allowed" in error["message"]


def test_a_small_batch_runs_each_operation(movielens, client):
    response = post(
        client,
        [
            {"query": "{ movie(movielensId: 1) { title } }"},
            {"query": "query($id: Int) { movie(movielensId: $id) { title } }", "variables": {"id": 2}},
            {"query": "{ nope }"},
        ],
    )
    assert response.status_code == 200
    first, second, third = response.json()
    assert first["data"]["movie"]["title"] == "Toy Story"
    assert second["data"]["movie"]["title"] == "Jumanji"
    assert third["errors"][0]["message"].startswith("Cannot query field 'nope'")
    assert first["extensions"]["cost"]["requested"] == 2


def test_a_fifty_operation_batch_is_refused(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = post(client, [{"query": "{ __typename }"}] * 50)
    assert response.status_code == 400
    error = batch_refusal(response, 50)
    assert error["extensions"]["code"] == "BATCH_TOO_LARGE"
    assert "holds 50 operations; between 1 and 10" in error["message"]


def test_a_batch_pays_for_all_its_operations(client, settings):
    settings.NEXUS_GRAPHQL_MAX_COST = 100
    page = {"query": "{ movies(first: 10) { edges { node { title year } } } }"}  # 41 points
    assert post(client, [page, page]).status_code == 200
    response = post(client, [page, page, page])
    assert response.status_code == 400
    assert "cost 123 points in all; at most 100" in batch_refusal(response, 3)["message"]


def test_batches_can_be_switched_off(client, settings):
    settings.NEXUS_GRAPHQL_MAX_BATCH = 0
    response = post(client, [{"query": "{ __typename }"}])
    assert response.status_code == 400
    assert "Batched requests are not accepted" in batch_refusal(response, 1)["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "between 1 and 10"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ('{"query": 5}', "`query` must be a string"),
        ('{"query": "{ __typename }", "variables": [1]}', "`variables` must be a JSON object"),
        ('{"query": "{ __typename }", "extensions": 3}', "`extensions` must be a JSON object"),
        ("{}", "Must provide a query string"),
    ],
)
def test_malformed_requests_get_clear_client_errors(client, body, message):
    response = post(client, body)
    assert response.status_code == 400
    error = batch_refusal(response, 2) if body == "[1, 2]" else response.json()["errors"][0]
    assert message in error["message"]
    assert error["extensions"]["code"] in {"BAD_REQUEST", "BATCH_TOO_LARGE"}


def test_a_mutation_over_get_is_refused(client):
    response = client.get("/graphql", {"query": 'mutation { revokeToken(refreshToken: "x") { revoked } }'})
    assert response.status_code == 405
    assert "must be sent with POST" in response.json()["errors"][0]["message"]


def test_deeply_nested_garbage_is_refused_without_a_server_error(client):
    response = post(client, {"query": "{ a " * 5000 + "}" * 5000})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] != "Internal server error."


# --- What costs more than its fields: password hashing and introspection -------------------------------------


def cost_of(query: str, variables: dict | None = None) -> int:
    document = parse(query)
    operation = next(definition for definition in document.definitions if hasattr(definition, "operation"))
    return operation_cost(schema=schema.graphql_schema, document=document, operation=operation, variables=variables)


def returned_fields(value) -> int:
    """How many fields an answer holds, at every level (null ones included: they were resolved too)."""
    if isinstance(value, dict):
        return sum(1 + returned_fields(item) for item in value.values())
    if isinstance(value, list):
        return sum(returned_fields(item) for item in value)
    return 0


@pytest.mark.parametrize(
    ("mutation", "hashes"),
    [
        ('register(username: "a", email: "a@example.com", password: "p") { token }', 1),
        ('tokenAuth(username: "a", password: "p") { token }', 1),
        ('deleteAccount(password: "p") { deleted }', 1),
        ('changePassword(oldPassword: "p", newPassword: "q") { token }', 2),  # checks one, hashes the other
        ('rateMovie(movieId: "TW92aWU6MQ==", score: 4) { rating { score } }', 0),
    ],
)
def test_mutations_pay_for_each_password_they_hash(settings, mutation, hashes):
    settings.NEXUS_GRAPHQL_PASSWORD_COST = 1000
    free = cost_of(f"mutation {{ {mutation} }}")
    settings.NEXUS_GRAPHQL_PASSWORD_COST = 0
    assert free - cost_of(f"mutation {{ {mutation} }}") == 1000 * hashes


def test_an_address_budget_buys_only_a_few_dozen_password_hashes_a_minute(db, client, settings):
    settings.NEXUS_RATE_LIMIT_ANON = 100_000
    login = {"query": 'mutation { tokenAuth(username: "nobody", password: "guess") { token } }'}
    with freeze_time("2026-06-01 12:00:10"):
        answered = 0
        while (response := post(client, login)).status_code != 429:
            answered += 1
            assert response.json()["extensions"]["cost"]["requested"] == 2 + settings.NEXUS_GRAPHQL_PASSWORD_COST
            assert answered < 100
    assert answered == 100_000 // (2 + settings.NEXUS_GRAPHQL_PASSWORD_COST) == 24
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { name kind fields { name args { name } } enumValues { name } } } }",
        "{ __schema { directives { name args { name } } types { inputFields { name } interfaces { name } } } }",
        "{ __schema { queryType { name } types { possibleTypes { name } } } }",
    ],
)
def test_introspection_of_the_whole_schema_costs_exactly_what_it_returns(client, query):
    response = post(client, {"query": query})
    assert response.status_code == 200
    assert response.json()["extensions"]["cost"]["requested"] == returned_fields(response.json()["data"])


@pytest.mark.parametrize(
    "query",
    [
        get_introspection_query(descriptions=True),
        '{ __type(name: "Query") { fields { name args { name type { name ofType { name ofType { name } } } } } } }',
        '{ __type(name: "Movie") { fields { type { ofType { fields { type { ofType { name } } } } } } } }',
    ],
)
def test_introspection_never_costs_less_than_what_it_returns(client, query):
    body = post(client, {"query": query}).json()
    assert "errors" not in body, body["errors"]
    assert body["extensions"]["cost"]["requested"] >= returned_fields(body["data"])


def test_graphiql_introspection_with_every_option_fits_within_the_maximum_cost(client, settings):
    # Every option GraphiQL versions may ask for; about 5,800 points for the schema of today.
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    response = post(client, {"query": query})
    assert response.status_code == 200, response.json()
    assert response.json()["extensions"]["cost"]["requested"] <= settings.NEXUS_GRAPHQL_MAX_COST


def test_fifty_aliased_introspections_are_refused_by_their_cost(db, client, django_assert_num_queries):
    one = "__schema { types { fields { args { name } } } }"
    with django_assert_num_queries(0):
        response = post(client, {"query": "{ " + " ".join(f"a{i}: {one}" for i in range(50)) + " }"})
    assert response.status_code == 400
    assert only_error(response)["extensions"]["code"] == "QUERY_TOO_COSTLY"
    single = post(client, {"query": f"{{ {one} }}"}).json()
    assert response.json()["extensions"]["cost"]["requested"] == 50 * single["extensions"]["cost"]["requested"]

    full = get_introspection_query(descriptions=True)
    selection = full[full.index("__schema") : full.index("fragment")].rstrip().removesuffix("}")
    twice = full.replace(selection, f"first: {selection} second: {selection}", 1)
    assert only_error(post(client, {"query": twice}))["extensions"]["code"] == "QUERY_TOO_COSTLY"
